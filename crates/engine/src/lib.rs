//! Touchpoint's engine: every use case once, for every front end. The HTTP server, the CLI
//! and (next) the dashboard and the portal only translate between their medium and the
//! functions here; none of them holds business logic, and this crate knows nothing of HTTP.
//!
//! - [`Node`] opens the store in the data directory, starts the single writer and the live
//!   journey index, and hands out an [`Engine`]: the handle every use case takes.
//! - [`error`] is the one error type, with the one enum of stable codes ([`Code`]) that
//!   front ends map to their own answers (HTTP statuses, CLI messages) in one place each.
//! - The use cases: [`capture`] (Segment-spec bodies into submissions for the writer),
//!   [`import`] (NDJSON and CSV files through the writer), [`read`] (projects, touchpoints, customers, failed events, volume),
//!   [`catalog`] (mapping rules with re-classification), [`privacy`] (a customer's
//!   export and erasure), [`analyses`] (journey analyses
//!   with their clock), [`listening`] (survey analyses), [`surveys`] (definitions,
//!   invitations, responses), [`kb`] (the knowledge base's articles and search), [`portal`] (the customer portal, every step a touchpoint), [`selfservice`] (the self-service report), [`respond`] (a respondent answering page by page), with
//!   the runtime pieces [`journeys`] (the live index), [`live`] (the live stream of
//!   arriving events for the dashboard) and [`tz`] (time zones), and [`brand`] (the
//!   checks of a project's brand settings).

pub mod accounts;
pub mod analyses;
pub mod backends;
pub mod brand;
pub mod capture;
pub mod catalog;
pub mod cluster;
pub mod config;
pub mod error;
pub mod import;
pub mod journeys;
pub mod kb;
pub mod listening;
pub mod live;
pub mod mail;
pub mod migrate;
pub mod portal;
pub mod privacy;
pub mod read;
pub mod respond;
pub mod selfservice;
pub mod service;
pub mod surveys;
pub mod triggers;
pub mod tz;

pub use config::Config;
pub use error::{Class, Code, Error, ItemError, Result};

use std::sync::Arc;
use touchpoint_store::bus::CommitBus;
use touchpoint_store::writer::{Writer, WriterConfig};
use touchpoint_store::{Store, StoreError};

/// What every use case can reach: the store, the single writer, the configuration and the
/// live journey index. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    /// The store (reads go straight to it; writes go through the writer).
    pub store: Arc<dyn Store>,
    /// The single writer.
    pub writer: Writer,
    /// The configuration.
    pub config: Arc<Config>,
    /// The live journey index.
    pub journeys: Arc<journeys::Journeys>,
    /// Every commit of the writer, for whoever subscribes (the journey index, the live
    /// streams; triggers next).
    pub bus: Arc<CommitBus>,
    /// The live streams this node serves ([`live::open`]), bounded by `live_streams`.
    pub live: Arc<live::Streams>,
    /// Tells the trigger tasks that rules changed or firings are due.
    pub triggers: Arc<TriggerSignals>,
    /// The knowledge base's search indexes.
    pub kb: Arc<kb::Indexes>,
    /// This node's part in a cluster of nodes on one PostgreSQL + ClickHouse deployment
    /// (`None`: it is alone).
    pub cluster: Option<Arc<cluster::Role>>,
    /// The SMTP sender every e-mail goes through (rules' messages, invitations, sign-in
    /// links, replies), made at its first use ([`mail::mailer`]): one pool of connections,
    /// the certificate authorities read once.
    mailer: Arc<std::sync::OnceLock<std::result::Result<touchpoint_act::email::send::Mailer, String>>>,
}

/// What the trigger use cases tell the trigger tasks ([`triggers::decider`],
/// [`triggers::deliver`]).
#[derive(Debug, Default)]
pub struct TriggerSignals {
    /// Counts rule changes (created, changed, paused, resumed): the decider reads the
    /// rules again before its next decision whenever it differs from what it read.
    pub version: std::sync::atomic::AtomicU64,
    /// Firings were decided or replayed.
    pub wake: tokio::sync::Notify,
}

impl Engine {
    /// Tell the decider to read the rules again.
    pub fn triggers_changed(&self) {
        self.triggers.version.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Tell the delivery loop to look at the outbox now.
    pub fn triggers_wake(&self) {
        self.triggers.wake.notify_one();
    }
}

/// Commits the journey index's queue holds before it falls behind and catches up from the
/// store (a group commit holds up to thousands of events).
const JOURNEY_QUEUE_COMMITS: usize = 4096;

/// An engine whose store is open and whose writer runs: what `serve`, `demo`, `import`
/// and the catalog commands open, use through [`Node::engine`], and [`Node::close`].
pub struct Node {
    engine: Engine,
    writer_task: tokio::task::JoinHandle<()>,
    /// Folds commits into the journey index; `None` for a bulk load ([`Node::open_bulk`]).
    ticker: Option<tokio::task::JoinHandle<()>>,
    /// Takes commits off the bus into the journey index's queue; `None` for a bulk load.
    follower: Option<tokio::task::JoinHandle<()>>,
    /// The trigger tasks, once started ([`Node::start_triggers`]).
    triggers: Option<Triggers>,
    /// A cluster node's task that ends on `cluster_stop` ([`cluster`]): answering relayed
    /// commands (the writing node), or following the notices (the others).
    cluster: Option<tokio::task::JoinHandle<()>>,
    /// The writing node's publisher of its commits, which ends with the bus.
    publisher: Option<tokio::task::JoinHandle<()>>,
    /// Stops the cluster tasks that do not end with the writer.
    cluster_stop: tokio::sync::watch::Sender<bool>,
}

/// The running trigger tasks.
struct Triggers {
    decider: tokio::task::JoinHandle<()>,
    deliver: tokio::task::JoinHandle<()>,
    health: tokio::task::JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Node {
    /// Open the configured store ([`backends`]: the embedded store in the data directory,
    /// or the metadata on PostgreSQL with the events there) and start the writer.
    pub async fn open(config: Config) -> Result<Node, StoreError> {
        let window = (config.dedup_window > 0).then_some(config.dedup_window);
        let (store, role) = backends::open_node_store(&config, window).await?;
        Node::start(config, store, true, role).await
    }

    /// Open for a bulk load that nothing reads while it runs (`touchpoint import`): the
    /// journey index is not fed commit by commit but built once by [`Node::close`], from
    /// the journey files and the events stored after them (an import without the live
    /// index measured 0.96 of the time in paired runs).
    pub async fn open_bulk(config: Config) -> Result<Node, StoreError> {
        // A bulk load checks every stored event: the same file imported twice never
        // stores anything twice, however large the store.
        let store = backends::open_store(&config, None).await?;
        Node::bulk_with_store(config, store).await
    }

    /// [`Node::open_bulk`] on a store that is already open.
    pub async fn bulk_with_store(config: Config, store: Arc<dyn Store>) -> Result<Node, StoreError> {
        Node::start(config, store, false, None).await
    }

    /// Start the writer on a store that is already open.
    pub async fn with_store(config: Config, store: Arc<dyn Store>) -> Result<Node, StoreError> {
        Node::start(config, store, true, None).await
    }

    /// Start a cluster node on a store that is already open, in `role`
    /// ([`backends::open_node_store`] says which).
    pub async fn in_cluster(config: Config, store: Arc<dyn Store>, role: cluster::Role) -> Result<Node, StoreError> {
        Node::start(config, store, true, Some(role)).await
    }

    async fn start(
        config: Config,
        store: Arc<dyn Store>,
        live: bool,
        role: Option<cluster::Role>,
    ) -> Result<Node, StoreError> {
        // The traits customers are searched by get their indexes (made once).
        let searchable = config.searchable_traits();
        if !searchable.is_empty() {
            store.index_traits(&searchable).await?;
        }
        // A relaying node loads its index no further than the writing node says is
        // committed in full, and follows the notices after that.
        let position = match &role {
            Some(cluster::Role::Relaying(meta, _)) => Some(meta.log_position().await?),
            _ => None,
        };
        // A relaying node keeps no journey files: it may share its data directory with the
        // writing node (both on one machine), and loads from the events at start.
        let dir = position.is_none().then(|| config.data_dir.join("journeys"));
        let journeys = Arc::new(match (live, position) {
            (true, Some((_, upto))) => journeys::Journeys::open_upto(store.clone(), dir, upto.unwrap_or(0)).await?,
            (true, None) => journeys::Journeys::open(store.clone(), dir).await?,
            (false, _) => journeys::Journeys::empty(store.clone(), dir)?,
        });
        if let Some(cluster::Role::Writer(meta, _)) = &role {
            // What the relaying nodes may load: everything stored now (the writer's store
            // finished what a write cut short when it opened).
            let upto = journeys.loaded_max();
            if upto > 0 {
                meta.log_publish(&touchpoint_store::relay::Notice { upto: Some(upto), ..Default::default() }).await?;
            }
        }
        // Every commit goes on the bus; the live journey index follows it with a queue of
        // its own (a bulk load's index is built at its end instead).
        let bus = CommitBus::new();
        let follower = live.then(|| journeys.spawn_follower(bus.subscribe("journeys", JOURNEY_QUEUE_COMMITS)));
        let writer_config = WriterConfig {
            queue_events: config.queue_events,
            max_group_events: config.max_group_events,
            failed: config.failed_quota(),
            max_touchpoints: config.max_touchpoints,
        };
        let mut publisher = None;
        let (writer, writer_task) = match &role {
            Some(cluster::Role::Relaying(meta, _)) => {
                let relay = touchpoint_store_postgres::cluster::PgRelay::new(meta).await?;
                Writer::relayed(store.clone(), writer_config, Arc::new(relay))
            }
            Some(cluster::Role::Writer(meta, _)) => {
                publisher =
                    Some(cluster::publish_commits(meta.clone(), bus.subscribe("cluster", JOURNEY_QUEUE_COMMITS)));
                Writer::start(store.clone(), writer_config, Some(bus.clone())).await?
            }
            None => Writer::start(store.clone(), writer_config, Some(bus.clone())).await?,
        };
        let ticker = live.then(|| journeys.spawn_ticker());
        let live = Arc::new(live::Streams::new(config.live_streams));
        let triggers = Arc::new(TriggerSignals::default());
        let engine = Engine {
            store,
            writer,
            config: Arc::new(config),
            journeys,
            bus,
            live,
            triggers,
            kb: Default::default(),
            cluster: role.clone().map(Arc::new),
            mailer: Default::default(),
        };
        let (cluster_stop, stop) = tokio::sync::watch::channel(false);
        let cluster = role.map(|role| match role {
            cluster::Role::Writer(meta, _) => cluster::serve_relay(engine.clone(), meta, stop),
            cluster::Role::Relaying(meta, _) => {
                cluster::follow(engine.clone(), meta, position.map_or(0, |(p, _)| p), stop)
            }
        });
        Ok(Node { engine, writer_task, ticker, follower, triggers: None, cluster, cluster_stop, publisher })
    }

    /// Start acting on trigger rules: the decider (on the commit bus) and the delivery
    /// loop. Only the process that serves does this (`serve`, `demo`), so a command run
    /// beside it never sends a message.
    pub fn start_triggers(&mut self) {
        // In a cluster only the writing node acts: it sees every commit, and one node
        // decides each firing.
        if self.engine.cluster.as_deref().is_some_and(|r| !r.writes()) {
            return;
        }
        if self.triggers.is_none() {
            let (stop, rx) = tokio::sync::watch::channel(false);
            let decider = triggers::decider::spawn(self.engine.clone(), rx.clone());
            let deliver = triggers::deliver::spawn(self.engine.clone(), rx.clone());
            let health = triggers::health::spawn(self.engine.clone(), rx);
            self.triggers = Some(Triggers { decider, deliver, health, stop });
        }
    }

    /// The engine, for use cases (and for loading data before serving).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Stop: finish queued writes, then write the journey files so the next start is
    /// quick. Every clone of the engine must be dropped first: the writer stops when its
    /// last handle goes.
    pub async fn close(self) -> Result<(), StoreError> {
        let Node { engine, writer_task, ticker, follower, triggers, cluster, cluster_stop, publisher } = self;
        // Live streams end first: nothing waits for a dashboard that is still open.
        engine.live.shut_down();
        // The trigger tasks hold engine clones, so they stop before the writer can: the
        // decider writes its cursor (commits after it are decided at the next start), the
        // delivery loop lets what it is sending finish.
        let decider = triggers.map(|t| {
            let _ = t.stop.send(true);
            (t.decider, t.deliver, t.health)
        });
        if let Some((decider, deliver, health)) = decider {
            let _ = decider.await;
            let _ = health.await;
            let _ = tokio::time::timeout(std::time::Duration::from_secs(6), deliver).await;
        }
        // The cluster tasks hold engine clones too: the relay answers what it took, the
        // follower ends; the commit publisher ends with the bus, after the writer.
        let _ = cluster_stop.send(true);
        if let Some(t) = cluster {
            let _ = t.await;
        }
        let journeys = engine.journeys.clone();
        drop(engine);
        let _ = writer_task.await;
        if let Some(p) = publisher {
            let _ = p.await;
        }
        // The writer is gone, and with it the bus: the follower takes what is left and ends.
        if let Some(f) = follower {
            let _ = f.await;
        }
        match ticker {
            Some(ticker) => {
                ticker.abort();
                journeys.save_all().await?;
            }
            None => journeys.load_and_save_all().await?,
        }
        Ok(())
    }
}

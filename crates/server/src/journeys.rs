//! The server's live journey index: loaded from the store at start-up, fed by the writer
//! after every commit, folded into a new snapshot every 250 ms (so an acknowledged event is
//! in every analysis within a second), and reloaded for a project whose touchpoints were
//! re-classified.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use touchpoint_analytics::index::{LiveIndex, Point, EPOCH_S};
use touchpoint_analytics::{Dictionary, JourneySet, Tp};
use touchpoint_core::{CustomerId, IdentityOp, ProjectId};
use touchpoint_store::writer::CommitObserver;
use touchpoint_store::{now_ms, CommitBatch, Store, StoreError};

/// How often the delta is folded in.
pub const TICK: std::time::Duration = std::time::Duration::from_millis(250);

#[derive(Default)]
struct Incoming {
    /// (project, event id, customer, ms, store touchpoint id)
    points: Vec<(ProjectId, i64, CustomerId, i64, i64)>,
    merges: Vec<(CustomerId, CustomerId)>,
}

/// The live index and what feeds it.
pub struct Journeys {
    /// The index queries read.
    pub index: LiveIndex,
    store: Arc<dyn Store>,
    incoming: Mutex<Incoming>,
    /// Per project, the last event id the loaded snapshot already holds.
    loaded_upto: Mutex<HashMap<ProjectId, i64>>,
    /// Serializes ticks and reloads.
    busy: tokio::sync::Mutex<()>,
}

/// A project's dictionary (touchpoints in id order, so new ones append) and the map from
/// store touchpoint ids to dictionary indexes.
pub async fn dictionary(store: &dyn Store, project: ProjectId) -> Result<(Dictionary, HashMap<i64, Tp>), StoreError> {
    let tps = store.touchpoints(project).await?;
    let stages =
        store.project(project).await?.map(|p| p.stages.into_iter().map(|s| s.key).collect()).unwrap_or_default();
    let ids = tps.iter().enumerate().map(|(i, t)| (t.id, i as Tp)).collect();
    Ok((Dictionary { touchpoints: tps.into_iter().map(|t| t.touchpoint).collect(), stages }, ids))
}

/// Load a project's journeys from the store; returns the set, its dictionary, the id map and
/// the last event id read.
pub async fn load(
    store: &dyn Store,
    project: ProjectId,
) -> Result<(JourneySet, Dictionary, HashMap<i64, Tp>, i64), StoreError> {
    let (dict, ids) = dictionary(store, project).await?;
    let merged: HashMap<CustomerId, CustomerId> = store.merged_customers(project).await?.into_iter().collect();
    let mut events: Vec<(CustomerId, i64, Tp)> = Vec::new();
    let mut after = 0;
    loop {
        let page = store.scan_points(project, after, 200_000).await?;
        let Some(last) = page.last() else { break };
        after = last.0;
        events.reserve(page.len());
        for (_, customer, ts, tp_id) in page {
            if let Some(&tp) = ids.get(&tp_id) {
                let c = merged.get(&customer).copied().unwrap_or(customer);
                events.push((c, ts.div_euclid(1000), tp));
            }
        }
    }
    Ok((JourneySet::from_events(EPOCH_S, events), dict, ids, after))
}

impl Journeys {
    /// Load every project.
    pub async fn open(store: Arc<dyn Store>) -> Result<Journeys, StoreError> {
        let j = Journeys {
            index: LiveIndex::new(),
            store,
            incoming: Mutex::default(),
            loaded_upto: Mutex::default(),
            busy: tokio::sync::Mutex::new(()),
        };
        for p in j.store.projects().await? {
            j.reload_now(p.id).await?;
        }
        Ok(j)
    }

    async fn reload_now(&self, project: ProjectId) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let (set, dict, ids, upto) = load(&*self.store, project).await?;
        tracing::info!(
            project,
            events = set.event_count(),
            customers = set.customer_count(),
            bytes = set.resident_bytes(),
            ms = started.elapsed().as_millis() as u64,
            "journey index loaded"
        );
        self.index.install(project, set, dict, ids, now_ms());
        self.loaded_upto.lock().expect("lock").insert(project, upto);
        Ok(())
    }

    /// Reload a project from the store (after its events were re-classified).
    pub async fn reload(&self, project: ProjectId) -> Result<(), StoreError> {
        let _busy = self.busy.lock().await;
        self.reload_now(project).await
    }

    /// Re-read a project's touchpoints (names, stages, flags changed or added).
    pub async fn refresh_dictionary(&self, project: ProjectId) -> Result<(), StoreError> {
        let (dict, ids) = dictionary(&*self.store, project).await?;
        self.index.set_dictionary(project, dict, ids);
        Ok(())
    }

    /// Fold what arrived into the snapshots.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        let _busy = self.busy.lock().await;
        let incoming = std::mem::take(&mut *self.incoming.lock().expect("lock"));
        if incoming.points.is_empty() && incoming.merges.is_empty() {
            return Ok(0);
        }
        let mut by_project: HashMap<ProjectId, Vec<Point>> = HashMap::new();
        let upto = self.loaded_upto.lock().expect("lock").clone();
        for (project, id, customer, ms, tp_id) in incoming.points {
            if !self.index.has(project) {
                // A project created after start-up: it had no events before this server.
                self.index.install(
                    project,
                    JourneySet::from_events(EPOCH_S, []),
                    Dictionary::default(),
                    HashMap::new(),
                    now_ms(),
                );
                self.refresh_dictionary(project).await?;
            }
            if upto.get(&project).is_some_and(|&u| id <= u) {
                continue;
            }
            let tp = match self.index.tp_of(project, tp_id) {
                Some(tp) => tp,
                None => {
                    self.refresh_dictionary(project).await?;
                    match self.index.tp_of(project, tp_id) {
                        Some(tp) => tp,
                        None => continue,
                    }
                }
            };
            by_project.entry(project).or_default().push(Point { customer, time_s: ms.div_euclid(1000), tp });
        }
        let mut projects: Vec<ProjectId> = by_project.keys().copied().collect();
        if !incoming.merges.is_empty() {
            projects = self.store.projects().await?.into_iter().map(|p| p.id).collect();
        }
        for p in projects {
            let points = by_project.remove(&p).unwrap_or_default();
            self.index.add(p, &points, &incoming.merges);
        }
        Ok(self.index.compact(now_ms()))
    }

    /// Tick every [`TICK`] until the returned task is aborted.
    pub fn spawn_ticker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(TICK);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = me.tick().await {
                    tracing::error!(error = %e, "journey index update failed");
                }
            }
        })
    }
}

impl CommitObserver for Journeys {
    fn committed(&self, batch: &CommitBatch, inserted: &[Option<i64>]) {
        let mut inc = self.incoming.lock().expect("lock");
        for op in &batch.identity_ops {
            if let IdentityOp::Merge { from, into } = op {
                inc.merges.push((*from, *into));
            }
        }
        for (e, id) in batch.events.iter().zip(inserted) {
            if let (Some(id), Some(tp)) = (id, e.touchpoint) {
                inc.points.push((e.project, *id, e.customer, e.event.timestamp, tp));
            }
        }
    }
}

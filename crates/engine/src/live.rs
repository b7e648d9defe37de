//! The live stream of a project's arriving events, for the dashboard: every event the
//! writer acknowledges is summed into a *tick* about once a second, so that an
//! acknowledged event is on screen within two seconds without a reload.
//!
//! A stream ([`open`]) subscribes to the commit bus ([`touchpoint_store::bus`]) with a
//! small queue of its own ([`QUEUE_COMMITS`]) and hands its commits to a task that only
//! counts: it keeps, for the current second, the number of new events of its project
//! (duplicates — `inserted` is `None` — are not counted, nor are other projects' events),
//! the count per touchpoint and the newest [`MAX_SAMPLES`] events. When something
//! arrived it sends a [`Tick`], at most one per [`TICK`] (at once when the last message is
//! a tick old, so a lone event is on screen as soon as it is committed); when nothing did,
//! an empty one as a heartbeat every [`HEARTBEAT`] (and one at once when the stream opens,
//! so a client knows it is live). The front end reads them with [`LiveStream::next`].
//!
//! **A slow client never slows ingest, nor holds memory.** The bus never waits for a
//! subscriber; the task drains the bus queue as commits come, whatever the client does,
//! so it holds no commit (nor the events inside) longer than it takes to count it. What
//! waits for the client is at most [`OUT_MESSAGES`] finished messages; while they wait,
//! the task keeps summing into the open window (the next tick then covers more than a
//! second: `since_ms` says from when). If the task itself falls behind the bus (its queue
//! full), it sends a [`Lagged`] with how many commits it missed, and the stream goes on:
//! the events of those commits are not in any tick.
//!
//! **Touchpoints and channels.** The writer classifies every event before its commit, so
//! a commit's `NewEvent::touchpoint` already holds the store id of the event's touchpoint
//! (none for identify, group and alias calls, and for kinds stored unclassified past the
//! project's touchpoint cap). The task names it when it makes a tick, from the live
//! journey index's dictionary — which the touchpoint routes refresh, so a channel
//! changed a moment ago shows — and, for a touchpoint discovered so recently that the
//! index has not seen it, from the store (read at most every [`FALLBACK_EVERY`]). Events
//! without a touchpoint count in `events` but in no channel of `by_channel`.
//!
//! **Bounded.** A node serves at most `live_streams` streams at once ([`Streams`], from the
//! configuration; 64 by default); past it [`open`] answers [`Code::TooManyStreams`]. A
//! stream ends when its [`LiveStream`] is dropped (the client went away): the task sees
//! its receiver closed, ends, and drops its subscription, which the bus removes on its
//! next publish; the stream's place is free again. [`Streams::shut_down`] ends every
//! stream (the server does so when it stops, so open streams do not hold its shutdown).

use crate::error::{Code, Error};
use crate::Engine;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use touchpoint_core::{Channel, CustomerId, EventType, ProjectId};
use touchpoint_store::bus::{Commit, Delivery, Subscription};
use touchpoint_store::{now_ms, Store};

/// Commits a stream's bus queue holds: the task drains it as commits come, so it fills
/// only when the task cannot run; then the stream sends [`Lagged`].
pub const QUEUE_COMMITS: usize = 256;
/// Finished messages waiting for the client; past them the task keeps summing instead.
pub const OUT_MESSAGES: usize = 4;
/// At most one tick per this long (when something arrived).
pub const TICK: Duration = Duration::from_secs(1);
/// An empty tick is sent when nothing was sent for this long.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// Newest events a tick carries at most.
pub const MAX_SAMPLES: usize = 20;
/// The store's touchpoints are read for names the journey index does not know yet at
/// most this often per stream.
pub const FALLBACK_EVERY: Duration = Duration::from_secs(5);
/// Live streams a node serves at once unless configured (`live_streams`).
pub const DEFAULT_MAX_STREAMS: usize = 64;

/// One summary of what arrived: the `tick` message.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = LiveTick)]
pub struct Tick {
    /// When the counting for this tick began (the previous tick), ms since the epoch.
    pub since_ms: i64,
    /// When this tick was made, ms since the epoch.
    pub at_ms: i64,
    /// New events of the project committed from `since_ms` to `at_ms` (duplicates of
    /// stored events are not counted); 0 in a heartbeat.
    pub events: u64,
    /// Of those, how many by the channel of their touchpoint (`web`, `email`, …); events
    /// with no touchpoint (identify, group, alias) are in no channel.
    #[schema(value_type = Object)]
    pub by_channel: BTreeMap<Channel, u64>,
    /// The newest of those events (at most 20), newest first.
    pub samples: Vec<Sample>,
}

/// One event in a tick.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = LiveEvent)]
pub struct Sample {
    /// The event's id in the store.
    pub id: i64,
    /// When the server received it, ms since the epoch.
    pub received_ms: i64,
    /// When it happened (its timestamp after clock-skew correction), ms since the epoch.
    pub timestamp_ms: i64,
    /// `track`, `page`, `screen`, `identify`, `group` or `alias`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: EventType,
    /// The track event's name, or the page's or screen's name.
    pub name: Option<String>,
    /// The key of its touchpoint, when it has one.
    pub touchpoint: Option<String>,
    /// Its touchpoint's channel, when it has a touchpoint.
    #[schema(value_type = Option<String>)]
    pub channel: Option<Channel>,
    /// Who sent it.
    pub customer: SampleCustomer,
}

/// The customer of an event in a tick.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = LiveCustomer)]
pub struct SampleCustomer {
    /// The customer the event was attributed to when it arrived (`/api/customers/{id}`).
    pub id: CustomerId,
    /// The anonymous id the event was sent with.
    pub anonymous_id: Option<String>,
    /// The user id the event was sent with.
    pub user_id: Option<String>,
}

/// The stream fell behind the bus: the `lagged` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = LiveLagged)]
pub struct Lagged {
    /// When it was sent, ms since the epoch.
    pub at_ms: i64,
    /// Commits (group commits of any number of events) that were not counted; the ticks
    /// go on from the next one.
    pub missed_commits: u64,
}

/// What a stream sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A summary of what arrived (or a heartbeat).
    Tick(Tick),
    /// Commits were missed.
    Lagged(Lagged),
}

impl Message {
    /// The message's name: `tick` or `lagged` (the SSE `event:`).
    pub fn name(&self) -> &'static str {
        match self {
            Message::Tick(_) => "tick",
            Message::Lagged(_) => "lagged",
        }
    }
}

/// The live streams of a node: how many are open, how many may be, and the signal that
/// ends them all.
#[derive(Debug)]
pub struct Streams {
    /// Streams open now.
    open: AtomicUsize,
    /// Streams that may be open at once.
    max: usize,
    /// True once the node is stopping.
    closing: watch::Sender<bool>,
}

impl Streams {
    /// Room for `max` streams.
    pub fn new(max: usize) -> Streams {
        Streams { open: AtomicUsize::new(0), max, closing: watch::Sender::new(false) }
    }

    /// Streams open now.
    pub fn open_now(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Streams that may be open at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// End every stream, and open no more (the node is stopping).
    pub fn shut_down(&self) {
        self.closing.send_replace(true);
    }

    /// A place for one more stream, if there is one.
    fn take(self: &Arc<Self>) -> Result<Place, Error> {
        if *self.closing.borrow() {
            return Err(Error::overloaded(5, "the server is stopping; open the live stream again in a moment"));
        }
        self.open.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < self.max).then_some(n + 1)).map_err(
            |_| Error {
                retry_after: Some(5),
                ..Error::new(
                    Code::TooManyStreams,
                    format!(
                        "this server serves at most {} live streams at once (live_streams) and that many are \
                         open; close one (another dashboard tab) or retry shortly",
                        self.max
                    ),
                )
            },
        )?;
        Ok(Place(self.clone()))
    }
}

/// One stream's place among the node's [`Streams`], given back when dropped.
#[derive(Debug)]
struct Place(Arc<Streams>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The client's end of a live stream. Dropping it ends the stream.
#[derive(Debug)]
pub struct LiveStream {
    rx: mpsc::Receiver<Message>,
}

impl LiveStream {
    /// The next message; `None` when the stream ended (the node is stopping).
    pub async fn next(&mut self) -> Option<Message> {
        self.rx.recv().await
    }
}

/// Open the live stream of `project`: from the next commit on. Fails with
/// [`Code::TooManyStreams`] when the node serves as many as it may, and `not_found` for a
/// project that does not exist.
pub async fn open(engine: &Engine, project: ProjectId) -> Result<LiveStream, Error> {
    let place = engine.live.take()?;
    if engine.store.project(project).await?.is_none() {
        return Err(Error::not_found(format!("project {project} not found")));
    }
    let sub = engine.bus.subscribe(&format!("live:{project}"), QUEUE_COMMITS);
    let (tx, rx) = mpsc::channel(OUT_MESSAGES);
    let names = Names {
        project,
        journeys: engine.journeys.clone(),
        store: engine.store.clone(),
        fallback: HashMap::new(),
        fallback_read: None,
    };
    let closing = engine.live.closing.subscribe();
    tokio::spawn(follow(project, sub, tx, names, closing, place));
    Ok(LiveStream { rx })
}

/// The stream's task: count commits as they come; send what was counted at most once a
/// [`TICK`] — at once when the previous message is a tick old, so a lone event is not held
/// back — or a heartbeat after [`HEARTBEAT`] of quiet, when the client has room for it;
/// end when the client is gone, the bus is gone or the node stops.
async fn follow(
    project: ProjectId,
    mut sub: Subscription,
    tx: mpsc::Sender<Message>,
    mut names: Names,
    mut closing: watch::Receiver<bool>,
    _place: Place,
) {
    let mut window = Window::new(now_ms());
    let mut missed: u64 = 0;
    // When the clock last fired; `None` at first, so the greeting goes at once.
    let mut last: Option<tokio::time::Instant> = None;
    loop {
        let wait = if window.is_empty() && missed == 0 { HEARTBEAT } else { TICK };
        let due = last.map_or_else(tokio::time::Instant::now, |t| t + wait);
        tokio::select! {
            biased;
            _ = tx.closed() => return,
            // (The guard `wait_for` gives is not `Send`: dropped inside.)
            _ = async { closing.wait_for(|c| *c).await.map(|_| ()) } => return,
            // Before the bus, so that a busy bus cannot starve the clock.
            _ = tokio::time::sleep_until(due) => {
                last = Some(tokio::time::Instant::now());
                if missed > 0 && tx.capacity() > 0 {
                    let m = Message::Lagged(Lagged { at_ms: now_ms(), missed_commits: missed });
                    if tx.try_send(m).is_ok() {
                        missed = 0;
                    }
                }
                // A client without room gets it all in a later tick.
                if tx.capacity() > 0 {
                    let at = now_ms();
                    let finished = std::mem::replace(&mut window, Window::new(at));
                    let named = names.resolve(finished.touchpoints()).await;
                    if tx.try_send(Message::Tick(finished.finish(at, &named))).is_err() {
                        return;
                    }
                }
            }
            d = sub.recv() => match d {
                Some(Delivery::Commit(c)) => window.take(project, &c),
                Some(Delivery::Lagged { missed: n, .. }) => missed += n,
                None => return,
            },
        }
    }
}

/// What the task keeps for the tick being made.
#[derive(Debug)]
struct Window {
    /// When it began, ms since the epoch.
    since_ms: i64,
    /// New events of the project.
    events: u64,
    /// Of those, by store touchpoint id (`None`: no touchpoint).
    by_touchpoint: HashMap<Option<i64>, u64>,
    /// The newest of those events, oldest first; at most [`MAX_SAMPLES`].
    samples: VecDeque<Pending>,
}

/// A sample whose touchpoint is not named yet.
#[derive(Debug)]
struct Pending {
    /// The sample, without its touchpoint and channel.
    sample: Sample,
    /// Its store touchpoint id.
    touchpoint_id: Option<i64>,
}

impl Window {
    fn new(since_ms: i64) -> Window {
        Window { since_ms, events: 0, by_touchpoint: HashMap::new(), samples: VecDeque::new() }
    }

    fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Count a commit's new events of `project`.
    fn take(&mut self, project: ProjectId, commit: &Commit) {
        let mut newest: Vec<Pending> = Vec::new();
        for (e, id) in commit.batch.events.iter().zip(&commit.inserted).rev() {
            let Some(id) = *id else { continue };
            if e.project != project {
                continue;
            }
            self.events += 1;
            *self.by_touchpoint.entry(e.touchpoint).or_default() += 1;
            if newest.len() < MAX_SAMPLES {
                let ev = &e.event;
                newest.push(Pending {
                    sample: Sample {
                        id,
                        received_ms: ev.received_at,
                        timestamp_ms: ev.timestamp,
                        kind: ev.kind,
                        name: ev.name.clone(),
                        touchpoint: None,
                        channel: None,
                        customer: SampleCustomer {
                            id: e.customer,
                            anonymous_id: ev.anonymous_id.clone(),
                            user_id: ev.user_id.clone(),
                        },
                    },
                    touchpoint_id: e.touchpoint,
                });
            }
        }
        for p in newest.into_iter().rev() {
            if self.samples.len() == MAX_SAMPLES {
                self.samples.pop_front();
            }
            self.samples.push_back(p);
        }
    }

    /// The store touchpoint ids the tick will name.
    fn touchpoints(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.by_touchpoint.keys().flatten().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The tick, with touchpoints named by `names` (a touchpoint missing there is in no
    /// channel).
    fn finish(self, at_ms: i64, names: &HashMap<i64, (String, Channel)>) -> Tick {
        let mut by_channel = BTreeMap::new();
        for (tp, n) in &self.by_touchpoint {
            if let Some((_, channel)) = tp.and_then(|id| names.get(&id)) {
                *by_channel.entry(*channel).or_default() += n;
            }
        }
        let samples = self
            .samples
            .into_iter()
            .rev()
            .map(|p| {
                let named = p.touchpoint_id.and_then(|id| names.get(&id));
                Sample {
                    touchpoint: named.map(|(key, _)| key.clone()),
                    channel: named.map(|(_, channel)| *channel),
                    ..p.sample
                }
            })
            .collect();
        Tick { since_ms: self.since_ms, at_ms, events: self.events, by_channel, samples }
    }
}

/// Names store touchpoint ids: the journey index's dictionary first, then the store.
struct Names {
    project: ProjectId,
    journeys: Arc<crate::journeys::Journeys>,
    store: Arc<dyn Store>,
    /// Touchpoints read from the store, for ids the index did not know.
    fallback: HashMap<i64, (String, Channel)>,
    /// When the store was last read for them.
    fallback_read: Option<Instant>,
}

impl Names {
    /// Key and channel of each id that has them.
    async fn resolve(&mut self, ids: Vec<i64>) -> HashMap<i64, (String, Channel)> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut unknown = vec![];
        let dict = self.journeys.index.snapshot(self.project).map(|s| s.dict);
        for id in ids {
            let known = self
                .journeys
                .index
                .tp_of(self.project, id)
                .and_then(|tp| dict.as_ref()?.touchpoints.get(tp as usize))
                .map(|t| (t.key.clone(), t.channel))
                .or_else(|| self.fallback.get(&id).cloned());
            match known {
                Some(k) => {
                    out.insert(id, k);
                }
                None => unknown.push(id),
            }
        }
        if !unknown.is_empty() && self.fallback_read.is_none_or(|t| t.elapsed() >= FALLBACK_EVERY) {
            self.fallback_read = Some(Instant::now());
            match self.store.touchpoints(self.project).await {
                Ok(tps) => {
                    self.fallback = tps.into_iter().map(|t| (t.id, (t.touchpoint.key, t.touchpoint.channel))).collect();
                    for id in unknown {
                        if let Some(k) = self.fallback.get(&id) {
                            out.insert(id, k.clone());
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, project = self.project, "live stream: reading touchpoints"),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use touchpoint_core::Event;
    use touchpoint_store::{CommitBatch, NewEvent};

    fn event(project: ProjectId, name: &str, tp: Option<i64>) -> NewEvent {
        let body = serde_json::json!({"type": "track", "event": name, "anonymousId": "a-1", "messageId": name});
        let cx = touchpoint_core::event::ParseContext { received_at: 1_000, ..Default::default() };
        let event = Event::parse(body, &cx, &Default::default()).unwrap();
        NewEvent { project, event, customer: 7, touchpoint: tp }
    }

    fn commit(events: Vec<NewEvent>, inserted: Vec<Option<i64>>) -> Commit {
        Commit { seq: 1, batch: CommitBatch { events, ..Default::default() }, inserted }
    }

    /// A tick counts the project's new events only: not duplicates, not other projects'.
    #[test]
    fn a_tick_counts_new_events_of_its_project() {
        let mut w = Window::new(500);
        w.take(
            1,
            &commit(
                vec![event(1, "Viewed", Some(10)), event(2, "Elsewhere", Some(10)), event(1, "Again", Some(11))],
                vec![Some(100), Some(101), None],
            ),
        );
        w.take(1, &commit(vec![event(1, "Signed Up", None)], vec![Some(102)]));
        assert_eq!(w.touchpoints(), vec![10]);
        let names = HashMap::from([(10, ("track:Viewed".to_string(), Channel::Web))]);
        let t = w.finish(1_500, &names);
        assert_eq!((t.since_ms, t.at_ms, t.events), (500, 1_500, 2));
        assert_eq!(t.by_channel, BTreeMap::from([(Channel::Web, 1)]));
        let got: Vec<_> = t.samples.iter().map(|s| (s.id, s.name.as_deref(), s.touchpoint.as_deref())).collect();
        assert_eq!(got, vec![(102, Some("Signed Up"), None), (100, Some("Viewed"), Some("track:Viewed"))]);
        assert_eq!(t.samples[1].channel, Some(Channel::Web));
        assert_eq!(t.samples[1].customer, SampleCustomer { id: 7, anonymous_id: Some("a-1".into()), user_id: None });
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["by_channel"]["web"], 1);
        assert_eq!(json["samples"][1]["type"], "track");
    }

    /// However many events arrive, a tick keeps the newest twenty, newest first.
    #[test]
    fn a_tick_keeps_the_newest_twenty() {
        let mut w = Window::new(0);
        for round in 0..3 {
            let events: Vec<NewEvent> = (0..15).map(|i| event(1, &format!("e{}", round * 15 + i), None)).collect();
            let ids = (0..15).map(|i| Some(round * 15 + i)).collect();
            w.take(1, &commit(events, ids));
        }
        let t = w.finish(1, &HashMap::new());
        assert_eq!(t.events, 45);
        assert!(t.by_channel.is_empty(), "no touchpoint, no channel");
        let ids: Vec<i64> = t.samples.iter().map(|s| s.id).collect();
        assert_eq!(ids, (25..45).rev().collect::<Vec<_>>());
    }

    /// Places are counted, refused past the limit with the stable code, given back when
    /// dropped, and none are given once the node stops.
    #[test]
    fn places_are_bounded() {
        let s = Arc::new(Streams::new(2));
        let a = s.take().unwrap();
        let _b = s.take().unwrap();
        let e = s.take().unwrap_err();
        assert_eq!((e.code, e.retry_after), (Code::TooManyStreams, Some(5)));
        assert!(e.message.contains("at most 2 live streams"), "{}", e.message);
        drop(a);
        assert_eq!(s.open_now(), 1);
        let _c = s.take().unwrap();
        s.shut_down();
        drop(_c);
        assert_eq!(s.take().unwrap_err().code, Code::Overloaded);
    }
}

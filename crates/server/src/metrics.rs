//! Prometheus metrics at `/metrics`, in the text exposition format: events accepted,
//! rejected and deduplicated, the ingest queue's depth, commit latency, open live streams
//! and commit-bus subscribers, and HTTP requests by route and status. Plain atomics; no
//! metrics library.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use touchpoint_store::writer::COMMIT_BUCKETS;

/// HTTP-level counters.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    /// Whole requests rejected (bad body, bad event on a single-event route).
    pub rejected: AtomicU64,
    /// Requests by (route, status).
    pub requests: Mutex<BTreeMap<(String, u16), u64>>,
}

/// Middleware that counts every request by its route and status.
pub async fn count_requests(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    *s.metrics.requests.lock().expect("metrics lock").entry((route, resp.status().as_u16())).or_default() += 1;
    resp
}

/// `GET /metrics`
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let w = s.writer.stats();
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, v: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    };
    counter("touchpoint_events_accepted_total", "Events stored.", w.stored.load(Relaxed));
    counter(
        "touchpoint_events_duplicate_total",
        "Events acknowledged as duplicates and not stored again.",
        w.duplicates.load(Relaxed),
    );
    counter("touchpoint_events_failed_total", "Rejected events kept as failed events.", w.failed.load(Relaxed));
    counter(
        "touchpoint_failed_events_dropped_total",
        "Rejected events not kept because their project's failed-event quota was full.",
        w.failed_dropped.load(Relaxed),
    );
    counter(
        "touchpoint_discovery_capped_total",
        "New kinds of events stored unclassified because their project had all the touchpoints it may have.",
        w.discovery_capped.load(Relaxed),
    );
    counter(
        "touchpoint_requests_rejected_total",
        "Whole requests rejected for their content.",
        s.metrics.rejected.load(Relaxed),
    );
    counter("touchpoint_commit_errors_total", "Group commits that failed.", w.commit_errors.load(Relaxed));
    let _ = writeln!(
        out,
        "# HELP touchpoint_ingest_queue_depth Events waiting for a commit.\n# TYPE touchpoint_ingest_queue_depth gauge\ntouchpoint_ingest_queue_depth {}",
        w.queued.load(Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP touchpoint_commit_seconds Group commit latency.\n# TYPE touchpoint_commit_seconds histogram"
    );
    let mut cumulative = 0;
    for (i, bound) in COMMIT_BUCKETS.iter().enumerate() {
        cumulative += w.commit_hist[i].load(Relaxed);
        let _ = writeln!(out, "touchpoint_commit_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    cumulative += w.commit_hist[COMMIT_BUCKETS.len()].load(Relaxed);
    let _ = writeln!(out, "touchpoint_commit_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(out, "touchpoint_commit_seconds_sum {}", w.commit_us_sum.load(Relaxed) as f64 / 1e6);
    let _ = writeln!(out, "touchpoint_commit_seconds_count {}", w.commits.load(Relaxed));
    let _ = writeln!(
        out,
        "# HELP touchpoint_live_streams Live streams of arriving events open now (GET /api/live).\n# TYPE touchpoint_live_streams gauge\ntouchpoint_live_streams {}",
        s.live.open_now()
    );
    let _ = writeln!(
        out,
        "# HELP touchpoint_bus_subscribers Subscribers of the commit bus (the journey index, each live stream).\n# TYPE touchpoint_bus_subscribers gauge\ntouchpoint_bus_subscribers {}",
        s.bus.stats().len()
    );
    let _ = writeln!(out, "# HELP touchpoint_http_requests_total HTTP requests by route and status.\n# TYPE touchpoint_http_requests_total counter");
    for ((route, status), n) in s.metrics.requests.lock().expect("metrics lock").iter() {
        let _ = writeln!(out, "touchpoint_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

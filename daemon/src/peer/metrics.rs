//! The daemon's metrics (`peerd start --metrics ADDR`, off by default):
//! messages queued, delivered (by path), failed, retransmitted; punches and
//! direct paths; the paths in use by kind; the time from queueing to
//! acknowledgement as a histogram. Kept in `prometheus-client` metrics
//! (atomics inside) that the outbox updates as it carries out its core's
//! actions, and rendered by the same HTTP endpoint as the server's
//! ([`crate::metrics::MetricsServer`]) on a thread of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use peerd_shared::control::PathKind;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::core::delivery::Stats;
use crate::metrics::Source;

/// How often the path gauges are recounted (they walk every path).
const PATH_RECOUNT: Duration = Duration::from_secs(1);

/// The `path` label of delivered messages and path gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabel {
    path: &'static str,
}

fn label(path: PathKind) -> PathLabel {
    PathLabel {
        path: match path {
            PathKind::Direct => "direct",
            PathKind::Relayed => "relayed",
        },
    }
}

/// The daemon's counters; clones share them.
#[derive(Clone)]
pub struct PeerMetrics {
    registry: Arc<Registry>,
    queued: Counter,
    delivered: Family<PathLabel, Counter>,
    failed: Counter,
    retransmissions: Counter,
    punches: Counter,
    direct_paths: Counter,
    paths: Family<PathLabel, Gauge>,
    latency: Histogram,
    /// The core's totals already added, and when paths were last counted.
    seen: Arc<std::sync::Mutex<(Stats, Option<Instant>)>>,
}

impl std::fmt::Debug for PeerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerMetrics").finish_non_exhaustive()
    }
}

impl Default for PeerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl PeerMetrics {
    /// Every metric at zero, registered under `peerd_`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("peerd");
        let queued = Counter::default();
        let delivered = Family::<PathLabel, Counter>::default();
        let failed = Counter::default();
        let retransmissions = Counter::default();
        let punches = Counter::default();
        let direct_paths = Counter::default();
        let paths = Family::<PathLabel, Gauge>::default();
        // 0.5 ms to about 65 s.
        let latency = Histogram::new(exponential_buckets(0.0005, 2.0, 18));
        registry.register(
            "messages_queued",
            "Messages accepted by `send` and stored in the outbox",
            queued.clone(),
        );
        registry.register(
            "messages_delivered",
            "Messages acknowledged by their peer, by the path that carried the acknowledged try",
            delivered.clone(),
        );
        registry.register(
            "messages_failed",
            "Messages that failed (expired, unknown peer, key changed, too long to relay)",
            failed.clone(),
        );
        registry.register(
            "retransmissions",
            "Messages sent again after their first try",
            retransmissions.clone(),
        );
        registry.register(
            "punches",
            "Hole punches started (an introduction to a new address)",
            punches.clone(),
        );
        registry.register(
            "direct_paths_established",
            "Paths that became direct (a punch that succeeded, or a peer's datagram proving one)",
            direct_paths.clone(),
        );
        registry.register("paths", "Paths to peers in use now, by kind", paths.clone());
        registry.register(
            "delivery_seconds",
            "Time from queueing a message to its acknowledgement",
            latency.clone(),
        );
        for kind in [PathKind::Direct, PathKind::Relayed] {
            // Both series exist from the start, at zero.
            let _ = delivered.get_or_create(&label(kind));
            let _ = paths.get_or_create(&label(kind));
        }
        Self {
            registry: Arc::new(registry),
            queued,
            delivered,
            failed,
            retransmissions,
            punches,
            direct_paths,
            paths,
            latency,
            seen: Arc::default(),
        }
    }

    /// A message was stored for sending.
    pub fn queued(&self) {
        self.queued.inc();
    }

    /// A message was acknowledged over `path`, `elapsed_ms` after it was
    /// queued.
    pub fn delivered(&self, path: PathKind, elapsed_ms: Option<f64>) {
        self.delivered.get_or_create(&label(path)).inc();
        if let Some(ms) = elapsed_ms {
            self.latency.observe(ms / 1000.0);
        }
    }

    /// A message failed.
    pub fn failed(&self) {
        self.failed.inc();
    }

    /// Brings the core's totals in; recounts the paths at most once a
    /// second (`count` walks them).
    pub fn update(&self, stats: Stats, count: impl FnOnce() -> (usize, usize)) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        let (before, counted) = &mut *seen;
        self.retransmissions
            .inc_by(stats.retransmissions.saturating_sub(before.retransmissions));
        self.punches
            .inc_by(stats.punches.saturating_sub(before.punches));
        self.direct_paths
            .inc_by(stats.direct_paths.saturating_sub(before.direct_paths));
        *before = stats;
        let now = Instant::now();
        if counted.is_none_or(|at| now.duration_since(at) >= PATH_RECOUNT) {
            *counted = Some(now);
            let (direct, relayed) = count();
            let set = |kind, n: usize| {
                let n = i64::try_from(n).unwrap_or(i64::MAX);
                self.paths.get_or_create(&label(kind)).set(n);
            };
            set(PathKind::Direct, direct);
            set(PathKind::Relayed, relayed);
        }
    }
}

impl Source for PeerMetrics {
    fn render(&self) -> String {
        let mut text = String::with_capacity(4096);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// The endpoint runs on a thread of its own: it answers as long as the
    /// process runs.
    fn health(&self) -> Result<(), &'static str> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_added_once_and_every_family_renders() {
        let m = PeerMetrics::new();
        m.queued();
        m.delivered(PathKind::Relayed, Some(2.0));
        let stats = Stats {
            retransmissions: 3,
            punches: 1,
            direct_paths: 1,
        };
        m.update(stats, || (1, 2));
        m.update(stats, || (1, 2));
        let text = m.render();
        for line in [
            "peerd_messages_queued_total 1",
            "peerd_messages_delivered_total{path=\"relayed\"} 1",
            "peerd_messages_delivered_total{path=\"direct\"} 0",
            "peerd_retransmissions_total 3",
            "peerd_punches_total 1",
            "peerd_direct_paths_established_total 1",
            "peerd_paths{path=\"direct\"} 1",
            "peerd_paths{path=\"relayed\"} 2",
            "peerd_delivery_seconds_count 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}

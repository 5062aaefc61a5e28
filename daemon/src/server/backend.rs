//! What keeps the registry's ids and shares its presence, as the UDP loop
//! sees it: the SQLite writer thread of a single server
//! ([`super::store::Writer`]) or the cluster engine thread of a node
//! ([`super::cluster::Engine`]). Both are queues to another thread and
//! reports back; the loop hands over what the core asked for
//! ([`Backend::hand_over`]) and feeds the reports to the core
//! ([`Backend::apply`]).

use std::time::Instant;

use tracing::{error, warn};

use super::cluster::{DbItem, Engine, FromEngine};
use super::registry::Registry;
use super::reply_buffer::{Persist, ReplyBuffer};
use super::store::{Stored, Writer};

/// The thread behind the registry.
pub enum Backend {
    /// A single server: SQLite.
    Local(Writer),
    /// A cluster node: PostgreSQL and NATS.
    Cluster(Engine),
}

/// A report of the backend's thread.
pub enum Report {
    Stored(Stored),
    Engine(FromEngine),
}

impl Backend {
    /// The next report (pending forever when there is none to come).
    pub async fn next(&mut self) -> Option<Report> {
        match self {
            Backend::Local(w) => w.stored.recv().await.map(Report::Stored),
            Backend::Cluster(e) => e.events.recv().await.map(Report::Engine),
        }
    }

    /// Feeds a report to the core; its answers go to `out`.
    pub fn apply(&self, report: Report, registry: &mut Registry, out: &mut ReplyBuffer) {
        let now = Instant::now();
        match report {
            Report::Stored(done) => registry.on_durable(&done.ids, done.ok, now, out),
            Report::Engine(FromEngine::Claimed(answers)) => registry.on_claimed(&answers, now, out),
            Report::Engine(FromEngine::Bus(bytes)) => registry.on_bus(&bytes, now, out),
            Report::Engine(FromEngine::BusState(up)) => registry.on_bus_state(up, now, out),
        }
    }

    /// Hands new ids, timestamps, claims and bus messages to the thread.
    /// What cannot be queued fails at once: a new id or claim is refused
    /// (`internal`), a timestamp or a bus message is dropped.
    pub fn hand_over(&self, registry: &mut Registry, out: &mut ReplyBuffer) {
        if out.persist.is_empty() && out.claims.is_empty() && out.bus.is_empty() {
            return;
        }
        match self {
            Backend::Local(writer) => {
                let mut failed = Vec::new();
                for &item in &out.persist {
                    if let Err(e) = writer.store(item) {
                        error!("{e}");
                        if let Persist::New { id, .. } = item {
                            failed.push(id);
                        }
                    }
                }
                out.persist.clear();
                if !failed.is_empty() {
                    registry.on_durable(&failed, false, Instant::now(), out);
                }
            }
            Backend::Cluster(engine) => {
                for item in out.persist.drain(..) {
                    let item = match item {
                        Persist::Timestamp { id, ts } => DbItem::Timestamp(id, ts),
                        Persist::New { key, .. } => DbItem::Claim(key),
                    };
                    if !engine.store(item) {
                        warn!("cluster database queue full: a timestamp is not stored");
                    }
                }
                let refused: Vec<_> = out
                    .claims
                    .drain(..)
                    .filter(|key| !engine.store(DbItem::Claim(*key)))
                    .map(|key| (key, None))
                    .collect();
                let dropped = out
                    .bus
                    .drain(..)
                    .map(|m| engine.publish(m))
                    .filter(|published| !published)
                    .count();
                if dropped > 0 {
                    warn!(dropped, "cluster bus queue full: messages dropped");
                }
                if !refused.is_empty() {
                    registry.on_claimed(&refused, Instant::now(), out);
                }
            }
        }
    }

    /// Stores what is queued and stops the thread.
    pub fn close(self) {
        match self {
            Backend::Local(w) => w.close(),
            Backend::Cluster(e) => e.close(),
        }
    }
}

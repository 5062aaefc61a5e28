//! The delivery core's state, its constructor, and its timer: when it must
//! be woken ([`Delivery::poll_timeout`]) and what it does then
//! ([`Delivery::handle_timeout`]). Every input ends in `settle`, which
//! re-arms the timers of the paths it changed (serving at once a path that
//! is due already, e.g. the first PUNCH after an introduction).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use peerd_shared::PeerId;

use super::probing::PendingPing;
use super::Action;
use crate::peer::args::RelayPolicy;
use crate::peer::core::clock::{Deadlines, Now};
use crate::peer::core::path::PeerPath;
use crate::peer::core::queue::Queue;
use crate::peer::core::timers::Timers;

/// Where PUNCH nonces come from (the OS's generator in the daemon, a
/// counter in tests).
pub type Nonces = Box<dyn FnMut() -> u64>;

/// Running totals of what the core did, for the daemon's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages sent again after their first try.
    pub retransmissions: u64,
    /// Punches started (an introduction to a new address).
    pub punches: u64,
    /// Paths that became direct (a punch, or a proof before one).
    pub direct_paths: u64,
}

/// The outbox's state.
pub struct Delivery {
    /// What the core did so far ([`Delivery::stats`]).
    pub(super) stats: Stats,
    /// Own id, once known.
    pub(super) me: Option<PeerId>,
    /// Registered with the server right now (as the link last said).
    pub(super) registered: bool,
    pub(super) policy: RelayPolicy,
    /// Interval of PUNCH keepalives on direct paths in use.
    pub(super) keepalive: Duration,
    pub(super) paths: HashMap<PeerId, PeerPath>,
    /// When each path next needs attention.
    pub(super) path_timers: Timers<PeerId>,
    /// Paths the current input changed.
    pub(super) touched: Vec<PeerId>,
    pub(super) queue: Queue,
    /// Peers the server confirmed were registered at least once.
    pub(super) known: HashSet<PeerId>,
    /// Relayed peers with a CONNECT out to try a direct path again.
    pub(super) upgrading: HashSet<PeerId>,
    /// `ping`s waiting for their PUNCH_ACK.
    pub(super) pings: Vec<PendingPing>,
    pub(super) nonces: Nonces,
    pub(super) out: Vec<Action>,
}

impl Delivery {
    /// An empty outbox for `me` (the stored id, if any).
    pub fn new(
        me: Option<PeerId>,
        policy: RelayPolicy,
        keepalive: Duration,
        nonces: Nonces,
    ) -> Self {
        Self {
            stats: Stats::default(),
            me,
            registered: false,
            policy,
            keepalive,
            paths: HashMap::new(),
            path_timers: Timers::default(),
            touched: Vec::new(),
            queue: Queue::default(),
            known: HashSet::new(),
            upgrading: HashSet::new(),
            pings: Vec::new(),
            nonces,
            out: Vec::new(),
        }
    }

    /// Running totals (retransmissions, punches, direct paths).
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// How many paths are direct and how many relayed now.
    pub fn path_counts(&self) -> (usize, usize) {
        let mut counts = (0, 0);
        for path in self.paths.values() {
            match path.route() {
                Some(crate::peer::core::transport::Route::Direct(_)) => counts.0 += 1,
                Some(crate::peer::core::transport::Route::Relayed) => counts.1 += 1,
                None => {}
            }
        }
        counts
    }

    /// What to do, in order, since the last call.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    /// The path to `peer` (created unknown), marked for re-arming.
    pub(super) fn path(&mut self, peer: PeerId) -> &mut PeerPath {
        if self.touched.last() != Some(&peer) {
            self.touched.push(peer);
        }
        self.paths.entry(peer).or_default()
    }

    /// Whether the peer has messages or pings waiting.
    pub(super) fn wanted(&self, peer: PeerId) -> bool {
        self.queue.has_pending(peer) || self.pings.iter().any(|p| p.peer == peer)
    }

    /// Re-arms the timers of the paths the input changed. A path already
    /// due is served now, once; whatever it still needs waits for its timer.
    pub(super) fn settle(&mut self, now: Now) {
        let mut served = HashSet::new();
        while let Some(peer) = self.touched.pop() {
            let wanted = self.wanted(peer);
            let Some(path) = self.paths.get(&peer) else {
                continue;
            };
            match path.deadline(now.at, self.policy, self.keepalive, wanted) {
                Some(at) if at <= now.at && served.insert(peer) => self.poll_path(peer, now),
                Some(at) => self
                    .path_timers
                    .arm(peer, at.max(now.at + Duration::from_millis(1))),
                None => self.path_timers.disarm(peer),
            }
        }
    }
}

impl Deadlines for Delivery {
    fn poll_timeout(&mut self) -> Option<Instant> {
        [
            self.queue.next_deadline(),
            self.path_timers.earliest(),
            self.next_ping_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Retransmits, expires, punches, keeps paths alive and probes, as due.
    fn handle_timeout(&mut self, now: Now) {
        while let Some(id) = self.queue.pop_due(now.at) {
            self.attempt(id, now);
        }
        while let Some(peer) = self.path_timers.pop_due(now.at) {
            self.poll_path(peer, now);
        }
        self.ping_tick(now);
        self.settle(now);
    }
}

//! The path's states and what is known around them, with the queries the
//! outbox asks: the route, whether it is in use, whether a lookup is due,
//! when it next needs attention, and its line in `peers`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::control::{PathWord, PeerPathInfo};
use peerd_shared::PeerId;

use crate::peer::args::RelayPolicy;
use crate::peer::core::clock::Now;
use crate::peer::core::timing::{path_silent, upgrade_interval, Backoff, PATH_IDLE, RETRY_DELAYS};
use crate::peer::core::transport::Route;

/// Where the path to one peer stands.
#[derive(Debug, Clone, PartialEq)]
pub enum PathState {
    Unknown,
    Connecting,
    Punching {
        addr: SocketAddr,
        until: Instant,
        next_probe: Instant,
        /// Set when punching to upgrade a relayed path: messages keep
        /// going through the relay meanwhile, and a timeout goes back to
        /// `Relayed` with this reason.
        relayed: Option<String>,
    },
    Direct {
        addr: SocketAddr,
    },
    Relayed {
        reason: String,
    },
    Waiting {
        reason: String,
        retry_at: Instant,
    },
    /// The server gave another key for the peer than the pinned one:
    /// nothing goes until the user trusts it (`peerctl trust`).
    Blocked {
        reason: String,
    },
}

/// What a punching path needs now ([`PeerPath::punch_tick`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PunchTick {
    Nothing,
    /// Send a punch probe (a new HELLO) to this address.
    Probe(SocketAddr),
    /// The punch window ran out: the path is now relayed, or waiting when
    /// relaying is disabled (with the reason).
    TimedOut {
        waiting: Option<String>,
    },
}

/// What an established path in use needs now ([`PeerPath::upkeep`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkeep {
    Nothing,
    /// Send a PROBE to the direct address (keeps the NAT mappings open and
    /// measures the round trip).
    Keepalive(SocketAddr),
    /// Nothing heard on the direct path for [`path_silent`]: look the peer
    /// up and punch again.
    Repunch,
    /// Relayed for [`upgrade_interval`]: look the peer up again (keeping
    /// the relay) to try a direct path.
    Upgrade,
}

/// Everything known about the path to one peer.
#[derive(Debug, Clone)]
pub struct PeerPath {
    pub(super) state: PathState,
    /// The address the server last introduced (CONNECT_ACK or INTRO).
    pub(super) intro: Option<SocketAddr>,
    /// Last datagram (ack or punch) from the peer.
    pub(super) last_heard: Option<Instant>,
    /// Delay before the next lookup while `Waiting`.
    pub(super) lookup: Backoff,
    /// Round-trip time of the last answered probe (PUNCH/PUNCH_ACK).
    pub(super) rtt: Option<Duration>,
    /// The last probe sent with the introduction's nonce, for `rtt`.
    pub(super) probe_sent: Option<Instant>,
    /// Last probe or message sent to the peer on this path.
    pub(super) last_sent: Option<Instant>,
    /// Last message to or from the peer: the path is "in use" for a while.
    pub(super) last_used: Option<Instant>,
    /// Since when the path has been relayed (for the periodic upgrade try).
    pub(super) relayed_since: Option<Instant>,
}

impl Default for PeerPath {
    fn default() -> Self {
        Self {
            state: PathState::Unknown,
            intro: None,
            last_heard: None,
            lookup: RETRY_DELAYS,
            rtt: None,
            probe_sent: None,
            last_sent: None,
            last_used: None,
            relayed_since: None,
        }
    }
}

impl PeerPath {
    /// The state, for reading.
    pub fn state(&self) -> &PathState {
        &self.state
    }

    /// The route messages can take now, if any.
    pub fn route(&self) -> Option<Route> {
        match self.state {
            PathState::Direct { addr } => Some(Route::Direct(addr)),
            PathState::Relayed { .. } => Some(Route::Relayed),
            PathState::Punching {
                relayed: Some(_), ..
            } => Some(Route::Relayed),
            _ => None,
        }
    }

    /// Why the peer cannot be reached, while the path waits to look again.
    pub fn waiting(&self) -> Option<&str> {
        match &self.state {
            PathState::Waiting { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// Whether messages went to or came from the peer within [`PATH_IDLE`].
    pub fn in_use(&self, now: Instant) -> bool {
        self.last_used
            .is_some_and(|t| now.saturating_duration_since(t) < PATH_IDLE)
    }

    /// Whether a CONNECT should be sent now.
    pub fn needs_lookup(&self, now: Instant) -> bool {
        match &self.state {
            PathState::Unknown => true,
            PathState::Waiting { retry_at, .. } => *retry_at <= now,
            _ => false,
        }
    }

    /// Whether nothing was heard from the peer within `window`.
    pub fn silent_for(&self, window: Duration, now: Instant) -> bool {
        self.last_heard
            .is_none_or(|t| now.saturating_duration_since(t) > window)
    }

    /// When the path next needs [`PeerPath::punch_tick`] or
    /// [`PeerPath::upkeep`] (at or before `now`: at once). `wanted`: the
    /// peer has messages or pings waiting, so a `Waiting` path must look
    /// it up again when its delay is over.
    pub fn deadline(
        &self,
        now: Instant,
        policy: RelayPolicy,
        keepalive: Duration,
        wanted: bool,
    ) -> Option<Instant> {
        let idle_at = self.last_used.map(|t| t + PATH_IDLE);
        let due = match &self.state {
            PathState::Punching {
                until, next_probe, ..
            } => return Some((*until).min(*next_probe)),
            PathState::Waiting { retry_at, .. } => return wanted.then_some(*retry_at),
            PathState::Direct { .. } => {
                let silent = self.last_heard.map_or(now, |t| t + path_silent(keepalive));
                let keep = self.last_sent.map_or(now, |t| t + keepalive);
                keep.min(silent)
            }
            PathState::Relayed { .. } if policy == RelayPolicy::Auto => self
                .relayed_since
                .map_or(now, |t| t + upgrade_interval(keepalive)),
            _ => return None,
        };
        idle_at.filter(|idle| due < *idle).map(|_| due)
    }

    /// The path's line in `peers`.
    pub fn describe(&self, peer: PeerId, queued: u64, now: Now) -> PeerPathInfo {
        let (path, addr, state, reason) = match &self.state {
            PathState::Direct { addr } => {
                (PathWord::Direct, Some(addr.to_string()), "direct", None)
            }
            PathState::Relayed { reason } => {
                (PathWord::Relayed, None, "relayed", Some(reason.clone()))
            }
            PathState::Punching {
                relayed: Some(reason),
                ..
            } => (PathWord::Relayed, None, "punching", Some(reason.clone())),
            PathState::Punching { .. } => (PathWord::None, None, "punching", None),
            PathState::Connecting => (PathWord::None, None, "connecting", None),
            PathState::Waiting { reason, .. } => {
                (PathWord::None, None, "waiting", Some(reason.clone()))
            }
            PathState::Unknown => (PathWord::None, None, "unknown", None),
            PathState::Blocked { reason } => {
                (PathWord::None, None, "key changed", Some(reason.clone()))
            }
        };
        PeerPathInfo {
            id: peer,
            path,
            addr,
            state: state.into(),
            rtt_ms: self.rtt.map(|d| d.as_secs_f64() * 1000.0),
            last_seen_ms: self.last_heard.map(|t| now.unix_ms_of(t)),
            reason,
            queued,
        }
    }
}

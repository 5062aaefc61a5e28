//! How this daemon reaches each peer: the per-peer path state machine the
//! outbox drives (protocol.md 3). A peer is `Unknown` until looked up,
//! `Connecting` while CONNECT is out, `Punching` its introduced address for
//! up to 3 s, then `Direct` (a matching PUNCH/PUNCH_ACK came back) or
//! `Relayed` (with the reason), or `Waiting` to look it up again (offline, or
//! the server unreachable). Plain data, so it is tested without actors.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::args::RelayPolicy;
use super::retry::{Backoff, PUNCH_INTERVAL, PUNCH_WINDOW};

/// Where the path to one peer stands.
#[derive(Debug, Clone, PartialEq)]
pub enum PathState {
    Unknown,
    Connecting,
    Punching {
        addr: SocketAddr,
        until: Instant,
        next_probe: Instant,
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
}

/// The introduction held for a peer (CONNECT_ACK or INTRO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intro {
    pub addr: SocketAddr,
    /// The nonce this daemon puts in its PUNCH probes.
    pub nonce: u64,
}

/// How a message can travel right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Direct(SocketAddr),
    Relayed,
}

/// Everything known about the path to one peer.
#[derive(Debug, Clone)]
pub struct PeerPath {
    pub state: PathState,
    pub intro: Option<Intro>,
    /// Last datagram (ack or punch) from the peer.
    pub last_heard: Option<Instant>,
    /// Delay before the next lookup while `Waiting`.
    pub lookup: Backoff,
}

impl Default for PeerPath {
    fn default() -> Self {
        Self {
            state: PathState::Unknown,
            intro: None,
            last_heard: None,
            lookup: Backoff::new(Duration::from_millis(500), Duration::from_secs(5)),
        }
    }
}

impl PeerPath {
    /// The route messages can take now, if any.
    pub fn route(&self) -> Option<Route> {
        match self.state {
            PathState::Direct { addr } => Some(Route::Direct(addr)),
            PathState::Relayed { .. } => Some(Route::Relayed),
            _ => None,
        }
    }

    /// Whether a CONNECT should be sent now.
    pub fn needs_lookup(&self, now: Instant) -> bool {
        match &self.state {
            PathState::Unknown => true,
            PathState::Waiting { retry_at, .. } => *retry_at <= now,
            _ => false,
        }
    }

    /// An introduction arrived: start punching `addr` with a fresh nonce,
    /// unless the path is already direct to that very address (or the
    /// policy says to relay only).
    pub fn introduce(&mut self, addr: SocketAddr, nonce: u64, now: Instant, policy: RelayPolicy) {
        self.intro = Some(Intro { addr, nonce });
        self.lookup.reset();
        if policy == RelayPolicy::Always {
            self.state = PathState::Relayed {
                reason: "relay forced (--relay always)".into(),
            };
            return;
        }
        if self.state == (PathState::Direct { addr }) {
            return;
        }
        self.state = PathState::Punching {
            addr,
            until: now + PUNCH_WINDOW,
            next_probe: now,
        };
    }

    /// Whether a PUNCH (`ack == false`) or PUNCH_ACK from `src` makes the
    /// path direct: it must match the introduction, and an ack must carry
    /// our nonce.
    pub fn punch_matches(&self, src: SocketAddr, nonce: u64, ack: bool) -> bool {
        match self.intro {
            Some(intro) => intro.addr.ip() == src.ip() && (!ack || intro.nonce == nonce),
            None => false,
        }
    }

    /// The path is direct to `addr`; true when it was not before.
    pub fn go_direct(&mut self, addr: SocketAddr, now: Instant) -> bool {
        self.last_heard = Some(now);
        let changed = self.state != (PathState::Direct { addr });
        self.state = PathState::Direct { addr };
        changed
    }

    /// The peer cannot be reached for now; look it up again later.
    pub fn wait(&mut self, reason: String, now: Instant) {
        let retry_at = now + self.lookup.next_delay();
        self.state = PathState::Waiting { reason, retry_at };
    }

    /// Advances punching: the probe to send now, if any. After the window
    /// without an answer the path falls back to relay (or, when relaying is
    /// disabled, waits to look the peer up and punch again).
    pub fn punch_tick(&mut self, now: Instant, policy: RelayPolicy) -> Option<(SocketAddr, u64)> {
        let PathState::Punching {
            addr,
            until,
            next_probe,
        } = &mut self.state
        else {
            return None;
        };
        if now >= *until {
            let reason = format!("punch timed out after {} s", PUNCH_WINDOW.as_secs());
            if policy == RelayPolicy::Never {
                self.wait(format!("{reason} (relay disabled)"), now);
            } else {
                self.state = PathState::Relayed { reason };
            }
            return None;
        }
        if now < *next_probe {
            return None;
        }
        *next_probe = now + PUNCH_INTERVAL;
        let addr = *addr;
        self.intro.map(|i| (addr, i.nonce))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn punching_goes_direct_on_a_matching_probe() {
        let now = Instant::now();
        let mut p = PeerPath::default();
        assert!(p.needs_lookup(now));
        p.introduce(addr("10.0.0.1:5"), 42, now, RelayPolicy::Auto);
        assert_eq!(
            p.punch_tick(now, RelayPolicy::Auto),
            Some((addr("10.0.0.1:5"), 42))
        );
        assert_eq!(
            p.punch_tick(now, RelayPolicy::Auto),
            None,
            "next probe only after the interval"
        );
        assert!(!p.punch_matches(addr("10.0.0.2:5"), 42, false), "other ip");
        assert!(
            !p.punch_matches(addr("10.0.0.1:6"), 41, true),
            "wrong nonce"
        );
        assert!(
            p.punch_matches(addr("10.0.0.1:6"), 7, false),
            "a PUNCH needs no nonce"
        );
        assert!(p.go_direct(addr("10.0.0.1:6"), now));
        assert_eq!(p.route(), Some(Route::Direct(addr("10.0.0.1:6"))));
        // The same introduction again keeps a direct path to the same address.
        p.introduce(addr("10.0.0.1:6"), 43, now, RelayPolicy::Auto);
        assert_eq!(p.route(), Some(Route::Direct(addr("10.0.0.1:6"))));
    }

    #[test]
    fn falls_back_to_relay_after_the_window_and_waits_with_backoff() {
        let now = Instant::now();
        let mut p = PeerPath::default();
        p.introduce(addr("10.0.0.1:5"), 1, now, RelayPolicy::Auto);
        assert_eq!(p.punch_tick(now + PUNCH_WINDOW, RelayPolicy::Auto), None);
        assert_eq!(p.route(), Some(Route::Relayed));
        assert!(matches!(&p.state, PathState::Relayed { reason } if reason.contains("3 s")));
        let mut q = PeerPath::default();
        q.introduce(addr("10.0.0.1:5"), 1, now, RelayPolicy::Never);
        assert_eq!(q.punch_tick(now + PUNCH_WINDOW, RelayPolicy::Never), None);
        assert!(
            matches!(&q.state, PathState::Waiting { reason, .. } if reason.contains("relay disabled"))
        );
        let mut r = PeerPath::default();
        r.introduce(addr("10.0.0.1:5"), 1, now, RelayPolicy::Always);
        assert_eq!(r.route(), Some(Route::Relayed));
        p.wait("peer 2 is offline".into(), now);
        assert!(!p.needs_lookup(now));
        assert!(p.needs_lookup(now + Duration::from_millis(500)));
        p.wait("again".into(), now);
        assert!(!p.needs_lookup(now + Duration::from_millis(500)));
    }
}

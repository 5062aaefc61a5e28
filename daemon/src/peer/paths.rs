//! How this daemon reaches each peer: the per-peer path state machine the
//! outbox drives (protocol.md 3). A peer is `Unknown` until looked up,
//! `Connecting` while CONNECT is out, `Punching` its introduced address for
//! up to 3 s, then `Direct` (a matching PUNCH/PUNCH_ACK came back) or
//! `Relayed` (with the reason), or `Waiting` to look it up again (offline, or
//! the server unreachable). Plain data, so it is tested without actors.
//!
//! Around the states: a PUNCH that arrives before the introduction it
//! belongs to is remembered for one punch window and matched when the
//! introduction comes ([`PeerPath::early_punch`]); a relayed path punches
//! again now and then while it carries messages and keeps relaying while it
//! does (`Punching::relayed`); the round-trip time of the last probe answer
//! is kept for `peers`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::args::RelayPolicy;
use super::retry::{
    path_silent, upgrade_interval, Backoff, PATH_IDLE, PUNCH_INTERVAL, PUNCH_WINDOW,
};

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

/// What [`PeerPath::upkeep`] asks the outbox to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkeep {
    Nothing,
    /// Send a PUNCH to the direct address (keeps the NAT mappings open and
    /// measures the round trip).
    Keepalive(SocketAddr, u64),
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
    pub state: PathState,
    pub intro: Option<Intro>,
    /// Last datagram (ack or punch) from the peer.
    pub last_heard: Option<Instant>,
    /// Delay before the next lookup while `Waiting`.
    pub lookup: Backoff,
    /// A PUNCH that matched no introduction (yet): its source and arrival.
    pub early_punch: Option<(SocketAddr, Instant)>,
    /// Round-trip time of the last answered probe (PUNCH/PUNCH_ACK).
    pub rtt: Option<Duration>,
    /// The last probe sent with the introduction's nonce, for `rtt`.
    pub probe_sent: Option<Instant>,
    /// Last probe or message sent to the peer on this path.
    pub last_sent: Option<Instant>,
    /// Last message to or from the peer: the path is "in use" for a while.
    pub last_used: Option<Instant>,
    /// Since when the path has been relayed (for the periodic upgrade try).
    pub relayed_since: Option<Instant>,
}

impl Default for PeerPath {
    fn default() -> Self {
        Self {
            state: PathState::Unknown,
            intro: None,
            last_heard: None,
            lookup: Backoff::new(Duration::from_millis(500), Duration::from_secs(5)),
            early_punch: None,
            rtt: None,
            probe_sent: None,
            last_sent: None,
            last_used: None,
            relayed_since: None,
        }
    }
}

impl PeerPath {
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

    /// Whether messages went to or came from the peer within `idle`.
    pub fn in_use(&self, now: Instant, idle: Duration) -> bool {
        self.last_used.is_some_and(|t| now.duration_since(t) < idle)
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
    /// policy says to relay only). A relayed path keeps relaying while it
    /// punches. A PUNCH from the introduced IP that arrived within the last
    /// punch window, before this introduction, makes the path direct at
    /// once (it was answered with PUNCH_ACK already): true when it did.
    pub fn introduce(
        &mut self,
        addr: SocketAddr,
        nonce: u64,
        now: Instant,
        policy: RelayPolicy,
    ) -> bool {
        self.intro = Some(Intro { addr, nonce });
        self.lookup.reset();
        if policy == RelayPolicy::Always {
            self.set_relayed("relay forced (--relay always)".into(), now);
            return false;
        }
        if let Some((src, at)) = self.early_punch.take() {
            if src.ip() == addr.ip() && now.duration_since(at) < PUNCH_WINDOW {
                return self.go_direct(src, now);
            }
        }
        if self.state == (PathState::Direct { addr }) {
            return false;
        }
        let relayed = match &self.state {
            PathState::Relayed { reason } => Some(reason.clone()),
            PathState::Punching { relayed, .. } => relayed.clone(),
            _ => None,
        };
        self.state = PathState::Punching {
            addr,
            until: now + PUNCH_WINDOW,
            next_probe: now,
            relayed,
        };
        false
    }

    /// What an established path needs now (only while it is in use,
    /// i.e. carried a message within [`PATH_IDLE`]), with a PUNCH every
    /// `keepalive` on a direct path.
    pub fn upkeep(&mut self, now: Instant, policy: RelayPolicy, keepalive: Duration) -> Upkeep {
        if !self.in_use(now, PATH_IDLE) {
            return Upkeep::Nothing;
        }
        match self.state {
            PathState::Direct { addr } => {
                let silent = self
                    .last_heard
                    .is_none_or(|t| now.duration_since(t) >= path_silent(keepalive));
                if silent {
                    return Upkeep::Repunch;
                }
                let due = self
                    .last_sent
                    .is_none_or(|t| now.duration_since(t) >= keepalive);
                match (due, self.intro) {
                    (true, Some(intro)) => {
                        self.last_sent = Some(now);
                        self.probe_sent = Some(now);
                        Upkeep::Keepalive(addr, intro.nonce)
                    }
                    _ => Upkeep::Nothing,
                }
            }
            PathState::Relayed { .. } if policy == RelayPolicy::Auto => {
                let due = self
                    .relayed_since
                    .is_none_or(|t| now.duration_since(t) >= upgrade_interval(keepalive));
                if due {
                    self.relayed_since = Some(now);
                    Upkeep::Upgrade
                } else {
                    Upkeep::Nothing
                }
            }
            _ => Upkeep::Nothing,
        }
    }

    /// A PUNCH that matched no introduction: remember it for one window.
    pub fn remember_punch(&mut self, src: SocketAddr, now: Instant) {
        self.early_punch = Some((src, now));
    }

    fn set_relayed(&mut self, reason: String, now: Instant) {
        if !matches!(self.state, PathState::Relayed { .. }) {
            self.relayed_since = Some(now);
        }
        self.state = PathState::Relayed { reason };
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
        self.early_punch = None;
        self.relayed_since = None;
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
            relayed,
        } = &mut self.state
        else {
            return None;
        };
        if now >= *until {
            let reason = format!("punch timed out after {} s", PUNCH_WINDOW.as_secs());
            // A failed upgrade try goes back to the relay it kept using.
            if relayed.take().is_some() || policy != RelayPolicy::Never {
                self.set_relayed(reason, now);
            } else {
                self.wait(format!("{reason} (relay disabled)"), now);
            }
            return None;
        }
        if now < *next_probe {
            return None;
        }
        *next_probe = now + PUNCH_INTERVAL;
        let addr = *addr;
        self.probe_sent = Some(now);
        self.last_sent = Some(now);
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
        assert!(p.early_punch.is_none());
        assert_eq!(p.route(), Some(Route::Direct(addr("10.0.0.1:6"))));
        // The same introduction again keeps a direct path to the same address.
        p.introduce(addr("10.0.0.1:6"), 43, now, RelayPolicy::Auto);
        assert_eq!(p.route(), Some(Route::Direct(addr("10.0.0.1:6"))));
    }

    #[test]
    fn a_punch_before_the_introduction_is_matched_when_it_arrives() {
        let now = Instant::now();
        let mut p = PeerPath::default();
        // The PUNCH (from another port of the introduced IP, as a
        // symmetric NAT sends it) comes first: no introduction, no path.
        assert!(!p.punch_matches(addr("10.0.0.1:7000"), 9, false));
        p.remember_punch(addr("10.0.0.1:7000"), now);
        assert_eq!(p.route(), None);
        assert!(p.introduce(addr("10.0.0.1:5"), 1, now, RelayPolicy::Auto));
        assert_eq!(p.route(), Some(Route::Direct(addr("10.0.0.1:7000"))));
        // From another IP, or too old: punch as usual.
        let mut q = PeerPath::default();
        q.remember_punch(addr("10.0.0.2:7000"), now);
        assert!(!q.introduce(addr("10.0.0.1:5"), 1, now, RelayPolicy::Auto));
        assert!(matches!(q.state, PathState::Punching { .. }));
        let mut r = PeerPath::default();
        r.remember_punch(addr("10.0.0.1:7000"), now);
        let later = now + PUNCH_WINDOW;
        assert!(!r.introduce(addr("10.0.0.1:5"), 1, later, RelayPolicy::Auto));
        assert!(matches!(r.state, PathState::Punching { .. }));
    }

    #[test]
    fn paths_in_use_are_kept_alive_repunched_and_upgraded() {
        const K: Duration = Duration::from_secs(15);
        let now = Instant::now();
        let mut p = PeerPath::default();
        p.introduce(addr("10.0.0.1:5"), 4, now, RelayPolicy::Auto);
        p.go_direct(addr("10.0.0.1:5"), now);
        p.last_sent = Some(now);
        assert_eq!(
            p.upkeep(now, RelayPolicy::Auto, K),
            Upkeep::Nothing,
            "not in use"
        );
        p.last_used = Some(now);
        assert_eq!(p.upkeep(now, RelayPolicy::Auto, K), Upkeep::Nothing);
        let t = now + K;
        p.last_used = Some(t);
        assert_eq!(
            p.upkeep(t, RelayPolicy::Auto, K),
            Upkeep::Keepalive(addr("10.0.0.1:5"), 4)
        );
        assert_eq!(
            p.upkeep(t, RelayPolicy::Auto, K),
            Upkeep::Nothing,
            "just sent"
        );
        let t = now + path_silent(K);
        p.last_used = Some(t);
        assert_eq!(p.upkeep(t, RelayPolicy::Auto, K), Upkeep::Repunch);
        let mut r = PeerPath::default();
        r.introduce(addr("10.0.0.1:5"), 1, now, RelayPolicy::Auto);
        r.punch_tick(now + PUNCH_WINDOW, RelayPolicy::Auto);
        let t = now + PUNCH_WINDOW + upgrade_interval(K);
        r.last_used = Some(t);
        assert_eq!(r.upkeep(t, RelayPolicy::Auto, K), Upkeep::Upgrade);
        assert_eq!(r.upkeep(t, RelayPolicy::Auto, K), Upkeep::Nothing);
        assert_eq!(
            r.upkeep(t + upgrade_interval(K), RelayPolicy::Always, K),
            Upkeep::Nothing
        );
    }

    #[test]
    fn a_relayed_path_keeps_relaying_while_it_punches_again() {
        let now = Instant::now();
        let mut p = PeerPath::default();
        p.introduce(addr("10.0.0.1:5"), 1, now, RelayPolicy::Auto);
        p.punch_tick(now + PUNCH_WINDOW, RelayPolicy::Auto);
        assert_eq!(p.route(), Some(Route::Relayed));
        let later = now + 2 * PUNCH_WINDOW;
        p.introduce(addr("10.0.0.1:5"), 2, later, RelayPolicy::Auto);
        assert!(matches!(p.state, PathState::Punching { .. }));
        assert_eq!(p.route(), Some(Route::Relayed), "relays while punching");
        p.punch_tick(later + PUNCH_WINDOW, RelayPolicy::Auto);
        assert!(matches!(&p.state, PathState::Relayed { reason } if reason.contains("3 s")));
        p.introduce(addr("10.0.0.1:5"), 3, later, RelayPolicy::Auto);
        assert!(p.go_direct(addr("10.0.0.1:5"), later));
        assert_eq!(p.route(), Some(Route::Direct(addr("10.0.0.1:5"))));
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

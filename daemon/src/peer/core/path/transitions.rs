//! The path's named transitions: what the outbox tells it happened.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::state::{PathState, PeerPath, PunchTick, Upkeep};
use crate::peer::args::RelayPolicy;
use crate::peer::core::timing::{path_silent, upgrade_interval, PUNCH_INTERVAL, PUNCH_WINDOW};

impl PeerPath {
    /// A datagram (ack, punch or its answer) came from the peer.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = Some(now);
    }

    /// A message went out on the path: it is in use, and was sent to.
    pub fn sent(&mut self, now: Instant) {
        self.last_used = Some(now);
        self.last_sent = Some(now);
    }

    /// A probe with the introduction's nonce was answered: its round trip.
    pub fn probe_answered(&mut self, now: Instant) {
        if let Some(sent) = self.probe_sent.take() {
            self.rtt = Some(now.saturating_duration_since(sent));
        }
    }

    /// A round trip measured by `ping`.
    pub fn measured(&mut self, rtt: Duration) {
        self.rtt = Some(rtt);
    }

    /// Back to `Unknown`: the peer is looked up again before anything is
    /// sent (the path stopped working, the peer is not registered, or its
    /// new key was trusted).
    pub fn forget(&mut self) {
        self.state = PathState::Unknown;
    }

    /// A lookup (CONNECT) is going out; false when one already is.
    pub fn connecting(&mut self) -> bool {
        if self.state == PathState::Connecting {
            return false;
        }
        self.state = PathState::Connecting;
        true
    }

    /// An introduction arrived: start punching `addr`, unless the path is
    /// already direct to that very address (or the policy says to relay
    /// only). A relayed path keeps relaying while it punches.
    pub fn introduce(&mut self, addr: SocketAddr, now: Instant, policy: RelayPolicy) {
        self.intro = Some(addr);
        self.lookup.reset();
        if matches!(self.state, PathState::Blocked { .. }) {
            return;
        }
        if policy == RelayPolicy::Always {
            return self.set_relayed("relay forced (--relay always)".into(), now);
        }
        if self.state == (PathState::Direct { addr }) {
            return;
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
    }

    /// The peer's key changed: nothing goes until the user trusts it.
    pub fn block(&mut self, reason: String) {
        self.state = PathState::Blocked { reason };
    }

    /// Whether the path is blocked (the peer's key changed).
    pub fn blocked(&self) -> Option<&str> {
        match &self.state {
            PathState::Blocked { reason } => Some(reason),
            _ => None,
        }
    }

    /// The path is direct to `addr`; true when it was not before.
    pub fn go_direct(&mut self, addr: SocketAddr, now: Instant) -> bool {
        self.last_heard = Some(now);
        self.relayed_since = None;
        let changed = self.state != (PathState::Direct { addr });
        self.state = PathState::Direct { addr };
        changed
    }

    /// The peer cannot be reached for now; look it up again later (500 ms
    /// doubling to 5 s).
    pub fn wait(&mut self, reason: String, now: Instant) {
        let retry_at = now + self.lookup.next_delay();
        self.state = PathState::Waiting { reason, retry_at };
    }

    fn set_relayed(&mut self, reason: String, now: Instant) {
        if !matches!(self.state, PathState::Relayed { .. }) {
            self.relayed_since = Some(now);
        }
        self.state = PathState::Relayed { reason };
    }

    /// Advances punching: a probe every [`PUNCH_INTERVAL`], and after
    /// [`PUNCH_WINDOW`] without an answer the fall-back
    /// ([`PeerPath::punch_timed_out`]).
    pub fn punch_tick(&mut self, now: Instant, policy: RelayPolicy) -> PunchTick {
        let PathState::Punching {
            addr,
            until,
            next_probe,
            ..
        } = &mut self.state
        else {
            return PunchTick::Nothing;
        };
        if now >= *until {
            return self.punch_timed_out(now, policy);
        }
        if now < *next_probe {
            return PunchTick::Nothing;
        }
        *next_probe = now + PUNCH_INTERVAL;
        let addr = *addr;
        self.probe_sent = Some(now);
        self.last_sent = Some(now);
        PunchTick::Probe(addr)
    }

    /// The punch got no answer within the window: relay (a failed upgrade
    /// try goes back to the relay it kept using), or, with relaying
    /// disabled, wait to look the peer up and punch again.
    pub fn punch_timed_out(&mut self, now: Instant, policy: RelayPolicy) -> PunchTick {
        let PathState::Punching { relayed, .. } = &mut self.state else {
            return PunchTick::Nothing;
        };
        let reason = format!("punch timed out after {} s", PUNCH_WINDOW.as_secs());
        if relayed.take().is_some() || policy != RelayPolicy::Never {
            self.set_relayed(reason, now);
            return PunchTick::TimedOut { waiting: None };
        }
        let reason = format!("{reason} (relay disabled)");
        self.wait(reason.clone(), now);
        PunchTick::TimedOut {
            waiting: Some(reason),
        }
    }

    /// What an established path needs now (only while it is in use,
    /// i.e. carried a message within `PATH_IDLE`), with a PUNCH every
    /// `keepalive` on a direct path.
    pub fn upkeep(&mut self, now: Instant, policy: RelayPolicy, keepalive: Duration) -> Upkeep {
        if !self.in_use(now) {
            return Upkeep::Nothing;
        }
        match self.state {
            PathState::Direct { addr } => {
                if self.silent_for_at_least(path_silent(keepalive), now) {
                    return Upkeep::Repunch;
                }
                let due = self
                    .last_sent
                    .is_none_or(|t| now.saturating_duration_since(t) >= keepalive);
                if due {
                    self.last_sent = Some(now);
                    self.probe_sent = Some(now);
                    Upkeep::Keepalive(addr)
                } else {
                    Upkeep::Nothing
                }
            }
            PathState::Relayed { .. } if policy == RelayPolicy::Auto => {
                let due = self.relayed_since.is_none_or(|t| {
                    now.saturating_duration_since(t) >= upgrade_interval(keepalive)
                });
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

    fn silent_for_at_least(&self, window: Duration, now: Instant) -> bool {
        self.last_heard
            .is_none_or(|t| now.saturating_duration_since(t) >= window)
    }
}

//! Probes and the care of paths: PROBE and PROBE_ACK from peers (round
//! trips measured), path proofs and sessions becoming ready (from the
//! transport), the timed work of each path (punch probes: new HELLO
//! handshakes; fall-back to relay, keepalives, re-punching, upgrade
//! tries), `ping` and `peers`.
//!
//! `ping` sends PROBEs with fresh nonces over the current path, one every
//! `PING_TIMEOUT / PING_PROBES`, and answers with the round trip of the
//! first PROBE_ACK carrying one of them. Over a relayed path the PROBE
//! travels inside RELAY and the peer answers inside RELAY (the round trip
//! then includes the server twice); nothing relayed ever records a path. A
//! peer without a path is looked up and punched first.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::control::{ControlError, ErrorKind, PathKind, PeerPathInfo, PingOutcome};
use peerd_shared::PeerId;

use super::{Action, Delivery, PingId};
use crate::peer::args::RelayPolicy;
use crate::peer::core::clock::Now;
use crate::peer::core::path::{PathState, PunchTick, Upkeep};
use crate::peer::core::timing::{PING_PROBES, PING_TIMEOUT, PUNCH_WINDOW};
use crate::peer::core::transport::{Origin, PeerPacket, Route};

/// A `ping` waiting for its PUNCH_ACK.
pub struct PendingPing {
    id: PingId,
    pub(super) peer: PeerId,
    /// Nonces sent, with when and over which route.
    sent: Vec<(u64, Instant, Route)>,
    next_probe: Instant,
    deadline: Instant,
}

fn unreachable(message: String) -> ControlError {
    ControlError {
        code: ErrorKind::Unreachable,
        message,
    }
}

impl Delivery {
    /// A PROBE (`ack: false`) or PROBE_ACK arrived, directly or relayed,
    /// authenticated: answered, matched with a ping, and heard.
    pub fn probed(&mut self, origin: Origin, nonce: u64, ack: bool, now: Now) {
        let direct = matches!(origin.route, Route::Direct(_));
        if !ack && direct && self.policy == RelayPolicy::Always {
            // `--relay always`: no direct path either way, so no answer
            // that would let the peer record one.
            return;
        }
        let peer = origin.peer;
        if !ack {
            self.transmit(peer, origin.route, PeerPacket::ProbeAck { nonce });
        }
        if ack && !self.pong(peer, nonce, now.at) && direct {
            self.path(peer).probe_answered(now.at);
        }
        if direct {
            self.path(peer).heard(now.at);
        }
        self.settle(now);
    }

    /// An authenticated datagram from `peer` came directly from `src`: the
    /// path is direct there (docs/protocol.md 6), unless relaying is forced.
    pub fn proven(&mut self, peer: PeerId, src: SocketAddr, now: Now) {
        if self.policy == RelayPolicy::Always || Some(peer) == self.me {
            return;
        }
        let path = self.path(peer);
        if path.blocked().is_some() {
            return;
        }
        if path.go_direct(src, now.at) {
            tracing::info!(%peer, addr = %src, "direct path");
            self.stats.direct_paths += 1;
            self.flush(peer, now);
        }
        self.settle(now);
    }

    /// A session with `peer` can send now: messages held for it go.
    pub fn session_ready(&mut self, peer: PeerId, now: Now) {
        if self.path(peer).route().is_some() {
            self.flush(peer, now);
        }
        self.settle(now);
    }

    /// The timed work of one path: punch probes and their time-out,
    /// relaying once a punch fails, looking the peer up when it must, and
    /// the upkeep of a path in use.
    pub(super) fn poll_path(&mut self, peer: PeerId, now: Now) {
        let (policy, keepalive) = (self.policy, self.keepalive);
        let path = self.path(peer);
        let had_route = path.route().is_some();
        match path.punch_tick(now.at, policy) {
            PunchTick::Probe(addr) => {
                self.transmit(peer, Route::Direct(addr), PeerPacket::Hello);
            }
            // `--relay never` and the punch failed: tell waiting senders.
            PunchTick::TimedOut {
                waiting: Some(reason),
            } => self.unreachable(peer, reason, now),
            PunchTick::TimedOut { waiting: None } | PunchTick::Nothing => {}
        }
        let path = self.path(peer);
        let (route, lookup) = (path.route(), path.needs_lookup(now.at));
        if !had_route && route.is_some() && self.queue.has_pending(peer) {
            tracing::info!(%peer, "no direct path; relaying through the server");
            self.flush(peer, now);
        }
        if route.is_none() && lookup && self.wanted(peer) {
            self.lookup(peer);
        }
        match self.path(peer).upkeep(now.at, policy, keepalive) {
            Upkeep::Nothing => {}
            Upkeep::Keepalive(addr) => {
                let nonce = (self.nonces)();
                self.transmit(peer, Route::Direct(addr), PeerPacket::Probe { nonce });
            }
            Upkeep::Repunch => {
                tracing::info!(%peer, "direct path silent; looking the peer up again");
                self.path(peer).forget();
                self.lookup(peer);
            }
            Upkeep::Upgrade => self.try_upgrade(peer),
        }
    }

    /// `peers`: the path to every known peer but this daemon, by id.
    pub fn paths(&self, now: Now) -> Vec<PeerPathInfo> {
        let mut list: Vec<PeerPathInfo> = self
            .paths
            .iter()
            .filter(|(peer, _)| Some(**peer) != self.me)
            .map(|(peer, p)| {
                let queued = u64::try_from(self.queue.count_of(*peer)).unwrap_or(u64::MAX);
                p.describe(*peer, queued, now)
            })
            .collect();
        list.sort_by_key(|p| p.id);
        list
    }

    /// `ping` `to`: answered by [`Action::Pong`] with `ping`.
    pub fn ping(&mut self, ping: PingId, to: PeerId, now: Now) {
        if self.me == Some(to) {
            let result = Err(ControlError {
                code: ErrorKind::SelfTarget,
                message: format!("peer {to} is this daemon itself"),
            });
            return self.out.push(Action::Pong { ping, result });
        }
        let has_route = self.paths.get(&to).and_then(|p| p.route()).is_some();
        // Without a path, leave time to look the peer up and punch.
        let wait = if has_route {
            PING_TIMEOUT
        } else {
            PING_TIMEOUT + PUNCH_WINDOW + Duration::from_secs(1)
        };
        self.pings.push(PendingPing {
            id: ping,
            peer: to,
            sent: Vec::new(),
            next_probe: now.at,
            deadline: now.at + wait,
        });
        self.ping_tick(now);
        self.settle(now);
    }

    /// When a ping next needs a probe or runs out of time.
    pub(super) fn next_ping_deadline(&self) -> Option<Instant> {
        self.pings
            .iter()
            .map(|p| {
                let route = self.paths.get(&p.peer).and_then(|x| x.route());
                route.map_or(p.deadline, |_| p.next_probe.min(p.deadline))
            })
            .min()
    }

    /// Sends due ping probes and answers pings that ran out of time.
    pub(super) fn ping_tick(&mut self, now: Now) {
        let interval = PING_TIMEOUT / PING_PROBES;
        let mut i = 0;
        while i < self.pings.len() {
            let p = &self.pings[i];
            let path = self.paths.get(&p.peer);
            if now.at >= p.deadline {
                let why = match path.map(|x| x.state()) {
                    Some(PathState::Waiting { reason, .. }) => format!("no path: {reason}"),
                    Some(PathState::Relayed { .. } | PathState::Direct { .. }) => format!(
                        "no answer within {} ms over the current path",
                        PING_TIMEOUT.as_millis()
                    ),
                    _ => "no path: the punch did not finish".into(),
                };
                let p = self.pings.swap_remove(i);
                let result = Err(unreachable(format!("peer {}: {why}", p.peer)));
                self.out.push(Action::Pong { ping: p.id, result });
                continue;
            }
            let route = path.and_then(|x| x.route());
            let lookup = path.is_none_or(|x| x.needs_lookup(now.at));
            let (peer, due) = (p.peer, now.at >= p.next_probe);
            match route {
                Some(route) if due => {
                    let nonce = (self.nonces)();
                    self.transmit(peer, route, PeerPacket::Probe { nonce });
                    let p = &mut self.pings[i];
                    p.sent.push((nonce, now.at, route));
                    p.next_probe = now.at + interval;
                }
                None if lookup => self.lookup(peer),
                _ => {}
            }
            i += 1;
        }
    }

    /// Answers a ping whose probe `nonce` came back; true when one did.
    fn pong(&mut self, peer: PeerId, nonce: u64, now: Instant) -> bool {
        let found = self
            .pings
            .iter()
            .position(|p| p.peer == peer && p.sent.iter().any(|(n, _, _)| *n == nonce));
        let Some(i) = found else {
            return false;
        };
        let p = self.pings.swap_remove(i);
        let Some(&(_, at, route)) = p.sent.iter().find(|(n, _, _)| *n == nonce) else {
            return false;
        };
        let rtt = now.saturating_duration_since(at);
        let path = self.path(peer);
        path.measured(rtt);
        if matches!(route, Route::Direct(_)) {
            path.heard(now);
        }
        let (path, addr) = match route {
            Route::Direct(a) => (PathKind::Direct, Some(a.to_string())),
            Route::Relayed => (PathKind::Relayed, None),
        };
        let result = Ok(PingOutcome {
            to: peer,
            path,
            addr,
            rtt_ms: rtt.as_secs_f64() * 1000.0,
        });
        self.out.push(Action::Pong { ping: p.id, result });
        true
    }

    /// A lookup found the peer never registered: fail its pings.
    pub(super) fn fail_pings(&mut self, peer: PeerId, message: &str) {
        let (failed, kept) = std::mem::take(&mut self.pings)
            .into_iter()
            .partition(|p| p.peer == peer);
        self.pings = kept;
        for p in failed {
            let result = Err(ControlError {
                code: ErrorKind::UnknownPeer,
                message: message.to_owned(),
            });
            self.out.push(Action::Pong { ping: p.id, result });
        }
    }
}

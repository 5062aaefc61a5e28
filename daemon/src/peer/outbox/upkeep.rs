//! The outbox's care of established paths and what it tells users about
//! them: keepalives, re-punching and upgrade tries ([`PeerPath::upkeep`]),
//! PUNCH/PUNCH_ACK handling (early PUNCHes remembered, round trips
//! measured), `peers` ([`ListPaths`]) and `ping` ([`Ping`]).
//!
//! `ping` sends PUNCH probes with fresh nonces over the current path, one
//! every `PING_TIMEOUT / PING_PROBES`, and answers with the round trip of
//! the first PUNCH_ACK carrying one of them. Over a relayed path the PUNCH
//! travels inside RELAY and the peer answers PUNCH_ACK inside RELAY (the
//! round trip then includes the server twice); a relayed PUNCH never
//! records a path. A peer without a path is looked up and punched first.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix::prelude::*;
use peerd_shared::control::{
    ControlError, ErrorKind, PathKind, PathWord, PeerPathInfo, PingOutcome,
};
use peerd_shared::wire::{self, Packet};
use peerd_shared::PeerId;
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::{random_nonce, Outbox};
use crate::peer::args::RelayPolicy;
use crate::peer::paths::{PathState, PeerPath, Route, Upkeep};
use crate::peer::registry_link::RelayData;
use crate::peer::retry::{PING_PROBES, PING_TIMEOUT, PUNCH_WINDOW};
use crate::peer::shared::now_ms;

/// A PUNCH (`ack: false`) or PUNCH_ACK arrived, directly or relayed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PunchReceived {
    pub peer: PeerId,
    pub nonce: u64,
    pub src: SocketAddr,
    pub ack: bool,
    pub path: PathKind,
}

/// `peers`: the path to every known peer.
#[derive(Message)]
#[rtype(result = "Vec<PeerPathInfo>")]
pub struct ListPaths;

/// `ping`: the round trip to a peer over its current path.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Ping {
    pub to: PeerId,
    pub reply: oneshot::Sender<Result<PingOutcome, ControlError>>,
}

/// A `ping` waiting for its PUNCH_ACK.
pub struct PendingPing {
    peer: PeerId,
    /// Nonces sent, with when and over which route.
    sent: Vec<(u64, Instant, Route)>,
    next_probe: Instant,
    deadline: Instant,
    reply: oneshot::Sender<Result<PingOutcome, ControlError>>,
}

fn unreachable(message: String) -> ControlError {
    ControlError {
        code: ErrorKind::Unreachable,
        message,
    }
}

/// Unix milliseconds of an earlier instant.
fn unix_ms(t: Instant) -> u64 {
    now_ms().saturating_sub(u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX))
}

fn describe(peer: PeerId, p: &PeerPath, queued: u64) -> PeerPathInfo {
    let (path, addr, state, reason) = match &p.state {
        PathState::Direct { addr } => (PathWord::Direct, Some(addr.to_string()), "direct", None),
        PathState::Relayed { reason } => (PathWord::Relayed, None, "relayed", Some(reason.clone())),
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
    };
    PeerPathInfo {
        id: peer,
        path,
        addr,
        state: state.into(),
        rtt_ms: p.rtt.map(|d| d.as_secs_f64() * 1000.0),
        last_seen_ms: p.last_heard.map(unix_ms),
        reason,
        queued,
    }
}

impl Outbox {
    /// Sends a PUNCH or PUNCH_ACK over `route` (inside RELAY when relayed).
    fn send_probe(&self, packet: &Packet, route: Route) {
        match route {
            Route::Direct(addr) => {
                let _ = self.shared.send(packet, addr);
            }
            Route::Relayed => {
                let Some(target) = (match packet {
                    Packet::Punch { to, .. } | Packet::PunchAck { to, .. } => Some(*to),
                    _ => None,
                }) else {
                    return;
                };
                if let Ok(bytes) = wire::encode(packet) {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    if let Ok(data) = RawValue::from_string(text) {
                        self.link.do_send(RelayData { target, data });
                    }
                }
            }
        }
    }

    /// Keepalives, re-punches and upgrade tries of paths in use.
    pub(super) fn upkeep(&mut self, now: Instant) {
        let Some(me) = self.shared.id() else {
            return;
        };
        let mut repunch = Vec::new();
        let mut upgrade = Vec::new();
        for (peer, path) in &mut self.peers {
            match path.upkeep(now, self.policy, self.keepalive) {
                Upkeep::Nothing => {}
                Upkeep::Keepalive(addr, nonce) => {
                    let punch = Packet::Punch {
                        from: me,
                        to: *peer,
                        nonce,
                    };
                    let _ = self.shared.send(&punch, addr);
                }
                Upkeep::Repunch => {
                    tracing::info!(peer = %peer, "direct path silent; looking the peer up again");
                    path.state = PathState::Unknown;
                    repunch.push(*peer);
                }
                Upkeep::Upgrade => upgrade.push(*peer),
            }
        }
        for peer in repunch {
            self.lookup(peer);
        }
        for peer in upgrade {
            self.try_upgrade(peer);
        }
    }

    /// Looks a relayed peer up again (CONNECT) without leaving the relay:
    /// the introduction starts a punch that makes the path direct if it
    /// succeeds.
    fn try_upgrade(&mut self, peer: PeerId) {
        if !self.upgrading.insert(peer) {
            return;
        }
        tracing::debug!(peer = %peer, "relayed path: trying a direct one again");
        self.connect(peer, true);
    }

    /// Sends due ping probes and answers pings that ran out of time.
    pub(super) fn ping_tick(&mut self, now: Instant) {
        let Some(me) = self.shared.id() else {
            return;
        };
        let interval = PING_TIMEOUT / PING_PROBES;
        let mut i = 0;
        while i < self.pings.len() {
            let p = &self.pings[i];
            let path = self.peers.get(&p.peer);
            if now >= p.deadline {
                let p = self.pings.swap_remove(i);
                let why = match path.map(|x| &x.state) {
                    Some(PathState::Waiting { reason, .. }) => format!("no path: {reason}"),
                    Some(PathState::Relayed { .. }) | Some(PathState::Direct { .. }) => format!(
                        "no answer within {} ms over the current path",
                        PING_TIMEOUT.as_millis()
                    ),
                    _ => "no path: the punch did not finish".into(),
                };
                let _ = p
                    .reply
                    .send(Err(unreachable(format!("peer {}: {why}", p.peer))));
                continue;
            }
            let route = path.and_then(PeerPath::route);
            let lookup = path.is_none_or(|x| x.needs_lookup(now));
            let peer = p.peer;
            if let (Some(route), true) = (route, now >= p.next_probe) {
                let nonce = random_nonce();
                let probe = Packet::Punch {
                    from: me,
                    to: peer,
                    nonce,
                };
                self.send_probe(&probe, route);
                let p = &mut self.pings[i];
                p.sent.push((nonce, now, route));
                p.next_probe = now + interval;
            } else if route.is_none() && lookup {
                self.lookup(peer);
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
        let rtt = now.duration_since(at);
        if let Some(path) = self.peers.get_mut(&peer) {
            path.rtt = Some(rtt);
            if matches!(route, Route::Direct(_)) {
                path.last_heard = Some(now);
            }
        }
        let (path, addr) = match route {
            Route::Direct(a) => (PathKind::Direct, Some(a.to_string())),
            Route::Relayed => (PathKind::Relayed, None),
        };
        let _ = p.reply.send(Ok(PingOutcome {
            to: peer,
            path,
            addr,
            rtt_ms: rtt.as_secs_f64() * 1000.0,
        }));
        true
    }
}

impl Handler<PunchReceived> for Outbox {
    type Result = ();

    fn handle(&mut self, m: PunchReceived, _ctx: &mut Self::Context) {
        let Some(me) = self.shared.id() else {
            return;
        };
        let now = Instant::now();
        if !m.ack && m.path == PathKind::Direct && self.policy == RelayPolicy::Always {
            // `--relay always`: no direct path either way, so no answer
            // that would let the peer record one.
            return;
        }
        if !m.ack {
            let ack = Packet::PunchAck {
                from: me,
                to: m.peer,
                nonce: m.nonce,
            };
            let route = match m.path {
                PathKind::Direct => Route::Direct(m.src),
                PathKind::Relayed => Route::Relayed,
            };
            self.send_probe(&ack, route);
        }
        if m.ack && self.pong(m.peer, m.nonce, now) {
            return;
        }
        if m.path == PathKind::Relayed {
            // Only a ping's business: a relayed probe never records a path.
            return;
        }
        let policy = self.policy;
        let path = self.peers.entry(m.peer).or_default();
        if policy == RelayPolicy::Always {
            return;
        }
        if !path.punch_matches(m.src, m.nonce, m.ack) {
            if !m.ack {
                // Maybe its introduction is still on the way (protocol.md 3
                // needs one): matched when it arrives, within a window.
                path.remember_punch(m.src, now);
            }
            return;
        }
        if m.ack {
            if let Some(sent) = path.probe_sent.take() {
                path.rtt = Some(now.duration_since(sent));
            }
        }
        if path.go_direct(m.src, now) {
            tracing::info!(peer = %m.peer, addr = %m.src, "direct path");
            self.flush(m.peer);
        }
    }
}

impl Handler<ListPaths> for Outbox {
    type Result = MessageResult<ListPaths>;

    fn handle(&mut self, _: ListPaths, _ctx: &mut Self::Context) -> Self::Result {
        let me = self.shared.id();
        let mut list: Vec<PeerPathInfo> = self
            .peers
            .iter()
            .filter(|(peer, _)| Some(**peer) != me)
            .map(|(peer, p)| {
                let queued = self.queue.ids_of(*peer).len();
                describe(*peer, p, u64::try_from(queued).unwrap_or(u64::MAX))
            })
            .collect();
        list.sort_by_key(|p| p.id);
        MessageResult(list)
    }
}

impl Handler<Ping> for Outbox {
    type Result = ();

    fn handle(&mut self, m: Ping, _ctx: &mut Self::Context) {
        let now = Instant::now();
        let has_route = self.peers.get(&m.to).and_then(PeerPath::route).is_some();
        // Without a path, leave time to look the peer up and punch.
        let wait = if has_route {
            PING_TIMEOUT
        } else {
            PING_TIMEOUT + PUNCH_WINDOW + Duration::from_secs(1)
        };
        self.pings.push(PendingPing {
            peer: m.to,
            sent: Vec::new(),
            next_probe: now,
            deadline: now + wait,
            reply: m.reply,
        });
        self.ping_tick(now);
    }
}

impl Outbox {
    /// A lookup found the peer never registered: fail its pings.
    pub(super) fn fail_pings(&mut self, peer: PeerId, message: &str) {
        let mut i = 0;
        while i < self.pings.len() {
            if self.pings[i].peer == peer {
                let p = self.pings.swap_remove(i);
                let _ = p.reply.send(Err(ControlError {
                    code: ErrorKind::UnknownPeer,
                    message: message.to_owned(),
                }));
            } else {
                i += 1;
            }
        }
    }
}

//! How the outbox finds its peers: CONNECT lookups and their answers,
//! introductions (INTRO), peers that are unreachable for now or were never
//! registered, refused RELAYs, and re-registration of the daemon.

use std::net::SocketAddr;
use std::time::Instant;

use actix::prelude::*;
use peerd_shared::control::MsgStatus;
use peerd_shared::wire::ErrorCode;
use peerd_shared::PeerId;

use super::{random_nonce, Lookup, Outbox};
use crate::peer::paths::PathState;
use crate::peer::registry_link::{ConnectPeer, LinkError};
use crate::peer::shared::format_ms;

/// The server introduced a peer that wants to talk (INTRO).
#[derive(Message)]
#[rtype(result = "()")]
pub struct IntroReceived {
    pub peer: PeerId,
    pub addr: SocketAddr,
}

/// The server refused a RELAY.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RelayFailed {
    pub target: PeerId,
    pub code: ErrorCode,
    pub message: String,
}

/// The daemon (re)registered: look up waiting peers again now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LinkUp;

/// Answer of a CONNECT the outbox sent.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct LookupDone {
    pub(super) peer: PeerId,
    pub(super) result: Result<SocketAddr, LinkError>,
    /// A try to make a relayed path direct: failures keep the relay.
    pub(super) upgrade: bool,
}

impl Handler<LookupDone> for Outbox {
    type Result = ();

    fn handle(&mut self, m: LookupDone, _ctx: &mut Self::Context) {
        let peer = m.peer;
        if m.upgrade {
            self.upgrading.remove(&peer);
            let path = self.peers.entry(peer).or_default();
            match m.result {
                Ok(addr) if matches!(path.state, PathState::Relayed { .. }) => {
                    if path.introduce(addr, random_nonce(), Instant::now(), self.policy) {
                        tracing::info!(peer = %peer, "direct path (upgraded from relay)");
                        self.flush(peer);
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(peer = %peer, error = %e, "upgrade lookup failed"),
            }
            return;
        }
        let answer = match m.result {
            Ok(addr) => {
                self.known.insert(peer);
                let path = self.peers.entry(peer).or_default();
                if path.introduce(addr, random_nonce(), Instant::now(), self.policy) {
                    tracing::info!(peer = %peer, "direct path (its PUNCH came first)");
                }
                if path.route().is_some() {
                    self.flush(peer);
                }
                Lookup::Found
            }
            Err(LinkError::UnknownPeer(_)) => {
                self.peers.entry(peer).or_default().state = PathState::Unknown;
                let reason = format!("peer {peer} was never registered");
                self.fail_all(peer, &reason);
                self.fail_pings(peer, &reason);
                Lookup::Unknown
            }
            Err(LinkError::PeerOffline(_)) => {
                self.known.insert(peer);
                let reason = format!("peer {peer} is offline");
                self.unreachable(peer, reason.clone());
                Lookup::Offline(reason)
            }
            Err(e) => {
                let reason = e.to_string();
                self.unreachable(peer, reason.clone());
                Lookup::Unreachable(reason)
            }
        };
        for w in self.lookups.remove(&peer).unwrap_or_default() {
            let _ = w.send(answer.clone());
        }
    }
}

impl Handler<IntroReceived> for Outbox {
    type Result = ();

    fn handle(&mut self, m: IntroReceived, _ctx: &mut Self::Context) {
        tracing::debug!(peer = %m.peer, addr = %m.addr, "introduced");
        self.known.insert(m.peer);
        let path = self.peers.entry(m.peer).or_default();
        if path.introduce(m.addr, random_nonce(), Instant::now(), self.policy) {
            tracing::info!(peer = %m.peer, "direct path (its PUNCH came first)");
        }
        if path.route().is_some() {
            self.flush(m.peer);
        }
        self.tick();
    }
}

impl Handler<RelayFailed> for Outbox {
    type Result = ();

    fn handle(&mut self, f: RelayFailed, _ctx: &mut Self::Context) {
        match f.code {
            ErrorCode::PeerOffline => {
                self.unreachable(f.target, format!("peer {} is offline", f.target));
            }
            ErrorCode::UnknownPeer => {
                self.fail_all(f.target, &format!("peer {} was never registered", f.target));
            }
            _ => {
                let reason = format!("relay refused: {}: {}", f.code, f.message);
                for id in self.queue.ids_of(f.target) {
                    if let Some(m) = self.queue.get_mut(id) {
                        m.last_error = Some(reason.clone());
                    }
                }
            }
        }
    }
}

impl Handler<LinkUp> for Outbox {
    type Result = ();

    fn handle(&mut self, _: LinkUp, _ctx: &mut Self::Context) {
        for (peer, path) in &mut self.peers {
            if matches!(path.state, PathState::Waiting { .. }) && self.queue.has_pending(*peer) {
                path.state = PathState::Unknown;
            }
        }
        self.tick();
    }
}

impl Outbox {
    /// Sends CONNECT for `peer` unless one is out; the answer comes back
    /// as [`LookupDone`].
    pub(super) fn lookup(&mut self, peer: PeerId) {
        let path = self.peers.entry(peer).or_default();
        if path.state == PathState::Connecting {
            return;
        }
        path.state = PathState::Connecting;
        self.connect(peer, false);
    }

    /// Asks the registry link to CONNECT to `peer`; the answer comes back as
    /// [`LookupDone`] carrying `upgrade` (a relayed path trying for direct).
    pub(super) fn connect(&self, peer: PeerId, upgrade: bool) {
        let req = self.link.send(ConnectPeer(peer));
        let me = self.me.clone();
        actix::spawn(async move {
            let result = req.await.unwrap_or(Err(LinkError::Stopping));
            if let Some(me) = me {
                me.do_send(LookupDone {
                    peer,
                    result,
                    upgrade,
                });
            }
        });
    }

    /// The peer is unreachable for now: answer waiting senders with a note
    /// and record it as the messages' last error.
    pub(super) fn unreachable(&mut self, peer: PeerId, reason: String) {
        self.peers
            .entry(peer)
            .or_default()
            .wait(reason.clone(), Instant::now());
        let ids = self.queue.ids_of(peer);
        let mut notes = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(m) = self.queue.get_mut(id) {
                if m.waiters.is_empty() && m.last_error.as_deref() == Some(reason.as_str()) {
                    continue;
                }
                m.last_error = Some(reason.clone());
                let note = format!("{reason}; queued until {}", format_ms(m.expires_ms));
                let outcome = m.outcome(id, MsgStatus::Queued, None, Some(note));
                for w in m.waiters.drain(..) {
                    let _ = w.send(outcome.clone());
                }
                notes.push((id, m.attempts));
            }
        }
        if notes.is_empty() {
            return;
        }
        let store = self.store.clone();
        actix::spawn(async move {
            let r = store
                .call(move |s| {
                    notes
                        .iter()
                        .try_for_each(|(id, attempts)| s.note(*id, &reason, *attempts))
                })
                .await;
            if let Err(e) = r {
                tracing::error!(error = %e, "cannot record a delivery problem");
            }
        });
    }

    /// The peer was never registered: fail its messages at once.
    pub(super) fn fail_all(&mut self, peer: PeerId, reason: &str) {
        for id in self.queue.ids_of(peer) {
            if let Some(m) = self.queue.get_mut(id) {
                m.last_error = Some(reason.to_owned());
                m.expires_ms = 0;
            }
            self.expire(id);
        }
    }
}

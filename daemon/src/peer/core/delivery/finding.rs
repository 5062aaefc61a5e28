//! How the outbox finds its peers: CONNECT lookups and their answers,
//! introductions (INTRO), refused RELAYs, and the registration coming and
//! going (peers waiting to be looked up again are looked up at once when
//! the daemon registers).

use std::net::SocketAddr;

use peerd_shared::control::ErrorKind;
use peerd_shared::proto::ErrorCode;
use peerd_shared::PeerId;

use super::{Action, Delivery, LookupAnswer};
use crate::peer::core::clock::Now;
use crate::peer::core::path::PathState;
use crate::peer::core::registration::LinkError;

impl Delivery {
    /// The answer to a lookup of `peer` ([`Action::Lookup`]).
    pub fn looked_up(
        &mut self,
        peer: PeerId,
        result: Result<SocketAddr, LinkError>,
        upgrade: bool,
        now: Now,
    ) {
        if upgrade {
            self.upgraded(peer, result, now);
            return self.settle(now);
        }
        let answer = match result {
            Ok(addr) => {
                self.known.insert(peer);
                self.introduce(peer, addr, now);
                if self.path(peer).route().is_some() {
                    self.flush(peer, now);
                }
                LookupAnswer::Found
            }
            Err(LinkError::KeyChanged(change)) => {
                self.known.insert(peer);
                let reason = change.to_string();
                self.block(peer, reason.clone(), now);
                LookupAnswer::KeyChanged(reason)
            }
            Err(LinkError::UnknownPeer(_)) => {
                self.path(peer).forget();
                let reason = format!("peer {peer} was never registered");
                self.fail_all(peer, ErrorKind::UnknownPeer, &reason, now);
                self.fail_pings(peer, &reason);
                LookupAnswer::Unknown
            }
            Err(LinkError::PeerOffline(_)) => {
                self.known.insert(peer);
                let reason = format!("peer {peer} is offline");
                self.unreachable(peer, reason.clone(), now);
                LookupAnswer::Offline(reason)
            }
            Err(e) => {
                let reason = e.to_string();
                self.unreachable(peer, reason.clone(), now);
                LookupAnswer::Unreachable(reason)
            }
        };
        self.out.push(Action::Found { peer, answer });
        self.settle(now);
    }

    /// The answer to a lookup made to turn a relayed path direct: a punch
    /// starts while the relay keeps carrying messages.
    fn upgraded(&mut self, peer: PeerId, result: Result<SocketAddr, LinkError>, now: Now) {
        self.upgrading.remove(&peer);
        let relayed = matches!(self.path(peer).state(), PathState::Relayed { .. });
        match result {
            Ok(addr) if relayed => self.introduce(peer, addr, now),
            Ok(_) => {}
            Err(e) => tracing::debug!(%peer, error = %e, "upgrade lookup failed"),
        }
    }

    /// The server introduced `peer` at `addr` (INTRO): punch it.
    pub fn introduced(&mut self, peer: PeerId, addr: SocketAddr, now: Now) {
        tracing::debug!(%peer, %addr, "introduced");
        self.known.insert(peer);
        self.introduce(peer, addr, now);
        if self.path(peer).route().is_some() {
            self.flush(peer, now);
        }
        self.settle(now);
    }

    /// Starts punching `addr` (a relayed path keeps relaying meanwhile).
    fn introduce(&mut self, peer: PeerId, addr: SocketAddr, now: Now) {
        let policy = self.policy;
        let path = self.path(peer);
        let was_punching = matches!(path.state(), PathState::Punching { .. });
        path.introduce(addr, now.at, policy);
        if !was_punching && matches!(self.path(peer).state(), PathState::Punching { .. }) {
            self.stats.punches += 1;
        }
    }

    /// The server gave another key for `peer` than the pinned one: the
    /// peer is blocked until `trusted`; new sends are refused, and the
    /// queued messages and pings fail now (they were meant for the holder
    /// of the old key: after a trust they are not sent to the new one).
    pub fn key_changed(&mut self, peer: PeerId, reason: String, now: Now) {
        self.block(peer, reason, now);
        self.settle(now);
    }

    fn block(&mut self, peer: PeerId, reason: String, now: Now) {
        tracing::warn!(%peer, "{reason}");
        self.path(peer).block(reason.clone());
        self.fail_all(peer, ErrorKind::KeyChanged, &reason, now);
        self.fail_pings(peer, &reason);
    }

    /// The user trusted the new key of `peer`: look it up again.
    pub fn trusted(&mut self, peer: PeerId, now: Now) {
        self.path(peer).forget();
        if self.wanted(peer) {
            self.lookup(peer);
        }
        self.settle(now);
    }

    /// The server refused a RELAY to `target`.
    pub fn relay_refused(&mut self, target: PeerId, code: ErrorCode, message: &str, now: Now) {
        match code {
            ErrorCode::PeerOffline => {
                self.unreachable(target, format!("peer {target} is offline"), now);
            }
            ErrorCode::UnknownPeer => {
                let reason = format!("peer {target} was never registered");
                self.fail_all(target, ErrorKind::UnknownPeer, &reason, now);
            }
            _ => {
                let reason = format!("relay refused: {code}: {message}");
                for id in self.queue.ids_of(target) {
                    if let Some(m) = self.queue.get_mut(id) {
                        m.last_error = Some(reason.clone());
                    }
                }
            }
        }
        self.settle(now);
    }

    /// The daemon (re)registered as `id`: messages queued for `id` (for
    /// another peer when they were queued, before the server gave this
    /// daemon that id) can never be delivered and fail now, as a new one
    /// would be refused; peers waiting with messages are looked up again.
    pub fn link_up(&mut self, id: PeerId, now: Now) {
        self.me = Some(id);
        self.registered = true;
        if self.queue.has_pending(id) {
            let reason = format!(
                "peer {id} is this daemon itself (the server gave it that id when it registered)"
            );
            self.fail_all(id, ErrorKind::SelfTarget, &reason, now);
        }
        let waiting: Vec<PeerId> = self
            .paths
            .iter()
            .filter(|(peer, p)| p.waiting().is_some() && self.queue.has_pending(**peer))
            .map(|(peer, _)| *peer)
            .collect();
        for peer in waiting {
            self.path(peer).forget();
            self.lookup(peer);
        }
        self.settle(now);
    }

    /// The daemon is no longer registered.
    pub fn link_down(&mut self) {
        self.registered = false;
    }

    /// Sends CONNECT for `peer` unless one is out.
    pub(super) fn lookup(&mut self, peer: PeerId) {
        if self.path(peer).connecting() {
            self.out.push(Action::Lookup {
                peer,
                upgrade: false,
            });
        }
    }

    /// Looks a relayed peer up again (CONNECT) without leaving the relay:
    /// the introduction starts a punch that makes the path direct if it
    /// succeeds.
    pub(super) fn try_upgrade(&mut self, peer: PeerId) {
        if self.upgrading.insert(peer) {
            tracing::debug!(%peer, "relayed path: trying a direct one again");
            self.out.push(Action::Lookup {
                peer,
                upgrade: true,
            });
        }
    }
}

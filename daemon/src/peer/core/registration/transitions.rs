//! The registration's transitions: issuing, deferring and failing
//! requests, going offline, registering, re-authorizing, and reading the
//! server's replies.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::control::{ListedPeer, RegState};
use peerd_shared::wire::{self, ErrorCode, Packet};
use peerd_shared::PeerId;

use super::{Action, Answer, LinkError, Purpose, Registration};
use crate::peer::core::transport::ServerRequest;

impl<C> Registration<C> {
    fn registering(&self) -> bool {
        self.requests.any(|p| matches!(p, Purpose::Register))
    }

    /// Sends REGISTER now unless one is out (or the daemon is stopping).
    pub(super) fn register_now(&mut self, now: Instant) {
        if self.stopping || self.registering() {
            return;
        }
        self.next_register = None;
        self.issue(Purpose::Register, now);
    }

    /// Sends a request, or defers it until registered, or fails it.
    pub(super) fn issue(&mut self, purpose: Purpose<C>, now: Instant) {
        let request = match &purpose {
            Purpose::Register => ServerRequest::Register,
            Purpose::List { after, .. } => ServerRequest::List { after: *after },
            Purpose::Connect { target, .. } => ServerRequest::Connect { target: *target },
            Purpose::Unregister { .. } => ServerRequest::Unregister,
        };
        let ready = self.state == RegState::Registered && self.transport.id().is_some();
        match (request, ready, self.state) {
            (ServerRequest::Register, _, _) | (_, true, _) => {}
            (_, false, RegState::Offline) => {
                let reason = self.reason.clone().unwrap_or_else(|| "offline".into());
                return self.fail(purpose, LinkError::NotRegistered(reason));
            }
            (_, false, _) => {
                self.deferred.push(purpose);
                return self.register_now(now);
            }
        }
        match self.transport.seal_request(request) {
            Ok((seq, datagram)) => {
                self.out.push(Action::Send(datagram.clone()));
                self.requests.sent(seq, datagram, purpose, now);
            }
            Err(e) => self.fail(purpose, LinkError::Refused(e.to_string())),
        }
    }

    /// Answers whoever waits for `purpose` with `e`.
    pub(super) fn fail(&mut self, purpose: Purpose<C>, e: LinkError) {
        let (caller, result) = match purpose {
            Purpose::Register => return,
            Purpose::List { caller, .. } | Purpose::Connect { caller, .. } => (caller, Err(e)),
            Purpose::Unregister { caller } => (caller, Ok(Answer::Unregistered)),
        };
        self.out.push(Action::Answer { caller, result });
    }

    /// Leaves `Registered` (if it was): the outbox hears why.
    fn leave_registered(&mut self, state: RegState, why: &str) {
        if self.state == RegState::Registered {
            let reason = why.to_owned();
            self.out.push(Action::Down { reason });
        }
        self.state = state;
        self.transport.set_registered(None, false);
    }

    pub(super) fn went_offline(&mut self, reason: String, now: Instant) {
        if self.state != RegState::Offline {
            tracing::warn!(server = %self.server_text, %reason, "offline");
        }
        self.leave_registered(RegState::Offline, &reason);
        self.reason = Some(reason.clone());
        for purpose in std::mem::take(&mut self.deferred) {
            self.fail(purpose, LinkError::NotRegistered(reason.clone()));
        }
        if !self.stopping {
            self.next_register = Some(now + self.backoff.next_delay());
        }
    }

    fn registered(&mut self, id: PeerId, addr: SocketAddr, keepalive: u64, now: Instant) {
        let first = self.state != RegState::Registered || self.public_addr != Some(addr);
        if first {
            tracing::info!(%id, public_addr = %addr, "registered with {}", self.server_text);
        }
        if self.transport.id() != Some(id) {
            self.out.push(Action::RememberId(id));
        }
        self.transport.set_registered(Some(id), true);
        self.state = RegState::Registered;
        self.reason = None;
        self.public_addr = Some(addr);
        self.keepalive = Duration::from_secs(keepalive.max(1));
        self.backoff.reset();
        if !self.stopping {
            self.next_register = Some(now + self.keepalive);
        }
        for purpose in std::mem::take(&mut self.deferred) {
            self.issue(purpose, now);
        }
        if first {
            self.out.push(Action::Up { id });
        }
    }

    /// `unauthorized` (on a request, or on a RELAY when `purpose` is
    /// `None`): register again; a LIST or CONNECT is asked once more.
    pub(super) fn reauthorize(&mut self, purpose: Option<Purpose<C>>, now: Instant) {
        let retry = match purpose {
            Some(Purpose::List {
                after,
                acc,
                caller,
                reauth: true,
            }) => Some(Purpose::List {
                after,
                acc,
                caller,
                reauth: false,
            }),
            Some(Purpose::Connect {
                target,
                caller,
                reauth: true,
            }) => Some(Purpose::Connect {
                target,
                caller,
                reauth: false,
            }),
            Some(other) => {
                self.fail(other, LinkError::NotRegistered("unauthorized".into()));
                None
            }
            None => None,
        };
        if self.state == RegState::Registered {
            self.leave_registered(RegState::Connecting, "unauthorized");
        }
        self.deferred.extend(retry);
        self.register_now(now);
    }

    fn on_error(&mut self, purpose: Purpose<C>, code: ErrorCode, message: String, now: Instant) {
        match (purpose, code) {
            (Purpose::Register, _) => {
                let reason = format!("server refused REGISTER: {code}: {message}");
                self.went_offline(reason, now);
            }
            (purpose, ErrorCode::Unauthorized) => self.reauthorize(Some(purpose), now),
            (Purpose::Connect { target, caller, .. }, ErrorCode::UnknownPeer) => {
                let result = Err(LinkError::UnknownPeer(target));
                self.out.push(Action::Answer { caller, result });
            }
            (Purpose::Connect { target, caller, .. }, ErrorCode::PeerOffline) => {
                let result = Err(LinkError::PeerOffline(target));
                self.out.push(Action::Answer { caller, result });
            }
            (purpose, _) => self.fail(purpose, LinkError::Refused(format!("{code}: {message}"))),
        }
    }

    pub(super) fn on_reply(&mut self, packet: Packet, now: Instant) {
        let Some(seq) = packet.seq() else {
            return;
        };
        let Some(purpose) = self.requests.answered(seq) else {
            return;
        };
        match (packet, purpose) {
            (Packet::Error { code, message, .. }, purpose) => {
                self.on_error(purpose, code, message, now);
            }
            (
                Packet::RegisterAck {
                    id,
                    addr,
                    keepalive,
                    ..
                },
                Purpose::Register,
            ) => self.registered(id, addr, keepalive, now),
            (
                Packet::ListAck { peers, more, .. },
                Purpose::List {
                    acc,
                    caller,
                    reauth,
                    ..
                },
            ) => {
                self.listed(peers, more, acc, caller, reauth, now);
            }
            (Packet::ConnectAck { addr, .. }, Purpose::Connect { caller, .. }) => {
                let result = Ok(Answer::Addr(wire::canonical(addr)));
                self.out.push(Action::Answer { caller, result });
            }
            (Packet::UnregisterAck { .. }, Purpose::Unregister { caller }) => {
                let result = Ok(Answer::Unregistered);
                self.out.push(Action::Answer { caller, result });
            }
            (other, purpose) => {
                tracing::debug!(kind = %other.kind(), %seq, "reply does not match its request");
                self.fail(purpose, LinkError::Refused("mismatched reply".into()));
            }
        }
    }

    /// A LIST_ACK page: ask for the next one, or answer with them all.
    fn listed(
        &mut self,
        peers: Vec<wire::PeerEntry>,
        more: bool,
        mut acc: Vec<ListedPeer>,
        caller: C,
        reauth: bool,
        now: Instant,
    ) {
        let last = peers.last().map(|p| p.id.get());
        acc.extend(peers.into_iter().map(|p| ListedPeer {
            id: p.id,
            addr: wire::canonical(p.addr).to_string(),
        }));
        match (more, last) {
            (true, Some(after)) => {
                let next = Purpose::List {
                    after,
                    acc,
                    caller,
                    reauth,
                };
                self.issue(next, now);
            }
            _ => {
                let result = Ok(Answer::Peers(acc));
                self.out.push(Action::Answer { caller, result });
            }
        }
    }
}

//! The registration's transitions: handshake rounds and the server's key,
//! issuing, deferring and failing requests, going offline, registering,
//! re-authorizing; reading the server's replies is in `replies.rs`.

use std::net::SocketAddr;

use peerd_shared::control::RegState;
use peerd_shared::proto::{PublicKey, REKEY_AFTER};
use peerd_shared::PeerId;

use super::handshake::Step;
use super::{Action, Answer, LinkError, Purpose, Registration};
use crate::peer::core::clock::Now;
use crate::peer::core::transport::{SealError, ServerRequest};

impl<C> Registration<C> {
    /// Starts a handshake round now unless one is under way (or stopping).
    pub(super) fn begin_round(&mut self, now: Now) {
        if !self.stopping && self.rounds.begin(now.at) {
            self.handshake_try(now);
        }
    }

    /// One try: a REGISTER INIT, or a KEY_REQUEST while the key is unknown.
    pub(super) fn handshake_try(&mut self, now: Now) {
        if self.transport.server_key().is_none() {
            // While connecting, say what it does; once offline, the reason
            // (e.g. `did not answer`) stays until the server answers.
            if self.state == RegState::Connecting {
                self.reason = Some("asking the server for its key (first contact)".into());
            }
            let d = self.transport.key_request(now.at);
            return self.out.push(Action::Send(d));
        }
        match self.transport.register_init(now) {
            Ok(d) => {
                self.out.push(Action::Send(d));
                let ts = self.transport.last_timestamp();
                self.out.push(Action::RememberTimestamp(ts));
            }
            Err(e) => tracing::warn!(error = %e, "cannot start a REGISTER handshake"),
        }
    }

    /// What the rounds need at `now`.
    pub(super) fn rounds_due(&mut self, now: Now) {
        match self.rounds.due(now.at) {
            Some(Step::Try) => self.handshake_try(now),
            Some(Step::Unanswered) => {
                let reason = format!("server {} did not answer", self.server_text);
                if self.state != RegState::Registered {
                    self.went_offline(reason, now);
                }
                if self.move_home() {
                    // Another node: a round to it at once.
                    self.rounds.stop();
                    return self.begin_round(now);
                }
                // Does the server present another key than the pinned one?
                if self.transport.server_key().is_some() {
                    let d = self.transport.key_request(now.at);
                    self.out.push(Action::Send(d));
                }
            }
            None => {}
        }
    }

    /// The server announced its key (KEY_REPLY): pinned on first contact;
    /// another key than the pinned one is reported, never trusted.
    pub(super) fn server_key(&mut self, key: PublicKey, now: Now) {
        match self.transport.server_key() {
            None => {
                tracing::info!(
                    fingerprint = %key.fingerprint(),
                    "pinned the key of server {} (first contact)",
                    self.server_text
                );
                self.transport.pin_server_key(key);
                self.out.push(Action::PinServerKey(key));
                self.rounds.stop();
                self.begin_round(now);
            }
            Some(pinned) if pinned != key => {
                let reason = format!(
                    "server {} presents another key: fingerprint {}, but the pinned one is {}; \
                     if its key was replaced on purpose, re-pin it with `peerd start --server-key {}` \
                     (or remove server.pub from the data directory)",
                    self.server_text,
                    key.fingerprint(),
                    pinned.fingerprint(),
                    key
                );
                tracing::error!("{reason}");
                self.went_offline(reason, now);
            }
            Some(_) => {}
        }
    }

    /// Sends KEEPALIVE now (the refresh, and the confirmation of a new
    /// session), unless one is out.
    pub(super) fn keepalive_now(&mut self, now: Now) {
        self.next_keepalive = None;
        if !self.requests.any(|p| matches!(p, Purpose::Keepalive)) {
            self.issue(Purpose::Keepalive, now);
        }
    }

    /// The home server stopped answering: the next one of the list
    /// becomes the home (true), if there are several.
    fn move_home(&mut self) -> bool {
        if self.servers.len() < 2 || self.stopping {
            return false;
        }
        let from = self.server_text.clone();
        self.home = (self.home + 1) % self.servers.len();
        let (label, addr) = self.servers[self.home].clone();
        tracing::warn!(from = %from, to = %label, "server {from} does not answer: moving to {label}");
        self.server_text = label;
        self.transport.rehome(addr);
        self.public_addr = None;
        // Requests out with the old home are asked again of the new one
        // once registered there (a keepalive is not: registering is one).
        for purpose in self.requests.drain() {
            if !matches!(purpose, Purpose::Keepalive) {
                self.deferred.push(purpose);
            }
        }
        true
    }

    /// The server stopped answering requests: handshake again (with the
    /// next server, when there are several).
    pub(super) fn server_silent(&mut self, reason: String, now: Now) {
        self.leave_registered(RegState::Connecting, &reason);
        self.move_home();
        self.reason = Some(reason);
        self.rounds.stop();
        self.begin_round(now);
    }

    /// Sends a request, or defers it until registered, or fails it.
    pub(super) fn issue(&mut self, purpose: Purpose<C>, now: Now) {
        let request = match &purpose {
            Purpose::Keepalive => ServerRequest::Keepalive,
            Purpose::List { after, .. } => ServerRequest::List { after: *after },
            Purpose::Connect { target, .. } => ServerRequest::Connect { target: *target },
            Purpose::Unregister { .. } => ServerRequest::Unregister,
        };
        let ready = self.state == RegState::Registered || matches!(purpose, Purpose::Keepalive);
        match (ready, self.state) {
            (true, _) => {}
            (false, RegState::Offline) => {
                let reason = self.reason.clone().unwrap_or_else(|| "offline".into());
                return self.fail(purpose, LinkError::NotRegistered(reason));
            }
            (false, _) => {
                self.deferred.push(purpose);
                return self.begin_round(now);
            }
        }
        match self.transport.seal_request(request, now.at) {
            Ok((seq, datagram)) => {
                self.out.push(Action::Send(datagram));
                self.requests.sent(seq, request, purpose, now.at);
            }
            Err(SealError::NoServerSession) => {
                self.deferred.push(purpose);
                self.begin_round(now);
            }
            Err(e) => self.fail(purpose, LinkError::Refused(e.to_string())),
        }
    }

    /// Answers whoever waits for `purpose` with `e`.
    pub(super) fn fail(&mut self, purpose: Purpose<C>, e: LinkError) {
        let (caller, result) = match purpose {
            Purpose::Keepalive => return,
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
        self.next_keepalive = None;
        self.next_rekey = None;
        self.transport.set_registered(None, false);
    }

    pub(super) fn went_offline(&mut self, reason: String, _now: Now) {
        if self.state != RegState::Offline {
            tracing::warn!(server = %self.server_text, %reason, "offline");
        }
        self.leave_registered(RegState::Offline, &reason);
        self.reason = Some(reason.clone());
        for purpose in std::mem::take(&mut self.deferred) {
            self.fail(purpose, LinkError::NotRegistered(reason.clone()));
        }
    }

    /// Registered (by a handshake) or refreshed (by KEEPALIVE_ACK).
    pub(super) fn registered(&mut self, id: PeerId, addr: SocketAddr, keepalive: u16, now: Now) {
        let first = self.state != RegState::Registered || self.public_addr != Some(addr);
        if first {
            tracing::info!(%id, public_addr = %addr, "registered with {}", self.server_text);
        }
        if self.transport.id() != Some(id) {
            self.out.push(Action::RememberId(id));
        }
        self.transport.set_registered(Some(id), true);
        let was = self.state;
        self.state = RegState::Registered;
        self.reason = None;
        self.public_addr = Some(addr);
        self.keepalive = std::time::Duration::from_secs(u64::from(keepalive.max(1)));
        if !self.stopping {
            self.next_keepalive = Some(now.at + self.keepalive);
            if was != RegState::Registered || self.next_rekey.is_none() {
                self.next_rekey = Some(now.at + REKEY_AFTER);
            }
        }
        for purpose in std::mem::take(&mut self.deferred) {
            self.issue(purpose, now);
        }
        if first {
            self.out.push(Action::Up { id });
        }
    }

    /// `unauthorized` (on a request, or on a RELAY when `purpose` is
    /// `None`): handshake again; a LIST or CONNECT is asked once more.
    pub(super) fn reauthorize(&mut self, purpose: Option<Purpose<C>>, now: Now) {
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
        self.begin_round(now);
    }
}

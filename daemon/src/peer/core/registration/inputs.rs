//! The registration's state and its inputs: start, the callers' requests,
//! packets to seal, datagrams that arrived, and the timer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::control::RegState;
use peerd_shared::proto::{ErrorCode, DEFAULT_KEEPALIVE};
use peerd_shared::PeerId;

use super::handshake::Rounds;
use super::{Action, Answer, LinkError, LinkStatus, Purpose};
use crate::peer::core::clock::{Deadlines, Now};
use crate::peer::core::requests::{Due, Requests};
use crate::peer::core::timing::REQUEST_TRIES;
use crate::peer::core::transport::{Inbound, PeerKey, PeerPacket, Route, SealError, Transport};

/// The registration state machine and the transport it speaks through.
pub struct Registration<C> {
    pub(super) transport: Transport,
    /// The home server as configured, for reasons, logs and `status`.
    pub(super) server_text: String,
    /// Every server the daemon may use (the nodes of a cluster), as
    /// configured and resolved; the home is `servers[home]`.
    pub(super) servers: Vec<(String, SocketAddr)>,
    pub(super) home: usize,
    pub(super) state: RegState,
    pub(super) reason: Option<String>,
    pub(super) public_addr: Option<SocketAddr>,
    /// Refresh period the server asked for.
    pub(super) keepalive: Duration,
    pub(super) requests: Requests<Purpose<C>>,
    /// Requests waiting for the registration to complete.
    pub(super) deferred: Vec<Purpose<C>>,
    /// REGISTER handshakes (or KEY_REQUESTs) under way, and their timing.
    pub(super) rounds: Rounds,
    /// The next KEEPALIVE (while registered).
    pub(super) next_keepalive: Option<Instant>,
    /// The next re-key of the server session (while registered).
    pub(super) next_rekey: Option<Instant>,
    pub(super) stopping: bool,
    pub(super) out: Vec<Action<C>>,
}

impl<C> Registration<C> {
    /// Not registered yet; [`Registration::start`] begins.
    pub fn new(transport: Transport, server_text: String) -> Self {
        Self {
            servers: vec![(server_text.clone(), transport.server())],
            home: 0,
            transport,
            server_text,
            state: RegState::Connecting,
            reason: None,
            public_addr: None,
            keepalive: DEFAULT_KEEPALIVE,
            requests: Requests::default(),
            deferred: Vec::new(),
            rounds: Rounds::default(),
            next_keepalive: None,
            next_rekey: None,
            stopping: false,
            out: Vec::new(),
        }
    }

    /// Several servers (nodes of one cluster, sharing one key): the first
    /// is the home; when it stops answering, the next one is. `servers`
    /// holds labels and addresses, at least one.
    pub fn with_servers(mut self, servers: Vec<(String, SocketAddr)>) -> Self {
        if let Some((label, addr)) = servers.first() {
            self.server_text = label.clone();
            self.transport.rehome(*addr);
            self.servers = servers;
            self.home = 0;
        }
        self
    }

    /// What to do, in order, since the last call.
    pub fn take_actions(&mut self) -> Vec<Action<C>> {
        for d in self.transport.take_outgoing() {
            self.out.push(Action::Send(d));
        }
        std::mem::take(&mut self.out)
    }

    /// The state for `status`.
    pub fn status(&self) -> LinkStatus {
        LinkStatus {
            id: self.transport.id(),
            key: self.transport.public_key(),
            server_key: self.transport.server_key(),
            state: self.state,
            reason: self.reason.clone(),
            public_addr: self.public_addr,
            server: self.server_text.clone(),
        }
    }

    /// The transport, for tests that drive it directly.
    #[cfg(test)]
    pub fn transport_mut(&mut self) -> &mut Transport {
        &mut self.transport
    }

    /// A peer's pinned key (and one the server offered instead).
    pub fn peer_key(&self, peer: PeerId) -> Option<PeerKey> {
        self.transport.peer_key(peer)
    }

    /// The user trusts the key the server offered for `peer`.
    pub fn trust(&mut self, peer: PeerId) -> Option<peerd_shared::proto::PublicKey> {
        let key = self.transport.trust(peer)?;
        self.out.push(Action::PinPeerKey { peer, key });
        Some(key)
    }

    /// Registers now (asking the server for its key first when it is not
    /// known).
    pub fn start(&mut self, now: Now) {
        self.begin_round(now);
    }

    /// Every online peer, all LIST pages.
    pub fn list(&mut self, caller: C, now: Now) {
        let purpose = Purpose::List {
            after: 0,
            acc: Vec::new(),
            caller,
            reauth: true,
        };
        self.issue(purpose, now);
    }

    /// CONNECT: the target's address (the server also sends it INTRO).
    pub fn connect(&mut self, target: PeerId, caller: C, now: Now) {
        let reauth = true;
        self.issue(
            Purpose::Connect {
                target,
                caller,
                reauth,
            },
            now,
        );
    }

    /// UNREGISTER and stop registering (shutdown).
    pub fn unregister(&mut self, caller: C, now: Now) {
        self.stopping = true;
        self.rounds.stop();
        self.next_keepalive = None;
        self.next_rekey = None;
        if self.state == RegState::Registered {
            self.issue(Purpose::Unregister { caller }, now);
        } else {
            let result = Ok(Answer::Unregistered);
            self.out.push(Action::Answer { caller, result });
        }
    }

    /// Seals `packet` for `to` over `route` and sends it. Without a session
    /// a handshake goes instead ([`SealError::Handshaking`]); relaying
    /// needs the registration.
    pub fn transmit(
        &mut self,
        to: PeerId,
        route: Route,
        packet: PeerPacket,
        now: Now,
    ) -> Result<(), SealError> {
        let datagram = self.transport.seal_peer(to, route, packet, now)?;
        self.out.push(Action::Send(datagram));
        Ok(())
    }

    /// A datagram arrived: what concerns the server is handled here; the
    /// rest is returned for the other actors.
    pub fn receive(&mut self, src: SocketAddr, bytes: &[u8], now: Now) -> Vec<Inbound> {
        let mut rest = Vec::new();
        for inbound in self.transport.open(src, bytes, now) {
            match inbound {
                Inbound::Reply(reply) => self.on_reply(reply, now),
                Inbound::Registered {
                    id,
                    keepalive,
                    addr,
                } => {
                    self.rounds.succeeded();
                    self.registered(id, addr, keepalive, now);
                    // Confirm the new session at once (docs/protocol.md 3).
                    self.keepalive_now(now);
                }
                Inbound::RegisterRefused { code, message } => {
                    let reason = format!("server refused REGISTER: {code}: {message}");
                    self.rounds.failed(now.at);
                    self.went_offline(reason, now);
                }
                Inbound::CookieStored => {
                    // The INIT with the cookie counts toward the round's
                    // five (docs/protocol.md 3.4).
                    if self.rounds.extra_try() {
                        self.handshake_try(now);
                    }
                }
                Inbound::ServerKey(key) => self.server_key(key, now),
                Inbound::KeyPinned { peer, key } => {
                    self.out.push(Action::PinPeerKey { peer, key });
                }
                Inbound::RelayRefused {
                    code: ErrorCode::Unauthorized,
                    ..
                } => {
                    self.reauthorize(None, now);
                    rest.push(inbound);
                }
                other => rest.push(other),
            }
        }
        rest
    }
}

impl<C> Deadlines for Registration<C> {
    fn poll_timeout(&mut self) -> Option<Instant> {
        [
            self.requests.next_deadline(),
            self.rounds.next(),
            self.next_keepalive,
            self.next_rekey,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Retransmits, gives up, handshakes, refreshes and re-keys as due.
    fn handle_timeout(&mut self, now: Now) {
        self.transport.sweep_sessions(now.at);
        self.rounds_due(now);
        if self.next_keepalive.is_some_and(|at| at <= now.at) {
            self.keepalive_now(now);
        }
        if self.next_rekey.is_some_and(|at| at <= now.at) {
            self.next_rekey = None;
            tracing::debug!("re-keying the session with the server");
            self.begin_round(now);
        }
        while let Some(due) = self.requests.pop_due(now.at) {
            match due {
                Due::Resend(seq, request) => {
                    // Without a session now (a round began meanwhile) the
                    // try is skipped; the request is answered or given up
                    // on its own timer.
                    if let Ok(datagram) = self.transport.reseal_request(seq, request, now.at) {
                        self.out.push(Action::Send(datagram));
                    }
                }
                Due::GaveUp(purpose) => {
                    let reason = format!(
                        "server {} did not answer ({REQUEST_TRIES} tries)",
                        self.server_text
                    );
                    self.fail(purpose, LinkError::NotRegistered(reason.clone()));
                    // The server may have restarted (and lost its sessions)
                    // or gone: handshake again.
                    self.server_silent(reason, now);
                }
            }
        }
    }
}

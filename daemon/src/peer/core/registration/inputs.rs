//! The registration's state and its inputs: start, the callers' requests,
//! datagrams to seal and datagrams that arrived, and the timer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::control::RegState;
use peerd_shared::wire::{self, ErrorCode};
use peerd_shared::PeerId;

use super::{Action, Answer, LinkError, LinkStatus, Purpose};
use crate::peer::core::requests::{Due, Requests};
use crate::peer::core::timing::{Backoff, REQUEST_TRIES, RETRY_DELAYS};
use crate::peer::core::transport::{Inbound, PeerPacket, Route, SealError, Transport};

/// The registration state machine and the transport it speaks through.
pub struct Registration<C> {
    pub(super) transport: Transport,
    /// The server as configured, for reasons and logs.
    pub(super) server_text: String,
    pub(super) state: RegState,
    pub(super) reason: Option<String>,
    pub(super) public_addr: Option<SocketAddr>,
    /// Refresh period the server asked for.
    pub(super) keepalive: Duration,
    pub(super) requests: Requests<Purpose<C>>,
    /// Requests waiting for the registration to complete.
    pub(super) deferred: Vec<Purpose<C>>,
    pub(super) backoff: Backoff,
    pub(super) next_register: Option<Instant>,
    pub(super) stopping: bool,
    pub(super) out: Vec<Action<C>>,
}

impl<C> Registration<C> {
    /// Not registered yet; [`Registration::start`] sends the first REGISTER.
    pub fn new(transport: Transport, server_text: String) -> Self {
        Self {
            transport,
            server_text,
            state: RegState::Connecting,
            reason: None,
            public_addr: None,
            keepalive: wire::DEFAULT_KEEPALIVE,
            requests: Requests::default(),
            deferred: Vec::new(),
            backoff: RETRY_DELAYS,
            next_register: None,
            stopping: false,
            out: Vec::new(),
        }
    }

    /// What to do, in order, since the last call.
    pub fn take_actions(&mut self) -> Vec<Action<C>> {
        std::mem::take(&mut self.out)
    }

    /// The state for `status`.
    pub fn status(&self) -> LinkStatus {
        LinkStatus {
            id: self.transport.id(),
            state: self.state,
            reason: self.reason.clone(),
            public_addr: self.public_addr,
        }
    }

    /// Registers now.
    pub fn start(&mut self, now: Instant) {
        self.register_now(now);
    }

    /// Every online peer, all LIST pages.
    pub fn list(&mut self, caller: C, now: Instant) {
        let purpose = Purpose::List {
            after: 0,
            acc: Vec::new(),
            caller,
            reauth: true,
        };
        self.issue(purpose, now);
    }

    /// CONNECT: the target's address (the server also sends it INTRO).
    pub fn connect(&mut self, target: PeerId, caller: C, now: Instant) {
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
    pub fn unregister(&mut self, caller: C, now: Instant) {
        self.stopping = true;
        self.next_register = None;
        if self.state == RegState::Registered {
            self.issue(Purpose::Unregister { caller }, now);
        } else {
            let result = Ok(Answer::Unregistered);
            self.out.push(Action::Answer { caller, result });
        }
    }

    /// Seals `packet` for `to` over `route` and sends it. Relaying needs
    /// the registration; the error says why nothing was sent.
    pub fn transmit(
        &mut self,
        to: PeerId,
        route: Route,
        packet: PeerPacket,
        now: Instant,
    ) -> Result<(), SealError> {
        let datagram = self.transport.seal_peer(to, route, packet, now)?;
        self.out.push(Action::Send(datagram));
        Ok(())
    }

    /// A datagram arrived: server replies are handled here; anything else
    /// accepted is returned for the other actors.
    pub fn receive(&mut self, src: SocketAddr, bytes: &[u8], now: Instant) -> Option<Inbound> {
        let inbound = self.transport.open(src, bytes, now)?;
        match inbound {
            Inbound::Reply(packet) => {
                self.on_reply(packet, now);
                None
            }
            Inbound::RelayRefused {
                code: ErrorCode::Unauthorized,
                ..
            } => {
                self.reauthorize(None, now);
                Some(inbound)
            }
            other => Some(other),
        }
    }

    /// When [`Registration::handle_timeout`] must run next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        match (self.requests.next_deadline(), self.next_register) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Retransmits, gives up and re-registers as due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_register.is_some_and(|at| at <= now) {
            self.next_register = None;
            self.register_now(now);
        }
        while let Some(due) = self.requests.pop_due(now) {
            match due {
                Due::Resend(datagram) => self.out.push(Action::Send(datagram)),
                Due::GaveUp(purpose) => {
                    let reason = format!(
                        "server {} did not answer ({REQUEST_TRIES} tries)",
                        self.server_text
                    );
                    match purpose {
                        Purpose::Register => self.went_offline(reason, now),
                        other => {
                            self.fail(other, LinkError::NotRegistered(reason));
                            // The server may have restarted or gone: check by registering.
                            self.register_now(now);
                        }
                    }
                }
            }
        }
    }
}

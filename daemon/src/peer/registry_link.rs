//! The registry link: this daemon's relationship with the rendezvous server.
//! It registers on start and every `keepalive` seconds, retransmits requests
//! as protocol.md 2 says (250 ms doubling, 5 tries, same `seq`), backs off
//! while the server does not answer, re-registers after `unauthorized` or a
//! failed refresh, and serves LIST (every page), CONNECT, RELAY and
//! UNREGISTER for the other actors. Its state is `status`'s `state`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use peerd_shared::control::{ListedPeer, RegState};
use peerd_shared::wire::{self, ErrorCode, Packet};
use peerd_shared::{PeerId, Seq};
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::db::StoreHandle;
pub use super::link_request::LinkError;
use super::link_request::{fail, Pending, Purpose};
use super::outbox::{LinkUp, Outbox, RelayFailed};
use super::retry::{Backoff, REQUEST_TIMEOUT, REQUEST_TRIES};
use super::shared::Shared;

/// A datagram from the server that answers a request (routed by `seq`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ServerReply(pub Packet);

/// Every online peer, all LIST pages.
#[derive(Message)]
#[rtype(result = "Result<Vec<ListedPeer>, LinkError>")]
pub struct ListPeers;

/// CONNECT: the target's address (and an INTRO sent to it).
#[derive(Message)]
#[rtype(result = "Result<SocketAddr, LinkError>")]
pub struct ConnectPeer(pub PeerId);

/// RELAY a peer message through the server (no retransmission here: the
/// outbox retransmits messages, and every copy of a MESSAGE is acked).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RelayData {
    pub target: PeerId,
    pub data: Box<RawValue>,
}

/// UNREGISTER and stop registering (shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unregister;

/// The registration state for `status`.
#[derive(Message)]
#[rtype(result = "LinkStatus")]
pub struct GetLinkStatus;

/// Answer to [`GetLinkStatus`].
#[derive(Debug, Clone, MessageResponse)]
pub struct LinkStatus {
    pub state: RegState,
    pub reason: Option<String>,
    pub public_addr: Option<SocketAddr>,
}

/// The actor that speaks to the rendezvous server.
pub struct RegistryLink {
    shared: Arc<Shared>,
    store: StoreHandle,
    outbox: Addr<Outbox>,
    state: RegState,
    reason: Option<String>,
    public_addr: Option<SocketAddr>,
    keepalive: Duration,
    pending: HashMap<Seq, Pending>,
    /// Requests waiting for the registration to complete.
    deferred: Vec<Purpose>,
    /// Recent RELAY requests, to tell the outbox about failures.
    relays: HashMap<Seq, (PeerId, Instant)>,
    backoff: Backoff,
    next_register: Option<SpawnHandle>,
    stopping: bool,
}

impl RegistryLink {
    /// A link that registers as soon as it starts.
    pub fn new(shared: Arc<Shared>, store: StoreHandle, outbox: Addr<Outbox>) -> Self {
        Self {
            shared,
            store,
            outbox,
            state: RegState::Connecting,
            reason: None,
            public_addr: None,
            keepalive: wire::DEFAULT_KEEPALIVE,
            pending: HashMap::new(),
            deferred: Vec::new(),
            relays: HashMap::new(),
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(5)),
            next_register: None,
            stopping: false,
        }
    }

    fn registering(&self) -> bool {
        self.pending
            .values()
            .any(|p| matches!(p.purpose, Purpose::Register))
    }

    /// Sends REGISTER now unless one is in flight.
    fn register_now(&mut self, ctx: &mut Context<Self>) {
        if self.stopping || self.registering() {
            return;
        }
        if let Some(h) = self.next_register.take() {
            ctx.cancel_future(h);
        }
        self.issue(Purpose::Register, ctx);
    }

    fn schedule_register(&mut self, after: Duration, ctx: &mut Context<Self>) {
        if let Some(h) = self.next_register.take() {
            ctx.cancel_future(h);
        }
        self.next_register = Some(ctx.run_later(after, |act, ctx| {
            act.next_register = None;
            act.register_now(ctx);
        }));
    }

    /// Sends a request (or defers it until registered, or fails it).
    fn issue(&mut self, purpose: Purpose, ctx: &mut Context<Self>) {
        let id = self.shared.id();
        let token = self.shared.token;
        let needs_id = !matches!(purpose, Purpose::Register);
        let id = match (needs_id, id, self.state) {
            (false, _, _) => None,
            (true, Some(id), RegState::Registered) => Some(id),
            (true, _, RegState::Offline) => {
                let reason = self.reason.clone().unwrap_or_else(|| "offline".into());
                fail(purpose, LinkError::NotRegistered(reason));
                return;
            }
            (true, _, _) => {
                self.deferred.push(purpose);
                self.register_now(ctx);
                return;
            }
        };
        let seq = self.shared.next_seq();
        let packet = match (&purpose, id) {
            (Purpose::Register, _) => Packet::Register { seq, token },
            (Purpose::List { after, .. }, Some(id)) => Packet::List {
                seq,
                id,
                token,
                after: Some(*after),
            },
            (Purpose::Connect { target, .. }, Some(id)) => Packet::Connect {
                seq,
                id,
                token,
                target: *target,
            },
            (Purpose::Unregister(_), Some(id)) => Packet::Unregister { seq, id, token },
            _ => return,
        };
        let bytes = match wire::encode(&packet) {
            Ok(b) => b,
            Err(e) => {
                fail(purpose, LinkError::Refused(e.to_string()));
                return;
            }
        };
        self.shared.send_bytes(&bytes, self.shared.server);
        self.pending.insert(
            seq,
            Pending {
                bytes,
                tries: 1,
                timeout: REQUEST_TIMEOUT,
                purpose,
            },
        );
        ctx.run_later(REQUEST_TIMEOUT, move |act, ctx| act.retransmit(seq, ctx));
    }

    fn retransmit(&mut self, seq: Seq, ctx: &mut Context<Self>) {
        let Some(p) = self.pending.get_mut(&seq) else {
            return;
        };
        if p.tries < REQUEST_TRIES {
            p.tries += 1;
            p.timeout *= 2;
            let timeout = p.timeout;
            self.shared.send_bytes(&p.bytes, self.shared.server);
            ctx.run_later(timeout, move |act, ctx| act.retransmit(seq, ctx));
            return;
        }
        let Some(p) = self.pending.remove(&seq) else {
            return;
        };
        let reason = format!(
            "server {} did not answer ({} tries)",
            self.shared.server_text, REQUEST_TRIES
        );
        match p.purpose {
            Purpose::Register => self.went_offline(reason, ctx),
            other => {
                fail(other, LinkError::NotRegistered(reason));
                // The server may have restarted or gone: check by registering.
                self.register_now(ctx);
            }
        }
    }

    fn went_offline(&mut self, reason: String, ctx: &mut Context<Self>) {
        if self.state != RegState::Offline {
            tracing::warn!(server = %self.shared.server_text, %reason, "offline");
        }
        self.state = RegState::Offline;
        self.shared.set_registered(false);
        self.reason = Some(reason.clone());
        for purpose in std::mem::take(&mut self.deferred) {
            fail(purpose, LinkError::NotRegistered(reason.clone()));
        }
        let wait = self.backoff.next_delay();
        self.schedule_register(wait, ctx);
    }

    fn registered(
        &mut self,
        id: PeerId,
        addr: SocketAddr,
        keepalive: u64,
        ctx: &mut Context<Self>,
    ) {
        let first = self.state != RegState::Registered || self.public_addr != Some(addr);
        if first {
            tracing::info!(%id, public_addr = %addr, "registered with {}", self.shared.server_text);
        }
        if self.shared.id() != Some(id) {
            self.shared.set_id(id);
            let store = self.store.clone();
            actix::spawn(async move {
                let text = id.to_string();
                if let Err(e) = store.call(move |s| s.set_meta("id", &text)).await {
                    tracing::error!(error = %e, "cannot remember own id");
                }
            });
        }
        self.state = RegState::Registered;
        self.shared.set_registered(true);
        self.reason = None;
        self.public_addr = Some(addr);
        self.keepalive = Duration::from_secs(keepalive.max(1));
        self.backoff.reset();
        self.schedule_register(self.keepalive, ctx);
        for purpose in std::mem::take(&mut self.deferred) {
            self.issue(purpose, ctx);
        }
        if first {
            self.outbox.do_send(LinkUp);
        }
    }

    /// `unauthorized` on a request: register again and retry it once.
    fn reauthorize(&mut self, purpose: Purpose, ctx: &mut Context<Self>) {
        let retry = match purpose {
            Purpose::List {
                after,
                acc,
                reply,
                reauth: true,
            } => Some(Purpose::List {
                after,
                acc,
                reply,
                reauth: false,
            }),
            Purpose::Connect {
                target,
                reply,
                reauth: true,
            } => Some(Purpose::Connect {
                target,
                reply,
                reauth: false,
            }),
            other => {
                fail(other, LinkError::NotRegistered("unauthorized".into()));
                None
            }
        };
        if self.state == RegState::Registered {
            self.state = RegState::Connecting;
            self.shared.set_registered(false);
        }
        if let Some(p) = retry {
            self.deferred.push(p);
        }
        self.register_now(ctx);
    }

    fn on_error(&mut self, seq: Seq, code: ErrorCode, message: String, ctx: &mut Context<Self>) {
        if let Some((target, _)) = self.relays.remove(&seq) {
            if code == ErrorCode::Unauthorized {
                self.reauthorize_relay(ctx);
            }
            self.outbox.do_send(RelayFailed {
                target,
                code,
                message,
            });
            return;
        }
        let Some(p) = self.pending.remove(&seq) else {
            return;
        };
        match (p.purpose, code) {
            (Purpose::Register, _) => {
                let reason = format!("server refused REGISTER: {code}: {message}");
                self.went_offline(reason, ctx);
            }
            (purpose, ErrorCode::Unauthorized) => self.reauthorize(purpose, ctx),
            (Purpose::Connect { target, reply, .. }, ErrorCode::UnknownPeer) => {
                let _ = reply.send(Err(LinkError::UnknownPeer(target)));
            }
            (Purpose::Connect { target, reply, .. }, ErrorCode::PeerOffline) => {
                let _ = reply.send(Err(LinkError::PeerOffline(target)));
            }
            (purpose, _) => fail(purpose, LinkError::Refused(format!("{code}: {message}"))),
        }
    }

    fn reauthorize_relay(&mut self, ctx: &mut Context<Self>) {
        if self.state == RegState::Registered {
            self.state = RegState::Connecting;
            self.shared.set_registered(false);
        }
        self.register_now(ctx);
    }
}

impl Actor for RegistryLink {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.register_now(ctx);
        ctx.run_interval(Duration::from_secs(10), |act, _| {
            act.relays
                .retain(|_, (_, at)| at.elapsed() < wire::RETRY_WINDOW);
        });
    }
}

impl Handler<ServerReply> for RegistryLink {
    type Result = ();

    fn handle(&mut self, ServerReply(packet): ServerReply, ctx: &mut Self::Context) {
        let Some(seq) = packet.seq() else {
            return;
        };
        match packet {
            Packet::Error { code, message, .. } => self.on_error(seq, code, message, ctx),
            Packet::RelayAck { .. } => {
                self.relays.remove(&seq);
            }
            reply => {
                let Some(p) = self.pending.remove(&seq) else {
                    return;
                };
                match (reply, p.purpose) {
                    (
                        Packet::RegisterAck {
                            id,
                            addr,
                            keepalive,
                            ..
                        },
                        Purpose::Register,
                    ) => {
                        self.registered(id, addr, keepalive, ctx);
                    }
                    (
                        Packet::ListAck { peers, more, .. },
                        Purpose::List {
                            mut acc,
                            reply,
                            reauth,
                            ..
                        },
                    ) => {
                        let last = peers.last().map(|p| p.id.get());
                        acc.extend(peers.into_iter().map(|p| ListedPeer {
                            id: p.id,
                            addr: wire::canonical(p.addr).to_string(),
                        }));
                        match (more, last) {
                            (true, Some(after)) => {
                                self.issue(
                                    Purpose::List {
                                        after,
                                        acc,
                                        reply,
                                        reauth,
                                    },
                                    ctx,
                                );
                            }
                            _ => {
                                let _ = reply.send(Ok(acc));
                            }
                        }
                    }
                    (Packet::ConnectAck { addr, .. }, Purpose::Connect { reply, .. }) => {
                        let _ = reply.send(Ok(wire::canonical(addr)));
                    }
                    (Packet::UnregisterAck { .. }, Purpose::Unregister(reply)) => {
                        let _ = reply.send(());
                    }
                    (other, purpose) => {
                        tracing::debug!(kind = %other.kind(), %seq, "reply does not match its request");
                        fail(purpose, LinkError::Refused("mismatched reply".into()));
                    }
                }
            }
        }
    }
}

impl Handler<ListPeers> for RegistryLink {
    type Result = ResponseFuture<Result<Vec<ListedPeer>, LinkError>>;

    fn handle(&mut self, _: ListPeers, ctx: &mut Self::Context) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        let purpose = Purpose::List {
            after: 0,
            acc: Vec::new(),
            reply,
            reauth: true,
        };
        self.issue(purpose, ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(LinkError::Stopping)) })
    }
}

impl Handler<ConnectPeer> for RegistryLink {
    type Result = ResponseFuture<Result<SocketAddr, LinkError>>;

    fn handle(
        &mut self,
        ConnectPeer(target): ConnectPeer,
        ctx: &mut Self::Context,
    ) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        self.issue(
            Purpose::Connect {
                target,
                reply,
                reauth: true,
            },
            ctx,
        );
        Box::pin(async move { rx.await.unwrap_or(Err(LinkError::Stopping)) })
    }
}

impl Handler<RelayData> for RegistryLink {
    type Result = ();

    fn handle(&mut self, m: RelayData, _ctx: &mut Self::Context) {
        let (Some(id), RegState::Registered) = (self.shared.id(), self.state) else {
            return;
        };
        let seq = self.shared.next_seq();
        let packet = Packet::Relay {
            seq,
            id,
            token: self.shared.token,
            target: m.target,
            data: m.data,
        };
        match self.shared.send(&packet, self.shared.server) {
            Ok(()) => {
                self.relays.insert(seq, (m.target, Instant::now()));
            }
            Err(e) => self.outbox.do_send(RelayFailed {
                target: m.target,
                code: ErrorCode::TooLarge,
                message: e.to_string(),
            }),
        }
    }
}

impl Handler<Unregister> for RegistryLink {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Unregister, ctx: &mut Self::Context) -> Self::Result {
        self.stopping = true;
        if let Some(h) = self.next_register.take() {
            ctx.cancel_future(h);
        }
        if self.state != RegState::Registered {
            return Box::pin(async {});
        }
        let (reply, rx) = oneshot::channel();
        self.issue(Purpose::Unregister(reply), ctx);
        Box::pin(async move {
            // Do not hold up shutdown for a server that does not answer.
            let _ = tokio::time::timeout(Duration::from_secs(2), rx).await;
        })
    }
}

impl Handler<GetLinkStatus> for RegistryLink {
    type Result = LinkStatus;

    fn handle(&mut self, _: GetLinkStatus, _ctx: &mut Self::Context) -> LinkStatus {
        LinkStatus {
            state: self.state,
            reason: self.reason.clone(),
            public_addr: self.public_addr,
        }
    }
}

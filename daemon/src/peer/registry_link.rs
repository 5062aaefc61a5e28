//! The registry link: the actor that owns the daemon's UDP socket and its
//! [`Registration`] core (which owns the transport, hence every key and
//! session). Every datagram comes in here and is opened (authenticated and
//! decrypted) by the core, which answers the server's replies itself and
//! hands back the rest, routed here to the outbox or the inbox. Every
//! datagram goes out from here: the outbox and the inbox send peer packets
//! as [`Transmit`], sealed by the core for their route. It also serves
//! LIST, CONNECT (the outbox's lookups), UNREGISTER, `key` and `trust`,
//! keeps what must survive a restart (the pinned keys, the last handshake
//! timestamp, own id), and tells the outbox when the registration comes
//! ([`LinkEvent::Up`]) and goes ([`LinkEvent::Down`]).
//!
//! This file holds the actor, its datagrams in and out;
//! `registry_link/requests.rs` the requests other actors make of it (LIST, CONNECT,
//! UNREGISTER, status, keys, trust).

use std::path::PathBuf;
use std::time::Duration;

use actix::prelude::*;
use peerd_shared::control::ListedPeer;
use peerd_shared::PeerId;
use tokio::sync::oneshot;

use super::alarm::{now, rearm, Alarm, Driven};
use super::core::clock::Deadlines;
use super::core::registration::{Action, Answer, LinkError, Registration};
use super::core::transport::{Inbound, KeyChange, PeerPacket, Route, SealError};
use super::inbox::{Inbox, MessageReceived};
use super::outbox::{LinkEvent, Outbox};
use super::socket::{self, Received};
use super::store::StoreHandle;
use crate::notify;

mod requests;

pub use requests::{GetLinkStatus, GetPeerKey, ListPeers, Lookup, Trust, TrustOutcome, Unregister};

/// Packets for peers, each over its route.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Transmit(pub Vec<Outgoing>);

/// One packet for a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub peer: PeerId,
    pub route: Route,
    pub packet: PeerPacket,
}

/// Who waits for a request to the server.
pub enum Caller {
    List(oneshot::Sender<Result<Vec<ListedPeer>, LinkError>>),
    Lookup { peer: PeerId, upgrade: bool },
    Unregister(oneshot::Sender<()>),
}

/// The actor that speaks to the network.
pub struct RegistryLink {
    core: Registration<Caller>,
    /// The receiving side, until `started` turns it into a stream.
    udp: Option<tokio::net::UdpSocket>,
    sender: socket::Sender,
    outbox: Addr<Outbox>,
    inbox: Addr<Inbox>,
    store: StoreHandle,
    /// The data directory (the pinned server key lives there).
    data_dir: PathBuf,
    alarm: Alarm,
    /// READY=1 went to systemd (once: registered, or [`READY_WAIT`] passed).
    ready: bool,
}

/// Longest wait before systemd hears READY=1 without a registration: the
/// daemon then runs offline (its control socket serves, sends queue) and
/// keeps trying.
pub const READY_WAIT: Duration = Duration::from_secs(10);

impl RegistryLink {
    /// A link over `udp` (sending through `sender`, a duplicate of it)
    /// that registers as soon as it starts.
    pub fn new(
        core: Registration<Caller>,
        udp: tokio::net::UdpSocket,
        sender: socket::Sender,
        outbox: Addr<Outbox>,
        inbox: Addr<Inbox>,
        store: StoreHandle,
        data_dir: PathBuf,
    ) -> Self {
        Self {
            core,
            udp: Some(udp),
            sender,
            outbox,
            inbox,
            store,
            data_dir,
            alarm: Alarm::default(),
            ready: false,
        }
    }

    /// Tells systemd the daemon is up (`Type=notify`), once, and its state
    /// in a STATUS= line every time it changes.
    fn announce(&mut self, status: &str) {
        if self.ready {
            notify::status(status);
        } else {
            self.ready = true;
            notify::ready(status);
        }
    }

    fn answer(&self, caller: Caller, result: Result<Answer, LinkError>) {
        match (caller, result) {
            (Caller::List(reply), Ok(Answer::Peers(peers))) => {
                let _ = reply.send(Ok(peers));
            }
            (Caller::List(reply), Err(e)) => {
                let _ = reply.send(Err(e));
            }
            (Caller::Lookup { peer, upgrade }, result) => {
                let result = result.and_then(|a| match a {
                    Answer::Addr(addr) => Ok(addr),
                    other => Err(LinkError::Refused(format!("unexpected answer {other:?}"))),
                });
                self.outbox.do_send(LinkEvent::LookupDone {
                    peer,
                    result,
                    upgrade,
                });
            }
            (Caller::Unregister(reply), _) => {
                let _ = reply.send(());
            }
            (Caller::List(reply), Ok(other)) => {
                let e = LinkError::Refused(format!("unexpected answer {other:?}"));
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Stores own id (from the first REGISTERED, or a new one).
    fn remember(&self, id: PeerId) {
        let text = id.to_string();
        self.keep("own id", move |s| s.set_meta("id", &text));
    }

    /// Writes `what` in the store (in the background; a failure is logged).
    fn keep<F>(&self, what: &'static str, write: F)
    where
        F: FnOnce(&mut super::store::Store) -> Result<(), super::store::StoreError>
            + Send
            + 'static,
    {
        let store = self.store.clone();
        actix::spawn(async move {
            if let Err(e) = store.call(write).await {
                tracing::error!(error = %e, "cannot keep {what}");
            }
        });
    }

    /// Hands what arrived to the actor it is for.
    fn route(&self, inbound: Inbound) {
        match inbound {
            Inbound::Intro { peer, addr } => {
                self.outbox.do_send(LinkEvent::Introduced { peer, addr });
            }
            Inbound::KeyChanged {
                peer,
                pinned,
                offered,
            } => {
                let reason = KeyChange::new(peer, &pinned, &offered).to_string();
                self.outbox.do_send(LinkEvent::KeyChanged { peer, reason });
            }
            Inbound::PathProof { peer, src } => {
                self.outbox.do_send(LinkEvent::PathProof { peer, src });
            }
            Inbound::SessionReady { peer } => {
                self.outbox.do_send(LinkEvent::SessionReady { peer });
            }
            Inbound::Peer {
                origin,
                packet: PeerPacket::Message { msg, text, ts },
            } => self.inbox.do_send(MessageReceived {
                origin,
                msg,
                text,
                ts,
            }),
            Inbound::Peer { origin, packet } => {
                self.outbox.do_send(LinkEvent::Packet { origin, packet });
            }
            Inbound::RelayRefused {
                target,
                code,
                message,
            } => self.outbox.do_send(LinkEvent::RelayRefused {
                target,
                code,
                message,
            }),
            // Handled by the core.
            Inbound::Reply(_)
            | Inbound::Registered { .. }
            | Inbound::RegisterRefused { .. }
            | Inbound::CookieStored
            | Inbound::ServerKey(_)
            | Inbound::KeyPinned { .. } => {}
        }
    }

    /// Seals and sends one packet. Without a session it waits for the
    /// handshake the core started (the outbox retransmits; the session's
    /// readiness flushes it); a MESSAGE that can never be sealed fails.
    fn transmit(&mut self, out: Outgoing, now: super::core::clock::Now) {
        let msg = match &out.packet {
            PeerPacket::Message { msg, .. } => Some(*msg),
            _ => None,
        };
        match (
            self.core.transmit(out.peer, out.route, out.packet, now),
            msg,
        ) {
            (Ok(()) | Err(SealError::Handshaking(_)), _) => {}
            (Err(e @ SealError::Seal(_)), Some(msg)) => {
                let reason = e.to_string();
                self.outbox.do_send(LinkEvent::Unsendable { msg, reason });
            }
            (Err(e), _) => tracing::debug!(peer = %out.peer, error = %e, "not sent"),
        }
    }
}

impl Driven for RegistryLink {
    fn timed(&mut self) -> (&mut dyn Deadlines, &mut Alarm) {
        (&mut self.core, &mut self.alarm)
    }

    fn carry_out(&mut self, ctx: &mut Context<Self>) {
        for action in self.core.take_actions() {
            match action {
                Action::Send(datagram) => self.sender.send(&datagram),
                Action::Answer { caller, result } => self.answer(caller, result),
                Action::Up { id } => {
                    self.announce(&format!("registered as id {id}"));
                    self.outbox.do_send(LinkEvent::Up { id });
                }
                Action::Down { reason } => {
                    if self.ready {
                        notify::status(&format!("not registered: {reason}"));
                    }
                    self.outbox.do_send(LinkEvent::Down { reason });
                }
                Action::RememberId(id) => self.remember(id),
                Action::RememberTimestamp(ts) => {
                    self.keep("the handshake timestamp", move |s| s.set_last_timestamp(ts))
                }
                Action::PinPeerKey { peer, key } => {
                    let at = now().unix_ms;
                    tracing::info!(%peer, fingerprint = %key.fingerprint(), "pinned the peer's key");
                    self.keep("a peer's key", move |s| s.pin_key(peer, &key, at));
                }
                Action::PinServerKey(key) => {
                    if let Err(e) = super::identity::pin_server_key(&self.data_dir, &key) {
                        tracing::error!(error = %e, "cannot pin the server's key");
                    }
                }
            }
        }
        rearm(self, ctx);
    }
}

impl Actor for RegistryLink {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Some(udp) = self.udp.take() {
            ctx.add_stream(socket::received(udp));
        }
        self.core.start(now());
        self.carry_out(ctx);
        ctx.run_later(READY_WAIT, |link, _| {
            if !link.ready {
                link.announce("running, not registered yet (still trying)");
            }
        });
    }
}

impl StreamHandler<Received> for RegistryLink {
    fn handle(&mut self, d: Received, ctx: &mut Self::Context) {
        for inbound in self.core.receive(d.src, &d.bytes, now()) {
            self.route(inbound);
        }
        self.carry_out(ctx);
    }

    /// The receive stream never ends on its own; keep the actor alive anyway.
    fn finished(&mut self, _ctx: &mut Self::Context) {
        tracing::warn!("udp receive stream ended");
    }
}

impl Handler<Transmit> for RegistryLink {
    type Result = ();

    fn handle(&mut self, Transmit(packets): Transmit, ctx: &mut Self::Context) {
        let at = now();
        for out in packets {
            self.transmit(out, at);
        }
        self.carry_out(ctx);
    }
}

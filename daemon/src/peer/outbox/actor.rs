//! The outbox's messages, the actor, and how it carries out the core's
//! actions. The handlers are in `sends` (queueing and the store) and
//! `events` (what the link, `peers` and `ping` bring).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use actix::prelude::*;
use peerd_shared::control::{ControlError, PeerPathInfo, PingOutcome, SendOutcome};
use peerd_shared::proto::ErrorCode;
use peerd_shared::{MsgId, PeerId};
use tokio::sync::oneshot;

use super::sends::{OutboxWrite, Then};
use crate::peer::alarm::{now, rearm, Alarm, Driven};
use crate::peer::core::clock::{Deadlines, Now};
use crate::peer::core::delivery::{Action, Change, Delivery, PingId};
use crate::peer::core::queue::OutMsg;
use crate::peer::core::registration::LinkError;
use crate::peer::core::transport::{Origin, PeerPacket};
use crate::peer::metrics::PeerMetrics;
use crate::peer::registry_link::{Lookup, Outgoing, RegistryLink, Transmit};
use crate::peer::store::batch::{self, Batch};
use crate::peer::store::StoreHandle;

/// Queue a text (the store assigns its `msg`); answered through `reply`
/// once stored.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Enqueue {
    pub to: PeerId,
    pub text: String,
    pub ttl: Duration,
    pub wait: bool,
    pub reply: oneshot::Sender<Result<Accepted, ControlError>>,
}

/// Answer to [`Enqueue`]: the queued outcome, and the final one to await
/// when the caller asked to wait and the peer is reachable.
pub struct Accepted {
    pub queued: SendOutcome,
    pub delivered: Option<oneshot::Receiver<SendOutcome>>,
}

/// What the registry link tells the outbox.
#[derive(Message)]
#[rtype(result = "()")]
pub enum LinkEvent {
    /// A PROBE, PROBE_ACK or MESSAGE_ACK arrived (directly or relayed).
    Packet { origin: Origin, packet: PeerPacket },
    /// An authenticated datagram from `peer` came directly from `src`.
    PathProof { peer: PeerId, src: SocketAddr },
    /// A session with `peer` can send now.
    SessionReady { peer: PeerId },
    /// The server gave another key for a pinned peer.
    KeyChanged { peer: PeerId, reason: String },
    /// The user trusted the new key of `peer`.
    Trusted { peer: PeerId },
    /// The server introduced a peer that wants to talk (INTRO).
    Introduced { peer: PeerId, addr: SocketAddr },
    /// The server refused a RELAY.
    RelayRefused {
        target: PeerId,
        code: ErrorCode,
        message: String,
    },
    /// The daemon (re)registered as `id`.
    Up { id: PeerId },
    /// The daemon is no longer registered.
    Down { reason: String },
    /// The answer to a [`Lookup`].
    LookupDone {
        peer: PeerId,
        result: Result<SocketAddr, LinkError>,
        upgrade: bool,
    },
    /// A message can never be sealed for its peer: it fails now.
    Unsendable { msg: MsgId, reason: String },
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

/// `outbox_delete`: these messages are no longer sent and leave the store
/// (a `send` waiting for one fails as `expired`); answered with how many
/// the store held.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Delete {
    pub msgs: Vec<MsgId>,
    pub reply: oneshot::Sender<Result<u64, ControlError>>,
}

/// Shutdown has begun: refuse new messages.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stopping;

/// The actor that delivers this daemon's messages.
pub struct Outbox {
    pub(super) core: Delivery,
    pub(super) link: Addr<RegistryLink>,
    pub(super) batch: Batch<OutboxWrite, Then>,
    /// `send` callers waiting for a message's final outcome.
    pub(super) waiters: HashMap<MsgId, Vec<oneshot::Sender<SendOutcome>>>,
    /// Sends held until their peer's lookup ends.
    pub(super) held: HashMap<PeerId, Vec<Enqueue>>,
    pub(super) pings: HashMap<PingId, oneshot::Sender<Result<PingOutcome, ControlError>>>,
    pub(super) next_ping: PingId,
    pub(super) stopping: bool,
    alarm: Alarm,
    /// Counters for `--metrics`, when it is on.
    pub metrics: Option<PeerMetrics>,
}

impl Outbox {
    /// An outbox over `core`; it resumes queued messages when started.
    pub fn new(core: Delivery, link: Addr<RegistryLink>, store: StoreHandle) -> Self {
        Self {
            core,
            link,
            batch: Batch::new(store),
            waiters: HashMap::new(),
            held: HashMap::new(),
            pings: HashMap::new(),
            next_ping: 0,
            stopping: false,
            alarm: Alarm::default(),
            metrics: None,
        }
    }

    /// Gives the messages still queued in the store to the core.
    fn resume(&mut self, rows: Vec<crate::peer::store::QueuedRow>, now: Now) {
        if !rows.is_empty() {
            tracing::info!(count = rows.len(), "resuming queued messages");
        }
        for row in rows {
            let m = OutMsg::new(row.to, row.text, row.created_ms, row.expires_ms, now.at);
            self.core.queued(row.msg, m, false, now);
        }
    }
}

impl Driven for Outbox {
    fn timed(&mut self) -> (&mut dyn Deadlines, &mut Alarm) {
        (&mut self.core, &mut self.alarm)
    }

    /// Also sends the writes waiting for the store.
    fn carry_out(&mut self, ctx: &mut Context<Self>) {
        let now = now();
        let mut packets = Vec::new();
        for action in self.core.take_actions() {
            match action {
                Action::Transmit {
                    peer,
                    route,
                    packet,
                } => packets.push(Outgoing {
                    peer,
                    route,
                    packet,
                }),
                Action::Lookup { peer, upgrade } => self.link.do_send(Lookup { peer, upgrade }),
                Action::Record {
                    msg,
                    change,
                    outcome,
                } => {
                    if let Some(m) = &self.metrics {
                        match &change {
                            Change::Delivered { path, .. } => {
                                m.delivered(*path, outcome.elapsed_ms)
                            }
                            Change::Failed { .. } => m.failed(),
                            Change::Noted { .. } => {}
                        }
                    }
                    self.batch.push(
                        OutboxWrite::Change { msg, change },
                        Then::Answer { msg, outcome },
                    );
                }
                Action::Found { peer, answer } => self.found(peer, &answer, now),
                Action::Pong { ping, result } => {
                    if let Some(reply) = self.pings.remove(&ping) {
                        let _ = reply.send(result);
                    }
                }
            }
        }
        if !packets.is_empty() {
            self.link.do_send(Transmit(packets));
        }
        if let Some(m) = &self.metrics {
            m.update(self.core.stats(), || self.core.path_counts());
        }
        batch::flush(self, ctx);
        rearm(self, ctx);
    }
}

impl Actor for Outbox {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let store = self.batch.store().clone();
        let rows = async move { store.read(|s| s.queued()).await };
        ctx.spawn(rows.into_actor(self).map(|rows, act, ctx| {
            match rows {
                Ok(rows) => act.resume(rows, now()),
                Err(e) => tracing::error!(error = %e, "cannot load queued messages"),
            }
            act.carry_out(ctx);
        }));
    }
}

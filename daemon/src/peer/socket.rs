//! The UDP socket owner: receives every datagram, decodes it and routes it
//! by type. Server replies, INTRO and RELAYED are accepted only from the
//! server's address; peer messages whose `to` is not this daemon are dropped.
//! Sending is done by each actor through the shared socket, never here.

use std::net::SocketAddr;
use std::sync::Arc;

use actix::prelude::*;
use peerd_shared::control::PathKind;
use peerd_shared::wire::{self, Packet};
use peerd_shared::PeerId;

use super::inbox::{Inbox, MessageReceived};
use super::outbox::{AckReceived, IntroReceived, Outbox, PunchReceived};
use super::registry_link::{RegistryLink, ServerReply};
use super::shared::Shared;

/// Largest datagram read; bigger ones are truncated and fail to decode.
const RECV_BUFFER: usize = 2048;

/// One received datagram.
pub struct Datagram {
    bytes: Vec<u8>,
    src: SocketAddr,
}

/// The actor that owns the receiving side of the UDP socket.
pub struct Socket {
    shared: Arc<Shared>,
    link: Addr<RegistryLink>,
    outbox: Addr<Outbox>,
    inbox: Addr<Inbox>,
}

impl Socket {
    /// The router; start it with `Socket::new(..).start()`.
    pub fn new(
        shared: Arc<Shared>,
        link: Addr<RegistryLink>,
        outbox: Addr<Outbox>,
        inbox: Addr<Inbox>,
    ) -> Self {
        Self {
            shared,
            link,
            outbox,
            inbox,
        }
    }

    fn route(&self, packet: Packet, src: SocketAddr) {
        let from_server = src == self.shared.server;
        match packet {
            Packet::RegisterAck { .. }
            | Packet::ListAck { .. }
            | Packet::ConnectAck { .. }
            | Packet::UnregisterAck { .. }
            | Packet::RelayAck { .. }
            | Packet::Error { .. } => {
                if from_server {
                    self.link.do_send(ServerReply(packet));
                } else {
                    tracing::debug!(%src, kind = %packet.kind(), "dropped a reply not from the server");
                }
            }
            Packet::Intro { from, addr } if from_server => {
                self.outbox.do_send(IntroReceived { peer: from, addr });
            }
            Packet::Relayed { from, data } if from_server => match wire::decode_data(&data) {
                Ok(inner) if peer_from(&inner) == Some(from) => {
                    self.peer_packet(inner, src, PathKind::Relayed);
                }
                Ok(_) => tracing::debug!(peer = %from, "dropped a RELAYED whose data.from differs"),
                Err(e) => tracing::debug!(peer = %from, error = %e, "dropped a bad RELAYED"),
            },
            Packet::Punch { .. }
            | Packet::PunchAck { .. }
            | Packet::Message { .. }
            | Packet::MessageAck { .. } => self.peer_packet(packet, src, PathKind::Direct),
            other => {
                tracing::debug!(%src, kind = %other.kind(), "dropped an unexpected datagram");
            }
        }
    }

    fn peer_packet(&self, packet: Packet, src: SocketAddr, path: PathKind) {
        let Some(me) = self.shared.id() else {
            return;
        };
        let (from, to) = match &packet {
            Packet::Punch { from, to, .. }
            | Packet::PunchAck { from, to, .. }
            | Packet::Message { from, to, .. }
            | Packet::MessageAck { from, to, .. } => (*from, *to),
            _ => return,
        };
        if to != me {
            tracing::debug!(%src, %to, "dropped a peer message for another id");
            return;
        }
        match packet {
            Packet::Punch { nonce, .. } => {
                self.outbox.do_send(PunchReceived {
                    peer: from,
                    nonce,
                    src,
                    ack: false,
                    path,
                });
            }
            Packet::PunchAck { nonce, .. } => {
                self.outbox.do_send(PunchReceived {
                    peer: from,
                    nonce,
                    src,
                    ack: true,
                    path,
                });
            }
            Packet::Message { msg, text, ts, .. } => self.inbox.do_send(MessageReceived {
                from,
                msg,
                text,
                ts,
                src,
                path,
            }),
            Packet::MessageAck { msg, .. } => self.outbox.do_send(AckReceived {
                peer: from,
                msg,
                path,
                src,
            }),
            _ => {}
        }
    }
}

fn peer_from(p: &Packet) -> Option<PeerId> {
    match p {
        Packet::Message { from, .. }
        | Packet::MessageAck { from, .. }
        | Packet::Punch { from, .. }
        | Packet::PunchAck { from, .. } => Some(*from),
        _ => None,
    }
}

impl Actor for Socket {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let udp = self.shared.udp.clone();
        let stream = futures_util::stream::unfold(udp, |udp| async move {
            let mut buf = vec![0u8; RECV_BUFFER];
            loop {
                match udp.recv_from(&mut buf).await {
                    Ok((n, src)) => {
                        buf.truncate(n);
                        let item = Datagram {
                            bytes: buf,
                            src: wire::canonical(src),
                        };
                        return Some((item, udp));
                    }
                    // ICMP errors surface here on some systems; keep receiving.
                    Err(e) => tracing::debug!(error = %e, "udp receive error"),
                }
            }
        });
        ctx.add_stream(stream);
    }
}

impl StreamHandler<Datagram> for Socket {
    fn handle(&mut self, d: Datagram, _ctx: &mut Self::Context) {
        match wire::decode(&d.bytes) {
            Ok(packet) => self.route(packet, d.src),
            Err(e) => tracing::debug!(src = %d.src, error = %e, "dropped an undecodable datagram"),
        }
    }

    /// The receive stream never ends on its own; keep the actor alive anyway.
    fn finished(&mut self, _ctx: &mut Self::Context) {
        tracing::warn!("udp receive stream ended");
    }
}

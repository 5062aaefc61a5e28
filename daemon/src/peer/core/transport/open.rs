//! The receiving side: every datagram that arrives is read here.

use std::net::SocketAddr;
use std::time::Instant;

use peerd_shared::wire::{self, Packet};
use peerd_shared::PeerId;

use super::{Inbound, Origin, PeerPacket, Route, Transport};

impl Transport {
    /// Reads a datagram from `src`: what it is, or `None` when it is
    /// dropped (undecodable, not from the server where it must be, for
    /// another id) or fully handled here (RELAY_ACK).
    pub fn open(&mut self, src: SocketAddr, bytes: &[u8], now: Instant) -> Option<Inbound> {
        let src = wire::canonical(src);
        let packet = match wire::decode(bytes) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(%src, error = %e, "dropped an undecodable datagram");
                return None;
            }
        };
        let from_server = src == self.server;
        match packet {
            Packet::RegisterAck { .. }
            | Packet::ListAck { .. }
            | Packet::ConnectAck { .. }
            | Packet::UnregisterAck { .. }
            | Packet::RelayAck { .. }
            | Packet::Error { .. }
                if !from_server =>
            {
                tracing::debug!(%src, kind = %packet.kind(), "dropped a reply not from the server");
                None
            }
            Packet::RelayAck { seq } => {
                self.relays.answered(seq, now);
                None
            }
            Packet::Error { seq, code, message } => match self.relays.answered(seq, now) {
                Some(target) => Some(Inbound::RelayRefused {
                    target,
                    code,
                    message,
                }),
                None => Some(Inbound::Reply(Packet::Error { seq, code, message })),
            },
            reply @ (Packet::RegisterAck { .. }
            | Packet::ListAck { .. }
            | Packet::ConnectAck { .. }
            | Packet::UnregisterAck { .. }) => Some(Inbound::Reply(reply)),
            Packet::Intro { from, addr } if from_server => {
                Some(Inbound::Intro { peer: from, addr })
            }
            Packet::Relayed { from, data } if from_server => match wire::decode_data(&data) {
                Ok(inner) => self.peer_packet(inner, src, Route::Relayed, Some(from)),
                Err(e) => {
                    tracing::debug!(peer = %from, error = %e, "dropped a bad RELAYED");
                    None
                }
            },
            other => self.peer_packet(other, src, Route::Direct(src), None),
        }
    }

    /// A peer packet, if it is one, addressed to this daemon (and, when
    /// relayed, from the peer the server names).
    fn peer_packet(
        &self,
        packet: Packet,
        src: SocketAddr,
        route: Route,
        relayed_from: Option<PeerId>,
    ) -> Option<Inbound> {
        let (from, to, packet) = match packet {
            Packet::Punch { from, to, nonce } => (from, to, PeerPacket::Punch { nonce }),
            Packet::PunchAck { from, to, nonce } => (from, to, PeerPacket::PunchAck { nonce }),
            Packet::Message {
                from,
                to,
                msg,
                text,
                ts,
            } => (from, to, PeerPacket::Message { msg, text, ts }),
            Packet::MessageAck { from, to, msg } => (from, to, PeerPacket::MessageAck { msg }),
            other => {
                tracing::debug!(%src, kind = %other.kind(), "dropped an unexpected datagram");
                return None;
            }
        };
        if relayed_from.is_some_and(|r| r != from) {
            tracing::debug!(peer = %from, "dropped a RELAYED whose data.from differs");
            return None;
        }
        if self.id != Some(to) {
            tracing::debug!(%src, %to, "dropped a peer message for another id");
            return None;
        }
        let origin = Origin {
            peer: from,
            src,
            route,
        };
        Some(Inbound::Peer { origin, packet })
    }
}

//! The transport's state and the sending side: requests to the server and
//! packets to peers, direct or wrapped in RELAY.

use std::net::SocketAddr;
use std::time::Instant;

use peerd_shared::wire::{self, EncodeError, Packet};
use peerd_shared::{PeerId, Seq, Token};
use serde_json::value::RawValue;

use super::relays::RelayLog;
use super::{Datagram, PeerPacket, Route, SealError, ServerRequest};

/// The daemon's datagram codec and what it is made with.
pub struct Transport {
    /// The secret identity; never logged.
    pub(super) token: Token,
    pub(super) server: SocketAddr,
    /// Own id: stored from an earlier run, then the server's.
    pub(super) id: Option<PeerId>,
    /// Registered with the server right now (RELAY needs it).
    pub(super) registered: bool,
    /// The socket is IPv6: IPv4 destinations are written IPv4-mapped.
    pub(super) ipv6_socket: bool,
    pub(super) next_seq: u32,
    pub(super) relays: RelayLog,
}

impl Transport {
    /// A transport for `token` talking to `server` from a socket of the
    /// family of `local`; `first_seq` should be random, so a restarted
    /// daemon does not collide with the server's replay cache of its
    /// previous run.
    pub fn new(
        token: Token,
        server: SocketAddr,
        local: SocketAddr,
        id: Option<PeerId>,
        first_seq: u32,
    ) -> Self {
        Self {
            token,
            server,
            id,
            registered: false,
            ipv6_socket: local.is_ipv6(),
            next_seq: first_seq,
            relays: RelayLog::default(),
        }
    }

    /// Own id, once known.
    pub fn id(&self) -> Option<PeerId> {
        self.id
    }

    /// Records own id and whether the server has this daemon registered.
    pub fn set_registered(&mut self, id: Option<PeerId>, registered: bool) {
        if id.is_some() {
            self.id = id;
        }
        self.registered = registered;
    }

    fn seq(&mut self) -> Seq {
        let seq = Seq(self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(1);
        seq
    }

    /// A request to the server with a new `seq` (REGISTER needs no id).
    pub fn seal_request(&mut self, request: ServerRequest) -> Result<(Seq, Datagram), SealError> {
        let seq = self.seq();
        let token = self.token;
        let packet = match (request, self.id) {
            (ServerRequest::Register, _) => Packet::Register { seq, token },
            (_, None) => return Err(SealError::NoId),
            (ServerRequest::List { after }, Some(id)) => Packet::List {
                seq,
                id,
                token,
                after: Some(after),
            },
            (ServerRequest::Connect { target }, Some(id)) => Packet::Connect {
                seq,
                id,
                token,
                target,
            },
            (ServerRequest::Unregister, Some(id)) => Packet::Unregister { seq, id, token },
        };
        Ok((seq, self.datagram(&packet, self.server)?))
    }

    /// `packet` for peer `to` over `route`; a relayed one needs the
    /// registration and is wrapped in RELAY (remembered, for its answer).
    pub fn seal_peer(
        &mut self,
        to: PeerId,
        route: Route,
        packet: PeerPacket,
        now: Instant,
    ) -> Result<Datagram, SealError> {
        let from = self.id.ok_or(SealError::NoId)?;
        let inner = match packet {
            PeerPacket::Punch { nonce } => Packet::Punch { from, to, nonce },
            PeerPacket::PunchAck { nonce } => Packet::PunchAck { from, to, nonce },
            PeerPacket::Message { msg, text, ts } => Packet::Message {
                from,
                to,
                msg,
                text,
                ts,
            },
            PeerPacket::MessageAck { msg } => Packet::MessageAck { from, to, msg },
        };
        let addr = match route {
            Route::Direct(addr) => return self.datagram(&inner, addr),
            Route::Relayed if !self.registered => return Err(SealError::NotRegistered),
            Route::Relayed => self.server,
        };
        let bytes = wire::encode(&inner)?;
        let len = bytes.len();
        let text = String::from_utf8(bytes).map_err(|_| SealError::TooLargeToRelay { len })?;
        let data = RawValue::from_string(text).map_err(|_| SealError::TooLargeToRelay { len })?;
        let seq = self.seq();
        let relay = Packet::Relay {
            seq,
            id: from,
            token: self.token,
            target: to,
            data,
        };
        let datagram = match self.datagram(&relay, addr) {
            Err(SealError::Encode(EncodeError::TooLarge { .. })) => {
                return Err(SealError::TooLargeToRelay { len })
            }
            other => other?,
        };
        self.relays.sent(seq, to, now);
        Ok(datagram)
    }

    fn datagram(&self, packet: &Packet, to: SocketAddr) -> Result<Datagram, SealError> {
        // An IPv6 socket (e.g. `--listen [::]:0`) reaches IPv4 peers through
        // IPv4-mapped addresses.
        let to = match (self.ipv6_socket, to) {
            (true, SocketAddr::V4(v4)) => {
                SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
            }
            _ => to,
        };
        Ok(Datagram {
            to,
            bytes: wire::encode(packet)?,
        })
    }
}

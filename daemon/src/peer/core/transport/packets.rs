//! The vocabulary of the transport: what goes in ([`PeerPacket`],
//! [`Request`], a [`Route`]), what comes out ([`Datagram`], [`Inbound`]),
//! and why sealing can fail ([`SealError`]).

use std::net::SocketAddr;

use peerd_shared::wire::{self, EncodeError, ErrorCode, Packet};
use peerd_shared::{MsgId, PeerId};

/// Bytes for the socket and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

/// How a datagram travels between this daemon and a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Straight to (or from) the peer's address.
    Direct(SocketAddr),
    /// Through the server: RELAY out, RELAYED in.
    Relayed,
}

/// A packet between peers (protocol.md 3) without its addressing: the
/// transport adds `from` (own id) and `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerPacket {
    Punch { nonce: u64 },
    PunchAck { nonce: u64 },
    Message { msg: MsgId, text: String, ts: u64 },
    MessageAck { msg: MsgId },
}

/// A request to the server without `seq`, `id` and `token` (added here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRequest {
    Register,
    List { after: u64 },
    Connect { target: PeerId },
    Unregister,
}

/// Who sent a peer datagram and how it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub peer: PeerId,
    /// The datagram's source: the peer's address, or the server's when relayed.
    pub src: SocketAddr,
    pub route: Route,
}

/// A datagram that was accepted, by what it is.
#[derive(Debug)]
pub enum Inbound {
    /// The server's answer to a request (REGISTER_ACK, LIST_ACK,
    /// CONNECT_ACK, UNREGISTER_ACK, or an ERROR not about a RELAY).
    Reply(Packet),
    /// The server refused a RELAY to `target`.
    RelayRefused {
        target: PeerId,
        code: ErrorCode,
        message: String,
    },
    /// The server introduced a peer that wants to talk (INTRO).
    Intro { peer: PeerId, addr: SocketAddr },
    /// A packet from a peer, for this daemon.
    Peer { origin: Origin, packet: PeerPacket },
}

/// Why a packet cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("own id not known yet")]
    NoId,
    #[error("not registered with the server")]
    NotRegistered,
    /// A MESSAGE near the 1000-byte text limit fits a datagram on its own
    /// but not inside RELAY's envelope (a flaw of protocol v1, see
    /// docs/protocol.md): such a message can only travel direct.
    #[error(
        "too long to relay: the {len}-byte MESSAGE does not fit a RELAY datagram \
         ({max} bytes at most); only a direct path can carry it, send a shorter text",
        max = wire::MAX_DATAGRAM
    )]
    TooLargeToRelay { len: usize },
    #[error("{0}")]
    Encode(#[from] EncodeError),
}

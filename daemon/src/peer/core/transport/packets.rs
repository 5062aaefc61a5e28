//! The vocabulary of the transport: what goes in ([`PeerPacket`],
//! [`ServerRequest`], a [`Route`]), what comes out ([`Datagram`],
//! [`Inbound`]), and why sealing can fail ([`SealError`]).

use std::net::SocketAddr;

use peerd_shared::proto::{ErrorCode, PublicKey};
use peerd_shared::{MsgId, PeerId, Seq};

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

/// What the outbox and the inbox send a peer (docs/protocol.md 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerPacket {
    /// A punch probe: a new HELLO handshake (whose answer, coming back
    /// directly, proves the path).
    Hello,
    Probe {
        nonce: u64,
    },
    ProbeAck {
        nonce: u64,
    },
    Message {
        msg: MsgId,
        text: String,
        ts: u64,
    },
    MessageAck {
        msg: MsgId,
    },
}

/// A request to the server without `seq` (added here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRequest {
    Keepalive,
    List { after: u64 },
    Connect { target: PeerId },
    Unregister,
}

/// Who sent a peer frame and how it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub peer: PeerId,
    /// The datagram's source: the peer's address, or the server's when relayed.
    pub src: SocketAddr,
    pub route: Route,
}

/// A reply of the server to a request, by `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerReply {
    KeepaliveAck {
        seq: Seq,
        keepalive: u16,
        addr: SocketAddr,
    },
    ListAck {
        seq: Seq,
        more: bool,
        peers: Vec<(PeerId, SocketAddr)>,
    },
    ConnectAck {
        seq: Seq,
        target: PeerId,
        key: PublicKey,
        addr: SocketAddr,
    },
    UnregisterAck {
        seq: Seq,
    },
    Error {
        seq: Seq,
        code: ErrorCode,
        message: String,
    },
}

impl ServerReply {
    /// The `seq` it answers.
    pub fn seq(&self) -> Seq {
        match self {
            Self::KeepaliveAck { seq, .. }
            | Self::ListAck { seq, .. }
            | Self::ConnectAck { seq, .. }
            | Self::UnregisterAck { seq }
            | Self::Error { seq, .. } => *seq,
        }
    }
}

/// What a key the server gives for a peer means here (docs/protocol.md 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// The key pinned for the peer (`new`: pinned just now).
    Pinned { new: bool },
    /// Another key than the pinned one: the peer is refused until the user
    /// trusts the offered key.
    Changed {
        pinned: PublicKey,
        offered: PublicKey,
    },
}

/// A datagram that was accepted, by what it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// The server's answer to a request (an ERROR not about a RELAY too).
    Reply(ServerReply),
    /// The REGISTER handshake was answered: registered as `id`.
    Registered {
        id: PeerId,
        keepalive: u16,
        addr: SocketAddr,
    },
    /// The REGISTER handshake was answered with an error.
    RegisterRefused { code: ErrorCode, message: String },
    /// The server is under load and gave a cookie: handshake again now.
    CookieStored,
    /// The server's key, as it announces it (KEY_REPLY; not authenticated).
    ServerKey(PublicKey),
    /// The server refused a RELAY to `target`.
    RelayRefused {
        target: PeerId,
        code: ErrorCode,
        message: String,
    },
    /// The server introduced a peer that wants to talk (INTRO), whose key
    /// is the pinned one.
    Intro { peer: PeerId, addr: SocketAddr },
    /// The server gave another key for a pinned peer (INTRO or CONNECT_ACK).
    KeyChanged {
        peer: PeerId,
        pinned: PublicKey,
        offered: PublicKey,
    },
    /// A peer's key was pinned for the first time: store it.
    KeyPinned { peer: PeerId, key: PublicKey },
    /// An authenticated frame from a peer, for this daemon.
    Peer { origin: Origin, packet: PeerPacket },
    /// An authenticated datagram from `peer` came directly from `src`:
    /// the only thing that makes a path direct (docs/protocol.md 6).
    PathProof { peer: PeerId, src: SocketAddr },
    /// A session with `peer` can send now: held messages can go.
    SessionReady { peer: PeerId },
}

/// A pinned peer the server now gives another key for (both named by
/// fingerprint): the error text the user sees wherever it is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "peer {peer}'s key changed: pinned {pinned}, the server now gives {offered}; \
     verify it and run `peerctl trust {peer}`"
)]
pub struct KeyChange {
    pub peer: PeerId,
    pub pinned: String,
    pub offered: String,
}

impl KeyChange {
    /// The change from `pinned` to `offered` for `peer`.
    pub fn new(peer: PeerId, pinned: &PublicKey, offered: &PublicKey) -> Self {
        Self {
            peer,
            pinned: pinned.fingerprint(),
            offered: offered.fingerprint(),
        }
    }
}

/// Why a packet cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("own id not known yet")]
    NoId,
    #[error("not registered with the server")]
    NotRegistered,
    #[error("the server's key is not known yet")]
    NoServerKey,
    #[error("no session with the server yet")]
    NoServerSession,
    /// No session with the peer yet: a handshake is under way, and the
    /// packet goes once it is done.
    #[error("handshaking with peer {0}")]
    Handshaking(PeerId),
    #[error("peer {0} has not been introduced by the server")]
    NotIntroduced(PeerId),
    #[error(transparent)]
    KeyChanged(KeyChange),
    #[error("{0}")]
    Seal(String),
}

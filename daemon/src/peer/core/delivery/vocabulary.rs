//! What the delivery core returns: actions for the outbox to carry out,
//! and the answers it gives about peers and sends.

use peerd_shared::control::{ControlError, PathKind, PingOutcome, SendOutcome};
use peerd_shared::{MsgId, PeerId};

use crate::peer::core::transport::{PeerPacket, Route};

/// A `ping` in progress, numbered by the outbox.
pub type PingId = u64;

/// What the outbox must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send `packet` to `peer` over `route` (through the registry link).
    Transmit {
        peer: PeerId,
        route: Route,
        packet: PeerPacket,
    },
    /// Ask the server where `peer` is (CONNECT); the answer comes back to
    /// [`super::Delivery::looked_up`]. `upgrade`: a relayed path trying
    /// for a direct one (a failure keeps the relay).
    Lookup { peer: PeerId, upgrade: bool },
    /// Record `change` of message `msg` in the store; once it is committed,
    /// answer the `send` callers waiting for it with `outcome`.
    Record {
        msg: MsgId,
        change: Change,
        outcome: SendOutcome,
    },
    /// A lookup of `peer` ended: sends held until it did can go on.
    Found { peer: PeerId, answer: LookupAnswer },
    /// Answer a `ping`.
    Pong {
        ping: PingId,
        result: Result<PingOutcome, ControlError>,
    },
}

/// A change of a stored message.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Delivered {
        path: PathKind,
        at_ms: u64,
        attempts: u32,
    },
    Failed {
        error: String,
        attempts: u32,
    },
    /// Still queued; the latest problem.
    Noted {
        error: String,
        attempts: u32,
    },
}

/// What a lookup (CONNECT) found out about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupAnswer {
    /// Registered (online or offline): messages may be queued for it.
    Found,
    /// Never registered with the server.
    Unknown,
    /// Registered but offline: messages are queued until it comes back.
    Offline(String),
    /// The server could not be asked.
    Unreachable(String),
    /// The server gave another key than the pinned one: refused until the
    /// user trusts it (the reason names both fingerprints).
    KeyChanged(String),
}

/// Whether a new message for a peer may be stored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Store it; `problem`, if any, is why it will wait (the `send` note).
    Now { problem: Option<String> },
    /// The peer is being looked up: hold the send until [`Action::Found`].
    AfterLookup,
    /// Not at all.
    Refused(ControlError),
}

//! The messages: [`Packet`], tagged by `type`, its [`Kind`] without
//! fields, [`ErrorCode`] and [`PeerEntry`].

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::addr_text;
use crate::ids::{MsgId, PeerId, Seq, Token};

/// The `code` of an ERROR (protocol.md 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    UnknownType,
    UnsupportedVersion,
    TooLarge,
    Unauthorized,
    UnknownPeer,
    PeerOffline,
    RateLimited,
    Internal,
    /// A code this implementation does not know (received only, never sent).
    Other,
}

impl ErrorCode {
    /// The code as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::UnknownType => "unknown_type",
            Self::UnsupportedVersion => "unsupported_version",
            Self::TooLarge => "too_large",
            Self::Unauthorized => "unauthorized",
            Self::UnknownPeer => "unknown_peer",
            Self::PeerOffline => "peer_offline",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
            Self::Other => "other",
        }
    }

    pub(super) fn parse(s: &str) -> Self {
        match s {
            "bad_request" => Self::BadRequest,
            "unknown_type" => Self::UnknownType,
            "unsupported_version" => Self::UnsupportedVersion,
            "too_large" => Self::TooLarge,
            "unauthorized" => Self::Unauthorized,
            "unknown_peer" => Self::UnknownPeer,
            "peer_offline" => Self::PeerOffline,
            "rate_limited" => Self::RateLimited,
            "internal" => Self::Internal,
            _ => Self::Other,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of LIST_ACK's `peers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerEntry {
    pub id: PeerId,
    #[serde(with = "addr_text")]
    pub addr: SocketAddr,
}

/// Every message of protocol.md sections 2 and 3. Serialized with `"v": 1`
/// first and `"type"` in upper case by [`encode`].
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Packet {
    Register {
        seq: Seq,
        token: Token,
    },
    RegisterAck {
        seq: Seq,
        id: PeerId,
        #[serde(with = "addr_text")]
        addr: SocketAddr,
        /// Refresh period in seconds.
        keepalive: u64,
    },
    List {
        seq: Seq,
        id: PeerId,
        token: Token,
        /// Only ids greater than this; `None` means 0.
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<u64>,
    },
    ListAck {
        seq: Seq,
        peers: Vec<PeerEntry>,
        more: bool,
    },
    Connect {
        seq: Seq,
        id: PeerId,
        token: Token,
        target: PeerId,
    },
    ConnectAck {
        seq: Seq,
        target: PeerId,
        #[serde(with = "addr_text")]
        addr: SocketAddr,
    },
    Unregister {
        seq: Seq,
        id: PeerId,
        token: Token,
    },
    UnregisterAck {
        seq: Seq,
    },
    Relay {
        seq: Seq,
        id: PeerId,
        token: Token,
        target: PeerId,
        /// A peer message (MESSAGE or MESSAGE_ACK) as a JSON object, forwarded unchanged.
        data: Box<RawValue>,
    },
    RelayAck {
        seq: Seq,
    },
    Error {
        seq: Seq,
        code: ErrorCode,
        message: String,
    },
    Intro {
        from: PeerId,
        #[serde(with = "addr_text")]
        addr: SocketAddr,
    },
    Relayed {
        from: PeerId,
        data: Box<RawValue>,
    },
    Punch {
        from: PeerId,
        to: PeerId,
        nonce: u64,
    },
    PunchAck {
        from: PeerId,
        to: PeerId,
        nonce: u64,
    },
    Message {
        from: PeerId,
        to: PeerId,
        msg: MsgId,
        text: String,
        /// Sender's clock, Unix milliseconds.
        ts: u64,
    },
    MessageAck {
        from: PeerId,
        to: PeerId,
        msg: MsgId,
    },
}

impl Packet {
    /// The `seq` of requests and replies; `None` for peer and server-push messages.
    pub fn seq(&self) -> Option<Seq> {
        match self {
            Self::Register { seq, .. }
            | Self::RegisterAck { seq, .. }
            | Self::List { seq, .. }
            | Self::ListAck { seq, .. }
            | Self::Connect { seq, .. }
            | Self::ConnectAck { seq, .. }
            | Self::Unregister { seq, .. }
            | Self::UnregisterAck { seq }
            | Self::Relay { seq, .. }
            | Self::RelayAck { seq }
            | Self::Error { seq, .. } => Some(*seq),
            _ => None,
        }
    }

    /// The `type` string of this message.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Register { .. } => Kind::Register,
            Self::RegisterAck { .. } => Kind::RegisterAck,
            Self::List { .. } => Kind::List,
            Self::ListAck { .. } => Kind::ListAck,
            Self::Connect { .. } => Kind::Connect,
            Self::ConnectAck { .. } => Kind::ConnectAck,
            Self::Unregister { .. } => Kind::Unregister,
            Self::UnregisterAck { .. } => Kind::UnregisterAck,
            Self::Relay { .. } => Kind::Relay,
            Self::RelayAck { .. } => Kind::RelayAck,
            Self::Error { .. } => Kind::Error,
            Self::Intro { .. } => Kind::Intro,
            Self::Relayed { .. } => Kind::Relayed,
            Self::Punch { .. } => Kind::Punch,
            Self::PunchAck { .. } => Kind::PunchAck,
            Self::Message { .. } => Kind::Message,
            Self::MessageAck { .. } => Kind::MessageAck,
        }
    }
}

/// The `type` of a message, without its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Register,
    RegisterAck,
    List,
    ListAck,
    Connect,
    ConnectAck,
    Unregister,
    UnregisterAck,
    Relay,
    RelayAck,
    Error,
    Intro,
    Relayed,
    Punch,
    PunchAck,
    Message,
    MessageAck,
}

impl Kind {
    const ALL: [(Kind, &'static str); 17] = [
        (Kind::Register, "REGISTER"),
        (Kind::RegisterAck, "REGISTER_ACK"),
        (Kind::List, "LIST"),
        (Kind::ListAck, "LIST_ACK"),
        (Kind::Connect, "CONNECT"),
        (Kind::ConnectAck, "CONNECT_ACK"),
        (Kind::Unregister, "UNREGISTER"),
        (Kind::UnregisterAck, "UNREGISTER_ACK"),
        (Kind::Relay, "RELAY"),
        (Kind::RelayAck, "RELAY_ACK"),
        (Kind::Error, "ERROR"),
        (Kind::Intro, "INTRO"),
        (Kind::Relayed, "RELAYED"),
        (Kind::Punch, "PUNCH"),
        (Kind::PunchAck, "PUNCH_ACK"),
        (Kind::Message, "MESSAGE"),
        (Kind::MessageAck, "MESSAGE_ACK"),
    ];

    /// Looks up an upper-case `type` string.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(k, _)| *k)
    }

    /// The upper-case `type` string.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, name)| *name)
            .expect("every kind is in ALL")
    }

    /// Requests and replies carry `seq`; peer and server-push messages do not.
    pub fn has_seq(self) -> bool {
        !matches!(
            self,
            Kind::Intro
                | Kind::Relayed
                | Kind::Punch
                | Kind::PunchAck
                | Kind::Message
                | Kind::MessageAck
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

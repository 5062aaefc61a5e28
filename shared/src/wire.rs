//! The UDP messages of protocol.md sections 2 and 3: one enum, [`Packet`],
//! tagged by `type`, with [`encode`] and [`decode`].
//!
//! Decoding is staged so that a server can answer exactly as protocol.md 2
//! asks: the datagram is read once into a set of loosely typed fields, then
//! checked in the order JSON object, `v`, `type`, `seq`, other fields. The
//! first failure becomes a [`DecodeError`] that carries the `seq` whenever
//! one could be read, so the ERROR can echo it. Unknown fields are ignored.
//! The hot requests (REGISTER, LIST, CONNECT) decode without allocating.
//!
//! This file holds the types and the encoder; `fields` reads a datagram
//! loosely and `decode` applies the checks.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::de;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::ids::{MsgId, PeerId, Seq, Token};

mod decode;
mod fields;

pub use decode::{decode, decode_data};

/// The protocol version every message carries as `"v"`.
pub const VERSION: u64 = 1;
/// Largest UDP payload either side sends or processes, in bytes.
pub const MAX_DATAGRAM: usize = 1200;
/// Largest `text` of a MESSAGE, in bytes of UTF-8.
pub const MAX_TEXT: usize = 1000;
/// The registration refresh period a server announces by default.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(25);
/// A registration expires after this many keepalive periods without REGISTER.
pub const EXPIRY_KEEPALIVES: u32 = 3;
/// How long a server remembers a request for idempotent retries.
pub const RETRY_WINDOW: Duration = Duration::from_secs(30);

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

    fn parse(s: &str) -> Self {
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

/// Why a message cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message of {len} bytes exceeds the {MAX_DATAGRAM}-byte datagram limit")]
    TooLarge { len: usize },
    #[error("message text of {len} bytes exceeds the {MAX_TEXT}-byte limit")]
    TextTooLong { len: usize },
}

/// Why a datagram is not a valid message: the ERROR a server answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DecodeError {
    /// The request's `seq`, when one could be read (an ERROR then echoes it).
    pub seq: Option<Seq>,
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
}

impl DecodeError {
    fn new(seq: Option<Seq>, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            seq,
            code,
            message: message.into(),
        }
    }
}

#[derive(Serialize)]
struct Versioned<'a> {
    v: u64,
    #[serde(flatten)]
    packet: &'a Packet,
}

/// Encodes `packet` into `buf` (cleared first). Refuses a MESSAGE text over
/// [`MAX_TEXT`] and anything over [`MAX_DATAGRAM`]; `buf` then holds garbage.
pub fn encode_into(packet: &Packet, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
    if let Packet::Message { text, .. } = packet {
        if text.len() > MAX_TEXT {
            return Err(EncodeError::TextTooLong { len: text.len() });
        }
    }
    buf.clear();
    serde_json::to_writer(&mut *buf, &Versioned { v: VERSION, packet })
        .expect("wire types always serialize");
    if buf.len() > MAX_DATAGRAM {
        return Err(EncodeError::TooLarge { len: buf.len() });
    }
    Ok(())
}

/// Encodes `packet` into a new buffer; see [`encode_into`].
pub fn encode(packet: &Packet) -> Result<Vec<u8>, EncodeError> {
    let mut buf = Vec::with_capacity(128);
    encode_into(packet, &mut buf)?;
    Ok(buf)
}

/// Encodes an ERROR. Never fails: the message is cut to keep it small.
pub fn encode_error(seq: Seq, code: ErrorCode, message: &str) -> Vec<u8> {
    let mut cut = message.len().min(160);
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    let packet = Packet::Error {
        seq,
        code,
        message: message[..cut].to_owned(),
    };
    encode(&packet).expect("a short ERROR always fits")
}

/// Writes an IPv4-mapped IPv6 address as plain IPv4, as protocol.md 1 asks.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

/// Serde helpers for `"ip:port"` address strings in canonical form.
pub mod addr_text {
    use super::*;

    pub fn serialize<S: Serializer>(addr: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&canonical(*addr))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        text.parse().map(canonical).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn encodes_version_first_and_upper_case_type() {
        let p = Packet::Register {
            seq: Seq(7),
            token: Token::parse(TOKEN).unwrap(),
        };
        let text = String::from_utf8(encode(&p).unwrap()).unwrap();
        assert_eq!(
            text,
            format!(r#"{{"v":1,"type":"REGISTER","seq":7,"token":"{TOKEN}"}}"#)
        );
        let ack = Packet::PunchAck {
            from: PeerId::new(1).unwrap(),
            to: PeerId::new(2).unwrap(),
            nonce: 9,
        };
        let text = String::from_utf8(encode(&ack).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"v":1,"type":"PUNCH_ACK","from":1,"to":2,"nonce":9}"#
        );
    }

    #[test]
    fn round_trips_every_kind() {
        let id = PeerId::new(3).unwrap();
        let t = Token::parse(TOKEN).unwrap();
        let a: SocketAddr = "[::ffff:10.0.0.1]:9".parse().unwrap();
        let data =
            RawValue::from_string(r#"{"v":1,"type":"MESSAGE_ACK","from":3,"to":3,"msg":1}"#.into())
                .unwrap();
        let all = vec![
            Packet::Register {
                seq: Seq(1),
                token: t,
            },
            Packet::RegisterAck {
                seq: Seq(1),
                id,
                addr: a,
                keepalive: 25,
            },
            Packet::List {
                seq: Seq(2),
                id,
                token: t,
                after: Some(4),
            },
            Packet::ListAck {
                seq: Seq(2),
                peers: vec![PeerEntry { id, addr: a }],
                more: true,
            },
            Packet::Connect {
                seq: Seq(3),
                id,
                token: t,
                target: id,
            },
            Packet::ConnectAck {
                seq: Seq(3),
                target: id,
                addr: a,
            },
            Packet::Unregister {
                seq: Seq(4),
                id,
                token: t,
            },
            Packet::UnregisterAck { seq: Seq(4) },
            Packet::Relay {
                seq: Seq(5),
                id,
                token: t,
                target: id,
                data: data.clone(),
            },
            Packet::RelayAck { seq: Seq(5) },
            Packet::Error {
                seq: Seq(6),
                code: ErrorCode::PeerOffline,
                message: "x".into(),
            },
            Packet::Intro { from: id, addr: a },
            Packet::Relayed { from: id, data },
            Packet::Punch {
                from: id,
                to: id,
                nonce: u64::MAX,
            },
            Packet::PunchAck {
                from: id,
                to: id,
                nonce: 0,
            },
            Packet::Message {
                from: id,
                to: id,
                msg: MsgId(u64::MAX),
                text: "h\u{e9}\"".into(),
                ts: 5,
            },
            Packet::MessageAck {
                from: id,
                to: id,
                msg: MsgId(8),
            },
        ];
        for p in all {
            let bytes = encode(&p).unwrap();
            let back = decode(&bytes).unwrap();
            assert_eq!(
                encode(&back).unwrap(),
                bytes,
                "{}",
                String::from_utf8_lossy(&bytes)
            );
            assert!(
                !String::from_utf8_lossy(&bytes).contains("ffff"),
                "mapped address written as v4"
            );
        }
    }
    #[test]
    fn refuses_to_encode_oversized() {
        let id = PeerId::new(1).unwrap();
        let long = Packet::Message {
            from: id,
            to: id,
            msg: MsgId(1),
            text: "a".repeat(MAX_TEXT + 1),
            ts: 0,
        };
        assert_eq!(
            encode(&long).unwrap_err(),
            EncodeError::TextTooLong { len: MAX_TEXT + 1 }
        );
        let quotes = Packet::Message {
            from: id,
            to: id,
            msg: MsgId(1),
            text: "\"".repeat(MAX_TEXT),
            ts: 0,
        };
        assert!(matches!(
            encode(&quotes).unwrap_err(),
            EncodeError::TooLarge { .. }
        ));
    }
}

//! The UDP messages of protocol.md sections 2 and 3: one enum, [`Packet`],
//! tagged by `type`, with [`encode`] and [`decode`].
//!
//! Decoding is staged so that a server can answer exactly as protocol.md 2
//! asks: the datagram is read once into a set of loosely typed fields, then
//! checked in the order JSON object, `v`, `type`, `seq`, other fields. The
//! first failure becomes a [`DecodeError`] that carries the `seq` whenever
//! one could be read, so the ERROR can echo it. Unknown fields are ignored.
//! The hot requests (REGISTER, LIST, CONNECT) decode without allocating.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::ids::{MsgId, PeerId, Seq, Token, MAX_SAFE_INTEGER};

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

/// Decodes one datagram, checking fields in protocol.md's order.
///
/// A datagram over [`MAX_DATAGRAM`] gives `too_large` (with its `seq` if it
/// parses far enough to read one; a server drops it when there is none).
pub fn decode(datagram: &[u8]) -> Result<Packet, DecodeError> {
    let fields: Fields<'_> = serde_json::from_slice(datagram).map_err(|e| {
        let what = if e.is_syntax() || e.is_eof() {
            "not valid JSON"
        } else {
            "not a JSON object"
        };
        DecodeError::new(None, ErrorCode::BadRequest, what)
    })?;
    let seq = match fields.seq {
        Field::UInt(n) => u32::try_from(n).ok().map(Seq),
        _ => None,
    };
    if datagram.len() > MAX_DATAGRAM {
        return Err(DecodeError::new(
            seq,
            ErrorCode::TooLarge,
            format!(
                "datagram of {} bytes exceeds {MAX_DATAGRAM}",
                datagram.len()
            ),
        ));
    }
    fields.into_packet(seq)
}

/// Decodes a peer message carried in RELAY/RELAYED `data`.
pub fn decode_data(data: &RawValue) -> Result<Packet, DecodeError> {
    decode(data.get().as_bytes())
}

/// A JSON value as loosely read: enough to tell a right type from a wrong one.
#[derive(Debug, Default)]
enum Field<'a> {
    #[default]
    Absent,
    Null,
    UInt(u64),
    /// A negative integer.
    NegInt,
    /// A float, or an integer too large for 64 bits (read as a float).
    Float,
    Str(Cow<'a, str>),
    /// A boolean, an object or an array.
    Other(bool),
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Field<'de>, E> {
                Ok(Field::Other(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Field<'de>, E> {
                Ok(Field::UInt(n))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Field<'de>, E> {
                Ok(u64::try_from(n).map_or(Field::NegInt, Field::UInt))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Field<'de>, E> {
                Ok(Field::Float)
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_unit<E>(self) -> Result<Field<'de>, E> {
                Ok(Field::Null)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Field<'de>, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other(false))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Field<'de>, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other(false))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Key {
    V,
    Type,
    Seq,
    Id,
    Token,
    Target,
    After,
    Data,
    Addr,
    Keepalive,
    Peers,
    More,
    Code,
    Message,
    From,
    To,
    Nonce,
    Msg,
    Text,
    Ts,
    #[serde(other)]
    Unknown,
}

/// Every field any message may carry, loosely read.
#[derive(Default)]
struct Fields<'a> {
    v: Field<'a>,
    kind: Field<'a>,
    seq: Field<'a>,
    id: Field<'a>,
    token: Field<'a>,
    target: Field<'a>,
    after: Field<'a>,
    addr: Field<'a>,
    keepalive: Field<'a>,
    more: Field<'a>,
    code: Field<'a>,
    message: Field<'a>,
    from: Field<'a>,
    to: Field<'a>,
    nonce: Field<'a>,
    msg: Field<'a>,
    text: Field<'a>,
    ts: Field<'a>,
    data: Option<&'a RawValue>,
    peers: Option<&'a RawValue>,
    duplicate: bool,
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut f = Fields::default();
                while let Some(key) = map.next_key::<Key>()? {
                    let slot = match key {
                        Key::Data | Key::Peers => {
                            let raw: &'de RawValue = map.next_value()?;
                            let slot = if matches!(key, Key::Data) {
                                &mut f.data
                            } else {
                                &mut f.peers
                            };
                            f.duplicate |= slot.replace(raw).is_some();
                            continue;
                        }
                        Key::Unknown => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                        Key::V => &mut f.v,
                        Key::Type => &mut f.kind,
                        Key::Seq => &mut f.seq,
                        Key::Id => &mut f.id,
                        Key::Token => &mut f.token,
                        Key::Target => &mut f.target,
                        Key::After => &mut f.after,
                        Key::Addr => &mut f.addr,
                        Key::Keepalive => &mut f.keepalive,
                        Key::More => &mut f.more,
                        Key::Code => &mut f.code,
                        Key::Message => &mut f.message,
                        Key::From => &mut f.from,
                        Key::To => &mut f.to,
                        Key::Nonce => &mut f.nonce,
                        Key::Msg => &mut f.msg,
                        Key::Text => &mut f.text,
                        Key::Ts => &mut f.ts,
                    };
                    let value: Field<'de> = map.next_value()?;
                    f.duplicate |= !matches!(std::mem::replace(slot, value), Field::Absent);
                }
                Ok(f)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Fields<'a> {
    fn into_packet(self, seq: Option<Seq>) -> Result<Packet, DecodeError> {
        let read_seq = seq;
        let bad = |message: &'static str| DecodeError::new(seq, ErrorCode::BadRequest, message);
        match self.v {
            Field::UInt(VERSION) => {}
            Field::UInt(n) => {
                return Err(DecodeError::new(
                    seq,
                    ErrorCode::UnsupportedVersion,
                    format!(
                        "protocol version {n} is not supported; this peer speaks version {VERSION}"
                    ),
                ))
            }
            Field::NegInt => {
                return Err(DecodeError::new(
                    seq,
                    ErrorCode::UnsupportedVersion,
                    "protocol version is not supported; this peer speaks version 1",
                ))
            }
            Field::Absent => return Err(bad("missing field v")),
            _ => return Err(bad("field v must be an integer")),
        }
        let kind = match &self.kind {
            Field::Str(s) => Kind::parse(s).ok_or_else(|| {
                let shown: String = s.chars().take(40).collect();
                DecodeError::new(
                    seq,
                    ErrorCode::UnknownType,
                    format!("unknown message type {shown:?}"),
                )
            })?,
            Field::Absent => return Err(bad("missing field type")),
            _ => return Err(bad("field type must be a string")),
        };
        let seq = if kind.has_seq() {
            match self.seq {
                Field::Absent => return Err(bad("missing field seq")),
                _ => seq.ok_or_else(|| bad("field seq must be an integer in 0..2^32-1"))?,
            }
        } else {
            Seq(0)
        };
        if self.duplicate {
            return Err(bad("a field appears more than once"));
        }
        // Peer and server-push messages carry no seq: echo only one the input had.
        let echo = if kind.has_seq() { Some(seq) } else { read_seq };
        let e = |message: &'static str| DecodeError::new(echo, ErrorCode::BadRequest, message);
        let packet = match kind {
            Kind::Register => Packet::Register {
                seq,
                token: token(&self.token).map_err(e)?,
            },
            Kind::List => Packet::List {
                seq,
                id: peer_id(&self.id, "id").map_err(e)?,
                token: token(&self.token).map_err(e)?,
                after: after(&self.after).map_err(e)?,
            },
            Kind::Connect => Packet::Connect {
                seq,
                id: peer_id(&self.id, "id").map_err(e)?,
                token: token(&self.token).map_err(e)?,
                target: peer_id(&self.target, "target").map_err(e)?,
            },
            Kind::Unregister => Packet::Unregister {
                seq,
                id: peer_id(&self.id, "id").map_err(e)?,
                token: token(&self.token).map_err(e)?,
            },
            Kind::Relay => Packet::Relay {
                seq,
                id: peer_id(&self.id, "id").map_err(e)?,
                token: token(&self.token).map_err(e)?,
                target: peer_id(&self.target, "target").map_err(e)?,
                data: object(self.data).map_err(e)?,
            },
            Kind::RegisterAck => Packet::RegisterAck {
                seq,
                id: peer_id(&self.id, "id").map_err(e)?,
                addr: addr(&self.addr).map_err(e)?,
                keepalive: uint(&self.keepalive, "keepalive").map_err(e)?,
            },
            Kind::ListAck => Packet::ListAck {
                seq,
                peers: self
                    .peers
                    .and_then(|raw| serde_json::from_str(raw.get()).ok())
                    .ok_or_else(|| e("field peers must be an array of {id, addr}"))?,
                more: match self.more {
                    Field::Other(b) => b,
                    _ => return Err(e("field more must be a boolean")),
                },
            },
            Kind::ConnectAck => Packet::ConnectAck {
                seq,
                target: peer_id(&self.target, "target").map_err(e)?,
                addr: addr(&self.addr).map_err(e)?,
            },
            Kind::UnregisterAck => Packet::UnregisterAck { seq },
            Kind::RelayAck => Packet::RelayAck { seq },
            Kind::Error => Packet::Error {
                seq,
                code: match &self.code {
                    Field::Str(s) => ErrorCode::parse(s),
                    _ => return Err(e("field code must be a string")),
                },
                message: match self.message {
                    Field::Str(s) => s.into_owned(),
                    Field::Absent => String::new(),
                    _ => return Err(e("field message must be a string")),
                },
            },
            Kind::Intro => Packet::Intro {
                from: peer_id(&self.from, "from").map_err(e)?,
                addr: addr(&self.addr).map_err(e)?,
            },
            Kind::Relayed => Packet::Relayed {
                from: peer_id(&self.from, "from").map_err(e)?,
                data: object(self.data).map_err(e)?,
            },
            Kind::Punch | Kind::PunchAck => {
                let from = peer_id(&self.from, "from").map_err(e)?;
                let to = peer_id(&self.to, "to").map_err(e)?;
                let nonce = uint(&self.nonce, "nonce").map_err(e)?;
                if kind == Kind::Punch {
                    Packet::Punch { from, to, nonce }
                } else {
                    Packet::PunchAck { from, to, nonce }
                }
            }
            Kind::Message => Packet::Message {
                from: peer_id(&self.from, "from").map_err(e)?,
                to: peer_id(&self.to, "to").map_err(e)?,
                msg: MsgId(uint(&self.msg, "msg").map_err(e)?),
                text: match self.text {
                    Field::Str(s) if s.len() <= MAX_TEXT => s.into_owned(),
                    Field::Str(_) => return Err(e("field text exceeds 1000 bytes")),
                    _ => return Err(e("field text must be a string")),
                },
                ts: uint(&self.ts, "ts").map_err(e)?,
            },
            Kind::MessageAck => Packet::MessageAck {
                from: peer_id(&self.from, "from").map_err(e)?,
                to: peer_id(&self.to, "to").map_err(e)?,
                msg: MsgId(uint(&self.msg, "msg").map_err(e)?),
            },
        };
        Ok(packet)
    }
}

fn peer_id(f: &Field<'_>, name: &'static str) -> Result<PeerId, &'static str> {
    let raw = match f {
        Field::UInt(n) => PeerId::new(*n),
        _ => None,
    };
    raw.ok_or(match name {
        "id" => "field id must be an integer in 1..2^53-1",
        "target" => "field target must be an integer in 1..2^53-1",
        "from" => "field from must be an integer in 1..2^53-1",
        _ => "field to must be an integer in 1..2^53-1",
    })
}

fn token(f: &Field<'_>) -> Result<Token, &'static str> {
    match f {
        Field::Str(s) => {
            Token::parse(s).map_err(|_| "field token must be 32 lower-case hex characters")
        }
        _ => Err("field token must be 32 lower-case hex characters"),
    }
}

fn after(f: &Field<'_>) -> Result<Option<u64>, &'static str> {
    match f {
        Field::Absent | Field::Null => Ok(None),
        Field::UInt(n) if *n <= MAX_SAFE_INTEGER => Ok(Some(*n)),
        _ => Err("field after must be an integer in 0..2^53-1 or null"),
    }
}

fn uint(f: &Field<'_>, name: &'static str) -> Result<u64, &'static str> {
    match f {
        Field::UInt(n) => Ok(*n),
        _ => Err(match name {
            "keepalive" => "field keepalive must be a non-negative integer",
            "nonce" => "field nonce must be an integer in 0..2^64-1",
            "msg" => "field msg must be an integer in 0..2^64-1",
            _ => "field ts must be a non-negative integer",
        }),
    }
}

fn addr(f: &Field<'_>) -> Result<SocketAddr, &'static str> {
    match f {
        Field::Str(s) => s
            .parse()
            .map(canonical)
            .map_err(|_| "field addr must be \"ip:port\""),
        _ => Err("field addr must be \"ip:port\""),
    }
}

fn object(raw: Option<&RawValue>) -> Result<Box<RawValue>, &'static str> {
    match raw {
        Some(r) if r.get().starts_with('{') => Ok(r.to_owned()),
        _ => Err("field data must be a JSON object"),
    }
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

    fn err(bytes: &str) -> DecodeError {
        decode(bytes.as_bytes()).expect_err("should not decode")
    }

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
    fn checks_in_protocol_order() {
        assert_eq!(err("nope").code, ErrorCode::BadRequest);
        assert_eq!(err("[1,2]").code, ErrorCode::BadRequest);
        assert_eq!(
            err("{\"type\":\"LIST\",\"seq\":4}"),
            DecodeError::new(Some(Seq(4)), ErrorCode::BadRequest, "missing field v")
        );
        assert_eq!(
            err("{\"v\":\"1\",\"type\":\"LIST\"}").code,
            ErrorCode::BadRequest
        );
        assert_eq!(
            err("{\"v\":2,\"type\":\"NOPE\",\"seq\":4}").code,
            ErrorCode::UnsupportedVersion
        );
        assert_eq!(
            err("{\"v\":2,\"type\":\"NOPE\",\"seq\":4}").seq,
            Some(Seq(4))
        );
        assert_eq!(
            err("{\"v\":1,\"type\":\"NOPE\",\"seq\":4}").code,
            ErrorCode::UnknownType
        );
        assert_eq!(
            err("{\"v\":1,\"type\":7,\"seq\":4}").code,
            ErrorCode::BadRequest
        );
        let e = err("{\"v\":1,\"type\":\"LIST\",\"seq\":4294967296}");
        assert_eq!((e.code, e.seq), (ErrorCode::BadRequest, None));
        let e = err("{\"v\":1,\"type\":\"LIST\",\"seq\":4,\"id\":0}");
        assert_eq!((e.code, e.seq), (ErrorCode::BadRequest, Some(Seq(4))));
        let e = err("{\"v\":1,\"type\":\"REGISTER\",\"seq\":1e400}");
        assert_eq!((e.code, e.seq), (ErrorCode::BadRequest, None));
        let e = err(&format!(
            "{{\"v\":1,\"type\":\"REGISTER\",\"seq\":1,\"token\":\"{}\"}}",
            TOKEN.to_uppercase()
        ));
        assert_eq!((e.code, e.seq), (ErrorCode::BadRequest, Some(Seq(1))));
    }

    #[test]
    fn ignores_unknown_fields_and_accepts_escapes() {
        let p = decode(format!(r#"{{"x":[1,{{}}],"v":1,"type":"REG\u0049STER","seq":3,"token":"{TOKEN}","more":"?"}}"#).as_bytes()).unwrap();
        assert!(matches!(p, Packet::Register { seq: Seq(3), .. }));
    }

    #[test]
    fn oversized_gives_too_large_with_seq_when_readable() {
        let pad = "x".repeat(MAX_DATAGRAM);
        let e = err(&format!(r#"{{"v":1,"type":"LIST","seq":9,"pad":"{pad}"}}"#));
        assert_eq!((e.code, e.seq), (ErrorCode::TooLarge, Some(Seq(9))));
        let e = err(&format!(r#"{{"v":1,"type":"LIST","pad":"{pad}"}}"#));
        assert_eq!((e.code, e.seq), (ErrorCode::TooLarge, None));
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

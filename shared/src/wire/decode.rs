//! The second stage of decoding: the loosely read fields are checked in
//! protocol.md's order (JSON object, `v`, `type`, `seq`, the other fields)
//! and become a [`Packet`], or the first failure becomes a [`DecodeError`]
//! that carries the `seq` whenever one could be read.

use std::borrow::Cow;
use std::net::SocketAddr;

use serde_json::value::RawValue;

use super::fields::{Field, Fields};
use super::{canonical, ErrorCode, Kind, Packet, MAX_DATAGRAM, MAX_TEXT, VERSION};
use crate::ids::{MsgId, PeerId, Seq, Token, MAX_SAFE_INTEGER};

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

impl<'a> Fields<'a> {
    fn into_packet(self, read: Option<Seq>) -> Result<Packet, DecodeError> {
        let (kind, seq) = self.header(read)?;
        // Peer and server-push messages carry no seq: echo only one the input had.
        let echo = if kind.has_seq() { seq } else { read };
        let e = |message: &'static str| DecodeError::new(echo, ErrorCode::BadRequest, message);
        let seq = seq.unwrap_or(Seq(0));
        match kind {
            Kind::Register | Kind::List | Kind::Connect | Kind::Unregister | Kind::Relay => {
                self.request(kind, seq)
            }
            Kind::RegisterAck
            | Kind::ListAck
            | Kind::ConnectAck
            | Kind::UnregisterAck
            | Kind::RelayAck
            | Kind::Error => self.reply(kind, seq),
            Kind::Intro
            | Kind::Relayed
            | Kind::Punch
            | Kind::PunchAck
            | Kind::Message
            | Kind::MessageAck => self.peer_message(kind),
        }
        .map_err(e)
    }

    /// `v`, `type`, `seq` and duplicates, in protocol.md's order: the kind,
    /// and the `seq` when the kind has one.
    fn header(&self, seq: Option<Seq>) -> Result<(Kind, Option<Seq>), DecodeError> {
        let bad = |message: &'static str| DecodeError::new(seq, ErrorCode::BadRequest, message);
        let unsupported =
            |message: String| DecodeError::new(seq, ErrorCode::UnsupportedVersion, message);
        match self.v {
            Field::UInt(VERSION) => {}
            Field::UInt(n) => {
                return Err(unsupported(format!(
                    "protocol version {n} is not supported; this peer speaks version {VERSION}"
                )))
            }
            Field::NegInt => {
                return Err(unsupported(
                    "protocol version is not supported; this peer speaks version 1".into(),
                ))
            }
            Field::Absent => return Err(bad("missing field v")),
            _ => return Err(bad("field v must be an integer")),
        }
        let kind = match &self.kind {
            Field::Str(s) => Kind::parse(s).ok_or_else(|| {
                let shown: String = s.chars().take(40).collect();
                let message = format!("unknown message type {shown:?}");
                DecodeError::new(seq, ErrorCode::UnknownType, message)
            })?,
            Field::Absent => return Err(bad("missing field type")),
            _ => return Err(bad("field type must be a string")),
        };
        let seq = match (kind.has_seq(), &self.seq) {
            (false, _) => None,
            (true, Field::Absent) => return Err(bad("missing field seq")),
            (true, _) => Some(seq.ok_or_else(|| bad("field seq must be an integer in 0..2^32-1"))?),
        };
        if self.duplicate {
            return Err(bad("a field appears more than once"));
        }
        Ok((kind, seq))
    }

    /// The fields of a request to the server.
    fn request(self, kind: Kind, seq: Seq) -> Result<Packet, &'static str> {
        let id = || peer_id(&self.id, "id");
        let token = || token(&self.token);
        Ok(match kind {
            Kind::Register => Packet::Register {
                seq,
                token: token()?,
            },
            Kind::List => Packet::List {
                seq,
                id: id()?,
                token: token()?,
                after: after(&self.after)?,
            },
            Kind::Connect => Packet::Connect {
                seq,
                id: id()?,
                token: token()?,
                target: peer_id(&self.target, "target")?,
            },
            Kind::Unregister => Packet::Unregister {
                seq,
                id: id()?,
                token: token()?,
            },
            _ => Packet::Relay {
                seq,
                id: id()?,
                token: token()?,
                target: peer_id(&self.target, "target")?,
                data: object(self.data)?,
            },
        })
    }

    /// The fields of a reply from the server.
    fn reply(self, kind: Kind, seq: Seq) -> Result<Packet, &'static str> {
        Ok(match kind {
            Kind::RegisterAck => Packet::RegisterAck {
                seq,
                id: peer_id(&self.id, "id")?,
                addr: addr(&self.addr)?,
                keepalive: uint(&self.keepalive, "keepalive")?,
            },
            Kind::ListAck => Packet::ListAck {
                seq,
                peers: self
                    .peers
                    .and_then(|raw| serde_json::from_str(raw.get()).ok())
                    .ok_or("field peers must be an array of {id, addr}")?,
                more: match self.more {
                    Field::Other(b) => b,
                    _ => return Err("field more must be a boolean"),
                },
            },
            Kind::ConnectAck => Packet::ConnectAck {
                seq,
                target: peer_id(&self.target, "target")?,
                addr: addr(&self.addr)?,
            },
            Kind::UnregisterAck => Packet::UnregisterAck { seq },
            Kind::RelayAck => Packet::RelayAck { seq },
            _ => Packet::Error {
                seq,
                code: match &self.code {
                    Field::Str(s) => ErrorCode::parse(s),
                    _ => return Err("field code must be a string"),
                },
                message: match self.message {
                    Field::Str(s) => s.into_owned(),
                    Field::Absent => String::new(),
                    _ => return Err("field message must be a string"),
                },
            },
        })
    }

    /// The fields of a message between peers, or pushed by the server.
    fn peer_message(self, kind: Kind) -> Result<Packet, &'static str> {
        if let Kind::Intro | Kind::Relayed = kind {
            let from = peer_id(&self.from, "from")?;
            return Ok(if kind == Kind::Intro {
                Packet::Intro {
                    from,
                    addr: addr(&self.addr)?,
                }
            } else {
                Packet::Relayed {
                    from,
                    data: object(self.data)?,
                }
            });
        }
        let from = peer_id(&self.from, "from")?;
        let to = peer_id(&self.to, "to")?;
        Ok(match kind {
            Kind::Punch => Packet::Punch {
                from,
                to,
                nonce: uint(&self.nonce, "nonce")?,
            },
            Kind::PunchAck => Packet::PunchAck {
                from,
                to,
                nonce: uint(&self.nonce, "nonce")?,
            },
            Kind::Message => Packet::Message {
                from,
                to,
                msg: MsgId(uint(&self.msg, "msg")?),
                text: match self.text {
                    Field::Str(s) if s.len() <= MAX_TEXT => s.into_owned(),
                    Field::Str(_) => return Err("field text exceeds 1000 bytes"),
                    _ => return Err("field text must be a string"),
                },
                ts: uint(&self.ts, "ts")?,
            },
            _ => Packet::MessageAck {
                from,
                to,
                msg: MsgId(uint(&self.msg, "msg")?),
            },
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn err(bytes: &str) -> DecodeError {
        decode(bytes.as_bytes()).expect_err("should not decode")
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
}

//! The plaintext payloads of protocol v2: inside handshakes (sections 3.1,
//! 3.2: REGISTER, HELLO, REGISTERED, HELLO_ACK) and inside TRANSPORT frames
//! (sections 5.2 and 6: requests, replies, INTRO, RELAYED, ERROR, MESSAGE,
//! PROBE). Each starts with its kind byte; [`Body::decode`] reads one
//! without panicking on any input, [`Body::encode`] writes one.
//!
//! This file holds [`Body`] and the field helpers; `payload/kind.rs` the
//! kind bytes; `payload/handshake.rs` the handshake payloads
//! ([`InitPayload`], [`RespPayload`]).

use std::net::SocketAddr;

use super::codec::{Put, Reader, Short};
use super::error::ErrorCode;
use super::keys::{PublicKey, KEY_LEN};
use crate::{MsgId, PeerId, Seq};

mod handshake;
pub mod kind;

pub use handshake::{InitPayload, RespPayload};

/// Most bytes of text in a MESSAGE.
pub const MAX_TEXT: usize = 1000;
/// Most bytes of an ERROR's message.
pub const MAX_ERROR_MESSAGE: usize = 160;

/// A payload that could not be read: its kind is unknown, or its fields are
/// short or out of range. `seq` is the request's when it could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("unknown kind 0x{kind:02x}")]
    UnknownKind { kind: u8, seq: Option<Seq> },
    #[error("malformed payload")]
    Malformed { seq: Option<Seq> },
}

impl BodyError {
    /// The request's `seq`, when it could be read.
    pub fn seq(&self) -> Option<Seq> {
        match *self {
            Self::UnknownKind { seq, .. } | Self::Malformed { seq } => seq,
        }
    }
}

/// The payload of a TRANSPORT frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    Keepalive {
        seq: Seq,
    },
    List {
        seq: Seq,
        after: u64,
    },
    Connect {
        seq: Seq,
        target: PeerId,
    },
    Unregister {
        seq: Seq,
    },
    Relay {
        seq: Seq,
        target: PeerId,
        data: &'a [u8],
    },
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
    RelayAck {
        seq: Seq,
    },
    Intro {
        from: PeerId,
        key: PublicKey,
        addr: SocketAddr,
    },
    Relayed {
        from: PeerId,
        data: &'a [u8],
    },
    Error {
        seq: Seq,
        code: ErrorCode,
        message: &'a str,
    },
    Message {
        msg: MsgId,
        ts: u64,
        text: &'a str,
    },
    MessageAck {
        msg: MsgId,
    },
    Probe {
        nonce: u64,
    },
    ProbeAck {
        nonce: u64,
    },
}

fn put_error(out: &mut Vec<u8>, seq: Seq, code: ErrorCode, message: &str) {
    let message = truncate_utf8(message, MAX_ERROR_MESSAGE);
    out.put_u8(kind::ERROR);
    out.put_u32(seq.0);
    out.put_u8(code.to_u8());
    out.put_u8(u8::try_from(message.len()).expect("cut to 160 bytes"));
    out.extend_from_slice(message.as_bytes());
}

fn read_error<'a>(r: &mut Reader<'a>) -> Result<(Seq, ErrorCode, &'a str), Short> {
    let seq = Seq(r.u32()?);
    let code = ErrorCode::from_u8(r.u8()?);
    let len = usize::from(r.u8()?);
    let message = std::str::from_utf8(r.bytes(len)?).map_err(|_| Short)?;
    Ok((seq, code, message))
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl<'a> Body<'a> {
    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Body::Keepalive { seq } => seq_only(out, kind::KEEPALIVE, *seq),
            Body::List { seq, after } => {
                seq_only(out, kind::LIST, *seq);
                out.put_u64(*after);
            }
            Body::Connect { seq, target } => {
                seq_only(out, kind::CONNECT, *seq);
                out.put_u64(target.get());
            }
            Body::Unregister { seq } => seq_only(out, kind::UNREGISTER, *seq),
            Body::Relay { seq, target, data } => {
                seq_only(out, kind::RELAY, *seq);
                out.put_u64(target.get());
                out.extend_from_slice(data);
            }
            Body::KeepaliveAck {
                seq,
                keepalive,
                addr,
            } => {
                seq_only(out, kind::KEEPALIVE_ACK, *seq);
                out.put_u16(*keepalive);
                out.put_addr(*addr);
            }
            Body::ListAck { seq, more, peers } => {
                seq_only(out, kind::LIST_ACK, *seq);
                out.put_u8(u8::from(*more));
                out.put_u16(u16::try_from(peers.len()).unwrap_or(u16::MAX));
                for (id, addr) in peers.iter().take(usize::from(u16::MAX)) {
                    out.put_u64(id.get());
                    out.put_addr(*addr);
                }
            }
            Body::ConnectAck {
                seq,
                target,
                key,
                addr,
            } => {
                seq_only(out, kind::CONNECT_ACK, *seq);
                out.put_u64(target.get());
                out.extend_from_slice(&key.0);
                out.put_addr(*addr);
            }
            Body::UnregisterAck { seq } => seq_only(out, kind::UNREGISTER_ACK, *seq),
            Body::RelayAck { seq } => seq_only(out, kind::RELAY_ACK, *seq),
            Body::Intro { from, key, addr } => {
                out.put_u8(kind::INTRO);
                out.put_u64(from.get());
                out.extend_from_slice(&key.0);
                out.put_addr(*addr);
            }
            Body::Relayed { from, data } => {
                out.put_u8(kind::RELAYED);
                out.put_u64(from.get());
                out.extend_from_slice(data);
            }
            Body::Error { seq, code, message } => put_error(out, *seq, *code, message),
            Body::Message { msg, ts, text } => {
                out.put_u8(kind::MESSAGE);
                out.put_u64(msg.0);
                out.put_u64(*ts);
                out.extend_from_slice(text.as_bytes());
            }
            Body::MessageAck { msg } => {
                out.put_u8(kind::MESSAGE_ACK);
                out.put_u64(msg.0);
            }
            Body::Probe { nonce } => {
                out.put_u8(kind::PROBE);
                out.put_u64(*nonce);
            }
            Body::ProbeAck { nonce } => {
                out.put_u8(kind::PROBE_ACK);
                out.put_u64(*nonce);
            }
        }
    }

    /// Reads a payload.
    pub fn decode(buf: &'a [u8]) -> Result<Self, BodyError> {
        let mut r = Reader::new(buf);
        let k = r.u8().map_err(|_| BodyError::Malformed { seq: None })?;
        // Every request and reply has its `seq` right after the kind byte.
        let seq = Reader::new(&buf[1..]).u32().ok().map(Seq);
        let seq = match k {
            kind::KEEPALIVE..=kind::RELAY | kind::KEEPALIVE_ACK..=kind::RELAY_ACK | kind::ERROR => {
                seq
            }
            _ => None,
        };
        Self::fields(k, &mut r).map_err(|e| match e {
            FieldError::Unknown => BodyError::UnknownKind { kind: k, seq },
            FieldError::Short => BodyError::Malformed { seq },
        })
    }

    fn fields(k: u8, r: &mut Reader<'a>) -> Result<Self, FieldError> {
        let body = match k {
            kind::KEEPALIVE => Body::Keepalive { seq: seq(r)? },
            kind::LIST => Body::List {
                seq: seq(r)?,
                after: r.u64()?,
            },
            kind::CONNECT => Body::Connect {
                seq: seq(r)?,
                target: r.peer()?,
            },
            kind::UNREGISTER => Body::Unregister { seq: seq(r)? },
            kind::RELAY => {
                let (seq, target) = (seq(r)?, r.peer()?);
                let data = r.rest();
                if data.is_empty() {
                    return Err(FieldError::Short);
                }
                Body::Relay { seq, target, data }
            }
            kind::KEEPALIVE_ACK => Body::KeepaliveAck {
                seq: seq(r)?,
                keepalive: r.u16()?,
                addr: r.addr()?,
            },
            kind::LIST_ACK => list_ack(r)?,
            kind::CONNECT_ACK => Body::ConnectAck {
                seq: seq(r)?,
                target: r.peer()?,
                key: PublicKey(r.array::<KEY_LEN>()?),
                addr: r.addr()?,
            },
            kind::UNREGISTER_ACK => Body::UnregisterAck { seq: seq(r)? },
            kind::RELAY_ACK => Body::RelayAck { seq: seq(r)? },
            kind::INTRO => Body::Intro {
                from: r.peer()?,
                key: PublicKey(r.array::<KEY_LEN>()?),
                addr: r.addr()?,
            },
            kind::RELAYED => Body::Relayed {
                from: r.peer()?,
                data: r.rest(),
            },
            kind::ERROR => {
                let (seq, code, message) = read_error(r)?;
                Body::Error { seq, code, message }
            }
            kind::MESSAGE => message(r)?,
            kind::MESSAGE_ACK => Body::MessageAck {
                msg: MsgId(r.u64()?),
            },
            kind::PROBE => Body::Probe { nonce: r.u64()? },
            kind::PROBE_ACK => Body::ProbeAck { nonce: r.u64()? },
            _ => return Err(FieldError::Unknown),
        };
        Ok(body)
    }

    /// Whether this is a request a daemon sends to the server.
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Body::Keepalive { .. }
                | Body::List { .. }
                | Body::Connect { .. }
                | Body::Unregister { .. }
                | Body::Relay { .. }
        )
    }

    /// The name of the payload's kind, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Body::Keepalive { .. } => "KEEPALIVE",
            Body::List { .. } => "LIST",
            Body::Connect { .. } => "CONNECT",
            Body::Unregister { .. } => "UNREGISTER",
            Body::Relay { .. } => "RELAY",
            Body::KeepaliveAck { .. } => "KEEPALIVE_ACK",
            Body::ListAck { .. } => "LIST_ACK",
            Body::ConnectAck { .. } => "CONNECT_ACK",
            Body::UnregisterAck { .. } => "UNREGISTER_ACK",
            Body::RelayAck { .. } => "RELAY_ACK",
            Body::Intro { .. } => "INTRO",
            Body::Relayed { .. } => "RELAYED",
            Body::Error { .. } => "ERROR",
            Body::Message { .. } => "MESSAGE",
            Body::MessageAck { .. } => "MESSAGE_ACK",
            Body::Probe { .. } => "PROBE",
            Body::ProbeAck { .. } => "PROBE_ACK",
        }
    }
}

enum FieldError {
    Unknown,
    Short,
}

impl From<Short> for FieldError {
    fn from(_: Short) -> Self {
        Self::Short
    }
}

fn seq(r: &mut Reader<'_>) -> Result<Seq, Short> {
    r.u32().map(Seq)
}

fn seq_only(out: &mut Vec<u8>, k: u8, seq: Seq) {
    out.put_u8(k);
    out.put_u32(seq.0);
}

fn list_ack<'a>(r: &mut Reader<'a>) -> Result<Body<'a>, Short> {
    let seq = seq(r)?;
    let more = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(Short),
    };
    let count = usize::from(r.u16()?);
    // Each entry takes at least 15 bytes: no count can make this allocate
    // more than the datagram holds.
    let mut peers = Vec::with_capacity(count.min(r.remaining() / 15));
    for _ in 0..count {
        peers.push((r.peer()?, r.addr()?));
    }
    Ok(Body::ListAck { seq, more, peers })
}

fn message<'a>(r: &mut Reader<'a>) -> Result<Body<'a>, Short> {
    let msg = MsgId(r.u64()?);
    let ts = r.u64()?;
    let text = r.rest();
    if text.len() > MAX_TEXT {
        return Err(Short);
    }
    let text = std::str::from_utf8(text).map_err(|_| Short)?;
    Ok(Body::Message { msg, ts, text })
}

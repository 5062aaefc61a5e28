//! The payloads inside handshakes (sections 3.1, 3.2): REGISTER and HELLO
//! in a HANDSHAKE_INIT, REGISTERED, a refusal and HELLO_ACK in a
//! HANDSHAKE_RESP.

use std::net::SocketAddr;

use super::super::codec::{Put, Reader, Short};
use super::super::error::ErrorCode;
use super::{kind, put_error, read_error};
use crate::{PeerId, Seq};

/// The payload of a HANDSHAKE_INIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitPayload {
    /// To the server: register (or refresh) the initiator's key.
    Register { timestamp: u64 },
    /// To a peer: open a session; `from` is the initiator's id.
    Hello { timestamp: u64, from: PeerId },
}

/// The payload of a HANDSHAKE_RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespPayload {
    /// From the server: the id bound to the key, the keepalive period in
    /// seconds, the source address the server saw.
    Registered {
        id: PeerId,
        keepalive: u16,
        addr: SocketAddr,
    },
    /// From the server: the key was not registered.
    Refused { code: ErrorCode, message: String },
    /// From a peer: its id.
    HelloAck { from: PeerId },
}

impl InitPayload {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Self::Register { timestamp } => {
                out.put_u8(kind::REGISTER);
                out.put_u64(timestamp);
            }
            Self::Hello { timestamp, from } => {
                out.put_u8(kind::HELLO);
                out.put_u64(timestamp);
                out.put_u64(from.get());
            }
        }
    }

    pub fn decode(buf: &[u8]) -> Result<Self, Short> {
        let mut r = Reader::new(buf);
        match r.u8()? {
            kind::REGISTER => Ok(Self::Register {
                timestamp: r.u64()?,
            }),
            kind::HELLO => Ok(Self::Hello {
                timestamp: r.u64()?,
                from: r.peer()?,
            }),
            _ => Err(Short),
        }
    }

    /// The handshake's timestamp.
    pub fn timestamp(&self) -> u64 {
        match *self {
            Self::Register { timestamp } | Self::Hello { timestamp, .. } => timestamp,
        }
    }
}

impl RespPayload {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Registered {
                id,
                keepalive,
                addr,
            } => {
                out.put_u8(kind::REGISTERED);
                out.put_u64(id.get());
                out.put_u16(*keepalive);
                out.put_addr(*addr);
            }
            Self::Refused { code, message } => {
                put_error(out, Seq(0), *code, message);
            }
            Self::HelloAck { from } => {
                out.put_u8(kind::HELLO_ACK);
                out.put_u64(from.get());
            }
        }
    }

    pub fn decode(buf: &[u8]) -> Result<Self, Short> {
        let mut r = Reader::new(buf);
        match r.u8()? {
            kind::REGISTERED => Ok(Self::Registered {
                id: r.peer()?,
                keepalive: r.u16()?,
                addr: r.addr()?,
            }),
            kind::HELLO_ACK => Ok(Self::HelloAck { from: r.peer()? }),
            kind::ERROR => {
                let (_, code, message) = read_error(&mut r)?;
                Ok(Self::Refused {
                    code,
                    message: message.to_owned(),
                })
            }
            _ => Err(Short),
        }
    }
}

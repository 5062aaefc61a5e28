//! The frames of protocol v2 (sections 2 to 4) as borrowed views of a
//! received datagram, dispatched on the first byte, and the builders of the
//! small unauthenticated frames (KEY_REQUEST, KEY_REPLY). Parsing checks
//! lengths only; authentication is the job of [`super::handshake`],
//! [`super::cookie`] and [`super::session`].

use super::codec::Reader;
use super::crypto::{MAC_LEN, TAG_LEN};
use super::keys::{PublicKey, KEY_LEN};

/// No peerd datagram is larger.
pub const MAX_DATAGRAM: usize = 1200;

/// First bytes of the frame types.
pub mod ty {
    pub const HANDSHAKE_INIT: u8 = 0xA1;
    pub const HANDSHAKE_RESP: u8 = 0xA2;
    pub const COOKIE_REPLY: u8 = 0xA3;
    pub const TRANSPORT: u8 = 0xA4;
    pub const KEY_REQUEST: u8 = 0xA5;
    pub const KEY_REPLY: u8 = 0xA6;
}

/// Bytes of a HANDSHAKE_INIT around its payload: type, sender, Noise
/// message 1 without its payload (e, s, tag), mac1, mac2.
pub const INIT_OVERHEAD: usize = 1 + 4 + 96 + MAC_LEN * 2;
/// Bytes of a HANDSHAKE_RESP around its payload: type, sender, receiver,
/// Noise message 2 without its payload (e, tag), mac1.
pub const RESP_OVERHEAD: usize = 1 + 4 + 4 + 48 + MAC_LEN;
/// Bytes of a TRANSPORT frame around its payload.
pub const TRANSPORT_OVERHEAD: usize = 1 + 4 + 8 + TAG_LEN;
/// Bytes of a COOKIE_REPLY.
pub const COOKIE_REPLY_LEN: usize = 1 + 4 + 24 + MAC_LEN + TAG_LEN;
/// Shortest KEY_REQUEST a server answers.
pub const KEY_REQUEST_LEN: usize = 64;
/// Bytes of a KEY_REPLY.
pub const KEY_REPLY_LEN: usize = 2 + KEY_LEN;
/// The protocol version a KEY_REPLY announces.
pub const VERSION: u8 = 2;
/// The largest payload a TRANSPORT frame can carry.
pub const MAX_PAYLOAD: usize = MAX_DATAGRAM - TRANSPORT_OVERHEAD;

/// A HANDSHAKE_INIT, not yet checked.
#[derive(Debug, Clone, Copy)]
pub struct Init<'a> {
    pub sender: u32,
    /// Noise message 1.
    pub noise: &'a [u8],
    /// The bytes `mac1` covers.
    pub mac1_input: &'a [u8],
    pub mac1: [u8; MAC_LEN],
    /// The bytes `mac2` covers.
    pub mac2_input: &'a [u8],
    pub mac2: [u8; MAC_LEN],
}

/// A HANDSHAKE_RESP, not yet checked.
#[derive(Debug, Clone, Copy)]
pub struct Resp<'a> {
    pub sender: u32,
    pub receiver: u32,
    /// Noise message 2.
    pub noise: &'a [u8],
    pub mac1_input: &'a [u8],
    pub mac1: [u8; MAC_LEN],
}

/// A COOKIE_REPLY, not yet checked.
#[derive(Debug, Clone, Copy)]
pub struct CookieReply {
    pub receiver: u32,
    pub nonce: [u8; 24],
    pub sealed: [u8; MAC_LEN + TAG_LEN],
}

/// A TRANSPORT frame, not yet checked.
#[derive(Debug, Clone, Copy)]
pub struct Transport<'a> {
    pub receiver: u32,
    pub counter: u64,
    /// Ciphertext and tag.
    pub sealed: &'a [u8],
}

/// A datagram, by its first byte.
#[derive(Debug, Clone, Copy)]
pub enum Frame<'a> {
    Init(Init<'a>),
    Resp(Resp<'a>),
    Cookie(CookieReply),
    Transport(Transport<'a>),
    KeyRequest,
    KeyReply(PublicKey),
    /// First byte 0x00 or 0x01.
    Stun,
    /// First byte `{`: protocol v1 JSON.
    Legacy,
}

/// Why a datagram is not a frame (it is dropped, never answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("empty datagram")]
    Empty,
    #[error("datagram over {MAX_DATAGRAM} bytes")]
    TooLarge,
    #[error("unknown frame type 0x{0:02x}")]
    UnknownType(u8),
    #[error("frame of the wrong length")]
    BadLength,
}

impl<'a> Frame<'a> {
    /// Dispatches `d` on its first byte and checks its length.
    pub fn parse(d: &'a [u8]) -> Result<Self, FrameError> {
        let first = *d.first().ok_or(FrameError::Empty)?;
        match first {
            0x00 | 0x01 => return Ok(Frame::Stun),
            b'{' => return Ok(Frame::Legacy),
            _ => {}
        }
        if d.len() > MAX_DATAGRAM {
            return Err(FrameError::TooLarge);
        }
        let short = |_: super::codec::Short| FrameError::BadLength;
        let fixed = |_: std::array::TryFromSliceError| FrameError::BadLength;
        let mut r = Reader::new(&d[1..]);
        match first {
            ty::HANDSHAKE_INIT => {
                if d.len() < INIT_OVERHEAD + 1 {
                    return Err(FrameError::BadLength);
                }
                let m1 = d.len() - 2 * MAC_LEN;
                let m2 = d.len() - MAC_LEN;
                Ok(Frame::Init(Init {
                    sender: r.u32().map_err(short)?,
                    noise: &d[5..m1],
                    mac1_input: &d[..m1],
                    mac1: d[m1..m2].try_into().map_err(fixed)?,
                    mac2_input: &d[..m2],
                    mac2: d[m2..].try_into().map_err(fixed)?,
                }))
            }
            ty::HANDSHAKE_RESP => {
                if d.len() < RESP_OVERHEAD + 1 {
                    return Err(FrameError::BadLength);
                }
                let m1 = d.len() - MAC_LEN;
                Ok(Frame::Resp(Resp {
                    sender: r.u32().map_err(short)?,
                    receiver: r.u32().map_err(short)?,
                    noise: &d[9..m1],
                    mac1_input: &d[..m1],
                    mac1: d[m1..].try_into().map_err(fixed)?,
                }))
            }
            ty::COOKIE_REPLY if d.len() == COOKIE_REPLY_LEN => Ok(Frame::Cookie(CookieReply {
                receiver: r.u32().map_err(short)?,
                nonce: r.array().map_err(short)?,
                sealed: r.array().map_err(short)?,
            })),
            ty::TRANSPORT if d.len() > TRANSPORT_OVERHEAD => Ok(Frame::Transport(Transport {
                receiver: r.u32().map_err(short)?,
                counter: r.u64().map_err(short)?,
                sealed: &d[13..],
            })),
            ty::KEY_REQUEST if d.len() >= KEY_REQUEST_LEN => Ok(Frame::KeyRequest),
            ty::KEY_REPLY if d.len() == KEY_REPLY_LEN && d[1] == VERSION => Ok(Frame::KeyReply(
                PublicKey(d[2..].try_into().map_err(fixed)?),
            )),
            ty::COOKIE_REPLY | ty::TRANSPORT | ty::KEY_REQUEST | ty::KEY_REPLY => {
                Err(FrameError::BadLength)
            }
            other => Err(FrameError::UnknownType(other)),
        }
    }
}

/// A KEY_REQUEST: the type byte and 63 zeros.
pub fn key_request() -> [u8; KEY_REQUEST_LEN] {
    let mut out = [0u8; KEY_REQUEST_LEN];
    out[0] = ty::KEY_REQUEST;
    out
}

/// A KEY_REPLY announcing `key`.
pub fn key_reply(key: &PublicKey) -> [u8; KEY_REPLY_LEN] {
    let mut out = [0u8; KEY_REPLY_LEN];
    out[0] = ty::KEY_REPLY;
    out[1] = VERSION;
    out[2..].copy_from_slice(&key.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes_dispatch_and_lengths_are_checked() {
        assert!(matches!(Frame::parse(&[0x00, 1]), Ok(Frame::Stun)));
        assert!(matches!(Frame::parse(b"{\"v\":1}"), Ok(Frame::Legacy)));
        assert_eq!(Frame::parse(&[]).unwrap_err(), FrameError::Empty);
        assert_eq!(
            Frame::parse(&[0x42]).unwrap_err(),
            FrameError::UnknownType(0x42)
        );
        assert_eq!(
            Frame::parse(&[ty::TRANSPORT; 29]).unwrap_err(),
            FrameError::BadLength,
            "a transport frame needs at least one byte of payload"
        );
        assert!(matches!(
            Frame::parse(&[ty::TRANSPORT; 30]),
            Ok(Frame::Transport(_))
        ));
        assert_eq!(
            Frame::parse(&[ty::TRANSPORT; MAX_DATAGRAM + 1]).unwrap_err(),
            FrameError::TooLarge
        );
        assert!(matches!(
            Frame::parse(&key_request()),
            Ok(Frame::KeyRequest)
        ));
        assert_eq!(
            Frame::parse(&key_request()[..63]).unwrap_err(),
            FrameError::BadLength
        );
        let k = PublicKey([9; 32]);
        assert!(matches!(Frame::parse(&key_reply(&k)), Ok(Frame::KeyReply(x)) if x == k));
        assert_eq!(
            Frame::parse(&[ty::HANDSHAKE_INIT; 133]).unwrap_err(),
            FrameError::BadLength
        );
        assert!(matches!(
            Frame::parse(&[ty::HANDSHAKE_INIT; 134]),
            Ok(Frame::Init(_))
        ));
        assert!(matches!(
            Frame::parse(&[ty::HANDSHAKE_RESP; 74]),
            Ok(Frame::Resp(_))
        ));
        assert!(matches!(
            Frame::parse(&[ty::COOKIE_REPLY; 61]),
            Ok(Frame::Cookie(_))
        ));
    }
}

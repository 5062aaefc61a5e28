//! Writing messages: `"v": 1` first, then `type` and the fields, within
//! the datagram and text limits.

use serde::Serialize;

use super::{ErrorCode, Packet, MAX_DATAGRAM, MAX_TEXT, VERSION};
use crate::ids::Seq;

/// Why a message cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message of {len} bytes exceeds the {MAX_DATAGRAM}-byte datagram limit")]
    TooLarge { len: usize },
    #[error("message text of {len} bytes exceeds the {MAX_TEXT}-byte limit")]
    TextTooLong { len: usize },
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

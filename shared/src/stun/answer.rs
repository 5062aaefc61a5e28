//! The server side of the STUN codec: [`answer`] turns one datagram into the
//! bytes to send back, or into silence (the rules are in the parent module).

use std::net::SocketAddr;

use super::{
    attr, encode_address, message_type, xor_mask, Class, Message, TransactionId, CHANGE_FLAGS,
    FINGERPRINT_XOR, HEADER_LEN, KNOWN_5389, MAX_UNKNOWN, METHOD_BINDING, SOFTWARE,
};

/// Reason phrases; their lengths are multiples of 4, so classic RFC 3489
/// parsers (which do not know padding) read them exactly.
const REASON_420: &str = "Unknown Attribute(s)";
const REASON_400: &str = "Bad Request (method)";

/// What the server should do with one STUN datagram from `source`.
///
/// `Some(n)`: send `out[..n]` back to `source`; `None`: drop it silently.
/// `out` should hold at least [`super::ANSWER_BUF`] bytes; an answer that
/// does not fit a smaller buffer is dropped. Never panics, whatever the input.
pub fn answer(datagram: &[u8], source: SocketAddr, out: &mut [u8]) -> Option<usize> {
    let msg = Message::parse(datagram).ok()?;
    if msg.class() != Class::Request {
        return None;
    }
    let classic = !msg.is_rfc5389();
    if msg.method() != METHOD_BINDING {
        if classic {
            return None;
        }
        return error_response(&msg, 400, REASON_400, &Unknown::default(), out);
    }
    let mut unknown = Unknown::default();
    let mut after_integrity = false;
    for a in msg.attributes() {
        if after_integrity {
            continue;
        }
        match a.kind {
            attr::CHANGE_REQUEST => {
                let &[_, _, _, flags] = a.value else {
                    return None;
                };
                if flags & CHANGE_FLAGS != 0 {
                    if classic {
                        return None;
                    }
                    unknown.push(attr::CHANGE_REQUEST);
                }
            }
            attr::MESSAGE_INTEGRITY | attr::MESSAGE_INTEGRITY_SHA256 if !classic => {
                after_integrity = true;
            }
            kind if kind < 0x8000 && !known(kind, classic) => unknown.push(kind),
            _ => {}
        }
    }
    if unknown.len > 0 {
        return error_response(&msg, 420, REASON_420, &unknown, out);
    }
    let mut w = Writer::new(out);
    w.header(message_type(METHOD_BINDING, Class::Success), &msg.txid)?;
    let mut value = [0u8; 20];
    match msg.txid {
        TransactionId::Classic(_) => {
            let len = encode_address(source, None, &mut value);
            w.attribute(attr::MAPPED_ADDRESS, value.get(..len)?)?;
            w.finish(false)
        }
        TransactionId::Rfc5389(id) => {
            let len = encode_address(source, Some(&xor_mask(&id)), &mut value);
            w.attribute(attr::XOR_MAPPED_ADDRESS, value.get(..len)?)?;
            w.attribute(attr::SOFTWARE, SOFTWARE.as_bytes())?;
            w.finish(true)
        }
    }
}

/// Whether a comprehension-required attribute is understood.
fn known(kind: u16, classic: bool) -> bool {
    if classic {
        (attr::MAPPED_ADDRESS..=attr::REFLECTED_FROM).contains(&kind)
    } else {
        KNOWN_5389.contains(&kind)
    }
}

/// The unknown comprehension-required attribute types of a request,
/// without duplicates, at most [`MAX_UNKNOWN`].
#[derive(Default)]
struct Unknown {
    kinds: [u16; MAX_UNKNOWN],
    len: usize,
}

impl Unknown {
    fn push(&mut self, kind: u16) {
        let seen = self.kinds.get(..self.len).unwrap_or_default();
        if self.len < MAX_UNKNOWN && !seen.contains(&kind) {
            self.kinds[self.len] = kind;
            self.len += 1;
        }
    }
}

/// An error response to `msg` with ERROR-CODE and, when `unknown` is not
/// empty, UNKNOWN-ATTRIBUTES. Classic answers follow RFC 3489: an even
/// number of listed types (the last repeated), no SOFTWARE, no FINGERPRINT.
fn error_response(
    msg: &Message<'_>,
    code: u16,
    reason: &str,
    unknown: &Unknown,
    out: &mut [u8],
) -> Option<usize> {
    let classic = !msg.is_rfc5389();
    let mut w = Writer::new(out);
    w.header(message_type(msg.method(), Class::Error), &msg.txid)?;
    let reason = reason.as_bytes();
    let mut value = [0u8; 4 + REASON_420.len()];
    value[2] = u8::try_from(code / 100).ok()?;
    value[3] = u8::try_from(code % 100).ok()?;
    value.get_mut(4..4 + reason.len())?.copy_from_slice(reason);
    w.attribute(attr::ERROR_CODE, value.get(..4 + reason.len())?)?;
    if unknown.len > 0 {
        let mut list = [0u8; 2 * (MAX_UNKNOWN + 1)];
        let mut n = 0;
        for kind in unknown.kinds.get(..unknown.len)? {
            list.get_mut(2 * n..2 * n + 2)?
                .copy_from_slice(&kind.to_be_bytes());
            n += 1;
        }
        if classic && n % 2 == 1 {
            let last = unknown.kinds.get(n - 1)?.to_be_bytes();
            list.get_mut(2 * n..2 * n + 2)?.copy_from_slice(&last);
            n += 1;
        }
        w.attribute(attr::UNKNOWN_ATTRIBUTES, list.get(..2 * n)?)?;
    }
    if !classic {
        w.attribute(attr::SOFTWARE, SOFTWARE.as_bytes())?;
    }
    w.finish(!classic)
}

/// Writes a message into a caller's buffer; every method returns `None`
/// when the buffer is too small, so nothing ever indexes out of bounds.
struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    fn put(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.len.checked_add(bytes.len())?;
        self.buf.get_mut(self.len..end)?.copy_from_slice(bytes);
        self.len = end;
        Some(())
    }

    fn header(&mut self, msg_type: u16, txid: &TransactionId) -> Option<()> {
        self.put(&msg_type.to_be_bytes())?;
        self.put(&[0, 0])?;
        self.put(&txid.header_tail())
    }

    /// Writes an attribute, padded with zeros to a multiple of 4 bytes.
    fn attribute(&mut self, kind: u16, value: &[u8]) -> Option<()> {
        self.put(&kind.to_be_bytes())?;
        self.put(&u16::try_from(value.len()).ok()?.to_be_bytes())?;
        self.put(value)?;
        let pad = (4 - value.len() % 4) % 4;
        self.put(&[0u8; 3][..pad])
    }

    fn set_length(&mut self, body: usize) -> Option<()> {
        let length = u16::try_from(body).ok()?.to_be_bytes();
        self.buf.get_mut(2..4)?.copy_from_slice(&length);
        Some(())
    }

    /// Sets the length field and appends FINGERPRINT if asked; returns
    /// the message's length.
    fn finish(mut self, fingerprint: bool) -> Option<usize> {
        if fingerprint {
            self.set_length(self.len + 8 - HEADER_LEN)?;
            let crc = crc32fast::hash(self.buf.get(..self.len)?) ^ FINGERPRINT_XOR;
            self.attribute(attr::FINGERPRINT, &crc.to_be_bytes())?;
        } else {
            self.set_length(self.len - HEADER_LEN)?;
        }
        Some(self.len)
    }
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;

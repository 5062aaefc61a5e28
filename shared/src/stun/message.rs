//! Reading a STUN message: the header, the transaction id, the attributes,
//! and the checks of length, padding and FINGERPRINT.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::codes::*;
use crate::proto::codec::canonical;

/// Why a datagram is not the STUN message expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StunError {
    #[error("stun message of {len} bytes is shorter than the 20-byte header")]
    TooShort { len: usize },
    #[error("stun message of {len} bytes exceeds the {MAX_STUN}-byte limit")]
    TooLong { len: usize },
    #[error("not a stun message: the first two bits are not zero")]
    NotStun,
    #[error("stun length field {length} is not a multiple of 4")]
    BadLength { length: usize },
    #[error("stun length field says {header} bytes of attributes, the datagram has {actual}")]
    LengthMismatch { header: usize, actual: usize },
    #[error("stun attribute 0x{kind:04x} at offset {offset} is truncated")]
    TruncatedAttribute { kind: u16, offset: usize },
    #[error("stun FINGERPRINT is not the last attribute")]
    FingerprintNotLast,
    #[error("stun FINGERPRINT does not match the message")]
    BadFingerprint,
    #[error("stun message type 0x{msg_type:04x} is not a binding success response")]
    NotBindingResponse { msg_type: u16 },
    #[error("stun error response {code}: {reason}")]
    ErrorResponse { code: u16, reason: String },
    #[error("stun binding response carries no mapped address")]
    NoMappedAddress,
    #[error("stun address attribute 0x{kind:04x} is malformed")]
    BadAddress { kind: u16 },
}

/// A transaction id: 96 bits after the cookie (RFC 5389), or the 128 bits
/// of a classic RFC 3489 message, which has no cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionId {
    Rfc5389([u8; 12]),
    Classic([u8; 16]),
}

impl TransactionId {
    /// Bytes 4..20 of the header: cookie and id, or the classic id.
    pub(super) fn header_tail(&self) -> [u8; 16] {
        match self {
            Self::Classic(id) => *id,
            Self::Rfc5389(id) => {
                let mut t = [0u8; 16];
                t[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                t[4..].copy_from_slice(id);
                t
            }
        }
    }
}

/// The class of a STUN message (RFC 8489 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Request,
    Indication,
    Success,
    Error,
}

/// A message whose header, attribute framing and FINGERPRINT are valid.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    raw: &'a [u8],
    /// The 16-bit message type (class and method).
    pub msg_type: u16,
    pub txid: TransactionId,
    /// A FINGERPRINT was present (it is then known to match).
    pub fingerprint: bool,
}

/// One attribute: its type, its value without padding, and the offset of
/// its header in the message (MESSAGE-INTEGRITY covers the bytes before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub kind: u16,
    pub value: &'a [u8],
    pub offset: usize,
}

/// Iterator over the attributes of a [`Message`].
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    raw: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;

    fn next(&mut self) -> Option<Attribute<'a>> {
        let (attribute, next) = read_attribute(self.raw, self.offset).ok()??;
        self.offset = next;
        Some(attribute)
    }
}

/// Reads the attribute at `offset`: `Ok(None)` at the end of the message.
fn read_attribute(raw: &[u8], offset: usize) -> Result<Option<(Attribute<'_>, usize)>, StunError> {
    let Some(rest) = raw.get(offset..).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let kind = match rest {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let truncated = StunError::TruncatedAttribute { kind, offset };
    let &[_, _, l0, l1, ..] = rest else {
        return Err(truncated);
    };
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    let padded = (len + 3) & !3;
    let value = rest.get(4..4 + len).ok_or(truncated.clone())?;
    if rest.len() < 4 + padded {
        return Err(truncated);
    }
    Ok(Some((
        Attribute {
            kind,
            value,
            offset,
        },
        offset + 4 + padded,
    )))
}

impl<'a> Message<'a> {
    /// Checks the header, the framing of every attribute and, in RFC 5389
    /// messages, that a FINGERPRINT is last and matches.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, StunError> {
        let len = datagram.len();
        if len > MAX_STUN {
            return Err(StunError::TooLong { len });
        }
        let Some((header, _)) = datagram.split_first_chunk::<HEADER_LEN>() else {
            return Err(StunError::TooShort { len });
        };
        if header[0] & 0xC0 != 0 {
            return Err(StunError::NotStun);
        }
        let msg_type = u16::from_be_bytes([header[0], header[1]]);
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        if length % 4 != 0 {
            return Err(StunError::BadLength { length });
        }
        if length != len - HEADER_LEN {
            let actual = len - HEADER_LEN;
            return Err(StunError::LengthMismatch {
                header: length,
                actual,
            });
        }
        let mut tail = [0u8; 16];
        tail.copy_from_slice(&header[4..]);
        let txid = if tail[..4] == MAGIC_COOKIE.to_be_bytes() {
            let mut id = [0u8; 12];
            id.copy_from_slice(&tail[4..]);
            TransactionId::Rfc5389(id)
        } else {
            TransactionId::Classic(tail)
        };
        let mut fingerprint = false;
        let mut offset = HEADER_LEN;
        while let Some((a, next)) = read_attribute(datagram, offset)? {
            if fingerprint {
                return Err(StunError::FingerprintNotLast);
            }
            if a.kind == attr::FINGERPRINT && matches!(txid, TransactionId::Rfc5389(_)) {
                let expected = crc32fast::hash(&datagram[..a.offset]) ^ FINGERPRINT_XOR;
                if a.value != expected.to_be_bytes() {
                    return Err(StunError::BadFingerprint);
                }
                fingerprint = true;
            }
            offset = next;
        }
        Ok(Self {
            raw: datagram,
            msg_type,
            txid,
            fingerprint,
        })
    }

    /// The message's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// The attributes in order.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            raw: self.raw,
            offset: HEADER_LEN,
        }
    }

    /// The first attribute of type `kind` (later duplicates are ignored).
    pub fn attribute(&self, kind: u16) -> Option<Attribute<'a>> {
        self.attributes().find(|a| a.kind == kind)
    }

    pub fn class(&self) -> Class {
        match ((self.msg_type >> 7) & 2) | ((self.msg_type >> 4) & 1) {
            0 => Class::Request,
            1 => Class::Indication,
            2 => Class::Success,
            _ => Class::Error,
        }
    }

    pub fn method(&self) -> u16 {
        let t = self.msg_type;
        (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80)
    }

    /// True for RFC 5389/8489 messages, false for classic RFC 3489 ones.
    pub fn is_rfc5389(&self) -> bool {
        matches!(self.txid, TransactionId::Rfc5389(_))
    }
}

/// The message type of `method` in `class`.
pub(super) fn message_type(method: u16, class: Class) -> u16 {
    let c = match class {
        Class::Request => 0x0000,
        Class::Indication => 0x0010,
        Class::Success => 0x0100,
        Class::Error => 0x0110,
    };
    (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | c
}

/// True when the first byte says STUN (`0x00` or `0x01`), per protocol.md 1.1.
pub fn is_stun(datagram: &[u8]) -> bool {
    matches!(datagram.first(), Some(0x00 | 0x01))
}

/// Address family codes of (XOR-)MAPPED-ADDRESS.
const FAMILY_V4: u8 = 0x01;
const FAMILY_V6: u8 = 0x02;

/// The 16 bytes an XOR-MAPPED-ADDRESS is masked with: cookie, then txid.
pub(super) fn xor_mask(txid: &[u8; 12]) -> [u8; 16] {
    TransactionId::Rfc5389(*txid).header_tail()
}

/// Encodes `addr` as the value of a (XOR-)MAPPED-ADDRESS attribute into
/// `value` (at least 20 bytes); returns the value's length (8 or 20).
/// An IPv4-mapped IPv6 address is written as IPv4.
pub(super) fn encode_address(
    addr: SocketAddr,
    mask: Option<&[u8; 16]>,
    value: &mut [u8; 20],
) -> usize {
    let addr = canonical(addr);
    let (family, ip, ip_len): (u8, [u8; 16], usize) = match addr.ip() {
        IpAddr::V4(v4) => {
            let mut ip = [0u8; 16];
            ip[..4].copy_from_slice(&v4.octets());
            (FAMILY_V4, ip, 4)
        }
        IpAddr::V6(v6) => (FAMILY_V6, v6.octets(), 16),
    };
    let mut port = addr.port().to_be_bytes();
    let mut ip = ip;
    if let Some(mask) = mask {
        port[0] ^= mask[0];
        port[1] ^= mask[1];
        for (b, m) in ip.iter_mut().zip(mask.iter()) {
            *b ^= m;
        }
    }
    value[0] = 0;
    value[1] = family;
    value[2..4].copy_from_slice(&port);
    value[4..4 + ip_len].copy_from_slice(&ip[..ip_len]);
    4 + ip_len
}

/// Decodes the value of a (XOR-)MAPPED-ADDRESS attribute of type `kind`.
pub(super) fn decode_address(
    kind: u16,
    value: &[u8],
    mask: Option<&[u8; 16]>,
) -> Result<SocketAddr, StunError> {
    let bad = StunError::BadAddress { kind };
    let (&[_, family, p0, p1], rest) = value.split_first_chunk::<4>().ok_or(bad.clone())?;
    let zero = [0u8; 16];
    let mask = mask.unwrap_or(&zero);
    let port = u16::from_be_bytes([p0 ^ mask[0], p1 ^ mask[1]]);
    let mut ip = [0u8; 16];
    for ((b, v), m) in ip.iter_mut().zip(rest).zip(mask) {
        *b = v ^ m;
    }
    let ip = match (family, rest.len()) {
        (FAMILY_V4, 4) => IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])),
        (FAMILY_V6, 16) => IpAddr::V6(Ipv6Addr::from(ip)),
        _ => return Err(bad),
    };
    Ok(SocketAddr::new(ip, port))
}

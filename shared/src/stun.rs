//! The STUN Binding codec the rendezvous server answers stock STUN clients
//! with on its one UDP port (protocol.md 1.1), and the client half used by
//! tests and the load generator.
//!
//! Written by hand because the STUN crates reject classic RFC 3489 requests.
//! It never allocates on the server path, never panics and never reads out
//! of bounds, whatever the input. [`answer`] decides what the server does:
//!
//! - RFC 8489/5389 Binding Request (magic cookie `0x2112A442`): Binding
//!   Success Response with the same transaction id, XOR-MAPPED-ADDRESS
//!   (an IPv4-mapped IPv6 source is written as IPv4), SOFTWARE and
//!   FINGERPRINT.
//! - classic RFC 3489 Binding Request (no cookie): Binding Response with
//!   MAPPED-ADDRESS and nothing else (3489 parsers such as Debian's `stun`
//!   reject attributes they do not know).
//! - CHANGE-REQUEST asking for another IP or port cannot be honoured by a
//!   one-address server. In an RFC 5389 request it is answered with 420
//!   (Unknown Attribute) listing CHANGE-REQUEST, as RFC 5780 7.2 prescribes
//!   for servers without an alternate address. A classic request is
//!   **dropped**: Debian's `stun` client counts any datagram carrying the
//!   test's transaction id as "the change worked" without looking at the
//!   message type, so a 420 would make it report a NAT type that is false.
//!   Silence lets it conclude correctly that the change did not happen.
//!   A CHANGE-REQUEST with no flag set asks for nothing and is answered.
//! - RESPONSE-ADDRESS is ignored (honouring it would aim replies at third
//!   parties). USERNAME, MESSAGE-INTEGRITY and the other credential
//!   attributes are understood and ignored: the server uses no credentials.
//! - any other comprehension-required attribute (type below `0x8000`) not
//!   understood: 420 with UNKNOWN-ATTRIBUTES (at most [`MAX_UNKNOWN`]
//!   listed). Attributes after MESSAGE-INTEGRITY are ignored (RFC 8489 14.5).
//! - other request methods: 400 error response (RFC 5389), dropped (classic).
//! - responses and indications: never answered. Malformed messages (length
//!   not a multiple of 4, a length field that lies, a truncated attribute,
//!   a bad or misplaced FINGERPRINT, more than [`MAX_STUN`] bytes): dropped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::wire;

mod answer;
mod client;

pub use answer::answer;
pub use client::{
    binding_request, classic_binding_request, parse_binding_response, BindingResponse,
};

/// Longest STUN message the server processes, in bytes (same limit as JSON
/// datagrams: [`wire::MAX_DATAGRAM`]). Longer ones are dropped unread.
pub const MAX_STUN: usize = wire::MAX_DATAGRAM;
/// Size of the STUN header, in bytes.
pub const HEADER_LEN: usize = 20;
/// Smallest `out` buffer [`answer`] needs, in bytes: every answer fits.
/// With a smaller buffer an answer that does not fit is dropped, never cut.
pub const ANSWER_BUF: usize = 512;
/// Most attribute types one 420 response lists in UNKNOWN-ATTRIBUTES.
pub const MAX_UNKNOWN: usize = 32;
/// The magic cookie of RFC 5389/8489 messages (bytes 4..8).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// The SOFTWARE attribute the server adds to RFC 5389 answers.
pub const SOFTWARE: &str = concat!("peerd ", env!("CARGO_PKG_VERSION"));
/// FINGERPRINT is the CRC-32 of the message XOR this value (RFC 8489 14.7).
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// The Binding method.
pub const METHOD_BINDING: u16 = 0x001;

/// Attribute types (RFC 3489, 5389, 8489, 5780, 8445).
pub mod attr {
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    pub const RESPONSE_ADDRESS: u16 = 0x0002;
    pub const CHANGE_REQUEST: u16 = 0x0003;
    pub const SOURCE_ADDRESS: u16 = 0x0004;
    pub const CHANGED_ADDRESS: u16 = 0x0005;
    pub const USERNAME: u16 = 0x0006;
    pub const PASSWORD: u16 = 0x0007;
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    pub const ERROR_CODE: u16 = 0x0009;
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    pub const REFLECTED_FROM: u16 = 0x000B;
    pub const REALM: u16 = 0x0014;
    pub const NONCE: u16 = 0x0015;
    pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
    pub const PASSWORD_ALGORITHM: u16 = 0x001D;
    pub const USERHASH: u16 = 0x001E;
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    pub const PRIORITY: u16 = 0x0024;
    pub const USE_CANDIDATE: u16 = 0x0025;
    pub const PADDING: u16 = 0x0026;
    pub const SOFTWARE: u16 = 0x8022;
    pub const FINGERPRINT: u16 = 0x8028;
}

/// CHANGE-REQUEST flags: change IP (0x04) and change port (0x02).
const CHANGE_FLAGS: u8 = 0x06;
/// Comprehension-required attributes an RFC 5389 Binding Request may carry.
const KNOWN_5389: [u16; 16] = [
    attr::MAPPED_ADDRESS,
    attr::RESPONSE_ADDRESS,
    attr::CHANGE_REQUEST,
    attr::USERNAME,
    attr::MESSAGE_INTEGRITY,
    attr::ERROR_CODE,
    attr::UNKNOWN_ATTRIBUTES,
    attr::REALM,
    attr::NONCE,
    attr::MESSAGE_INTEGRITY_SHA256,
    attr::PASSWORD_ALGORITHM,
    attr::USERHASH,
    attr::XOR_MAPPED_ADDRESS,
    attr::PRIORITY,
    attr::USE_CANDIDATE,
    attr::PADDING,
];

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
    fn header_tail(&self) -> [u8; 16] {
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
fn message_type(method: u16, class: Class) -> u16 {
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
fn xor_mask(txid: &[u8; 12]) -> [u8; 16] {
    TransactionId::Rfc5389(*txid).header_tail()
}

/// Encodes `addr` as the value of a (XOR-)MAPPED-ADDRESS attribute into
/// `value` (at least 20 bytes); returns the value's length (8 or 20).
/// An IPv4-mapped IPv6 address is written as IPv4.
fn encode_address(addr: SocketAddr, mask: Option<&[u8; 16]>, value: &mut [u8; 20]) -> usize {
    let addr = wire::canonical(addr);
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
fn decode_address(
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

#[cfg(test)]
mod tests {
    //! RFC 5769 test vectors.
    use super::*;
    use hmac::{Hmac, Mac};

    const PASSWORD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";
    const TXID: [u8; 12] = [
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    ];

    /// RFC 5769 2.1: sample request.
    const REQUEST: [u8; 108] = [
        0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74,
        0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e,
        0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
        0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20,
        0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
        0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5,
        0x7a, 0x3b, 0xcf,
    ];

    /// RFC 5769 2.2: sample IPv4 response.
    const RESPONSE_V4: [u8; 80] = [
        0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76,
        0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1,
        0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
        0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00,
        0x04, 0xc0, 0x7d, 0x4c, 0x96,
    ];

    /// RFC 5769 2.3: sample IPv6 response.
    const RESPONSE_V6: [u8; 92] = [
        0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76,
        0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01,
        0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
        0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9,
        0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb,
        0x0b, 0x4c,
    ];

    /// Verifies MESSAGE-INTEGRITY (RFC 8489 14.5): HMAC-SHA1 over the
    /// message up to the attribute, with the length field covering it.
    fn integrity_ok(msg: &Message<'_>, key: &[u8]) -> bool {
        let Some(mi) = msg.attribute(attr::MESSAGE_INTEGRITY) else {
            return false;
        };
        let mut covered = msg.as_bytes()[..mi.offset].to_vec();
        let length = u16::try_from(mi.offset + 24 - HEADER_LEN).expect("short vector");
        covered[2..4].copy_from_slice(&length.to_be_bytes());
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("any key length");
        mac.update(&covered);
        mac.verify_slice(mi.value).is_ok()
    }

    #[test]
    fn rfc5769_sample_request() {
        let msg = Message::parse(&REQUEST).expect("valid vector");
        assert_eq!(msg.txid, TransactionId::Rfc5389(TXID));
        assert_eq!(
            (msg.class(), msg.method()),
            (Class::Request, METHOD_BINDING)
        );
        assert!(msg.fingerprint, "fingerprint present and matching");
        let kinds: Vec<u16> = msg.attributes().map(|a| a.kind).collect();
        assert_eq!(kinds, [0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028]);
        let software = msg.attribute(attr::SOFTWARE).expect("software");
        assert_eq!(software.value, b"STUN test client");
        let priority = msg.attribute(attr::PRIORITY).expect("priority");
        assert_eq!(priority.value, [0x6e, 0x00, 0x01, 0xff]);
        let username = msg.attribute(attr::USERNAME).expect("username");
        assert_eq!(username.value, b"evtj:h6vY");
        assert!(integrity_ok(&msg, PASSWORD));
        assert!(!integrity_ok(&msg, b"wrong password"));
        // ICE's PRIORITY is understood: a server answers the sample request.
        let source: SocketAddr = "192.0.2.1:32853".parse().expect("addr");
        let mut out = [0u8; ANSWER_BUF];
        let n = answer(&REQUEST, source, &mut out).expect("answered");
        let r = parse_binding_response(&out[..n]).expect("success response");
        assert_eq!((r.txid, r.mapped), (TransactionId::Rfc5389(TXID), source));
    }

    #[test]
    fn stun_is_told_from_json_by_its_first_byte() {
        assert!(is_stun(&binding_request(TXID)));
        assert!(is_stun(&RESPONSE_V4));
        assert!(!is_stun(b"{\"v\":1}"));
        assert!(!is_stun(&[]));
        assert!(!is_stun(&[0x02]));
    }

    #[test]
    fn rfc5769_ipv4_response() {
        let msg = Message::parse(&RESPONSE_V4).expect("valid vector");
        assert!(msg.fingerprint);
        assert!(integrity_ok(&msg, PASSWORD));
        let r = parse_binding_response(&RESPONSE_V4).expect("binding response");
        assert_eq!(
            r.mapped,
            "192.0.2.1:32853".parse::<SocketAddr>().expect("addr")
        );
        assert_eq!(r.txid, TransactionId::Rfc5389(TXID));
        assert!(r.xor && r.fingerprint);
        assert_eq!(r.software.as_deref(), Some("test vector"));
    }

    #[test]
    fn rfc5769_ipv6_response() {
        let msg = Message::parse(&RESPONSE_V6).expect("valid vector");
        assert!(msg.fingerprint);
        assert!(integrity_ok(&msg, PASSWORD));
        let r = parse_binding_response(&RESPONSE_V6).expect("binding response");
        let want: SocketAddr = "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
            .parse()
            .expect("addr");
        assert_eq!(r.mapped, want);
        assert!(r.xor && r.fingerprint);
    }

    #[test]
    fn corrupted_vectors_are_rejected() {
        let mut bad = RESPONSE_V4;
        bad[44] ^= 1; // inside XOR-MAPPED-ADDRESS: the fingerprint no longer matches
        assert_eq!(Message::parse(&bad).err(), Some(StunError::BadFingerprint));
        let mut lying = RESPONSE_V4;
        lying[3] = 0x40; // length field says 4 bytes more than there are
        assert!(matches!(
            Message::parse(&lying),
            Err(StunError::LengthMismatch { .. })
        ));
        // A matching FINGERPRINT followed by another attribute.
        let mut late = REQUEST[..100].to_vec();
        late[3] += 4;
        let crc = crc32fast::hash(&late) ^ FINGERPRINT_XOR;
        late.extend_from_slice(&[0x80, 0x28, 0x00, 0x04]);
        late.extend_from_slice(&crc.to_be_bytes());
        late.extend_from_slice(&[0x80, 0x22, 0x00, 0x00]);
        assert_eq!(
            Message::parse(&late).err(),
            Some(StunError::FingerprintNotLast)
        );
        for cut in 0..REQUEST.len() {
            assert!(
                Message::parse(&REQUEST[..cut]).is_err(),
                "prefix of {cut} bytes"
            );
        }
    }
}

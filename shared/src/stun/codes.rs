//! The numbers of STUN: limits, the magic cookie, the Binding method and
//! the attribute types this codec knows.

use crate::proto::MAX_DATAGRAM;

/// Longest STUN message the server processes, in bytes (the limit of every
/// peerd datagram: [`MAX_DATAGRAM`]). Longer ones are dropped unread.
pub const MAX_STUN: usize = MAX_DATAGRAM;
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
pub(super) const CHANGE_FLAGS: u8 = 0x06;
/// Comprehension-required attributes an RFC 5389 Binding Request may carry.
pub(super) const KNOWN_5389: [u16; 16] = [
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

//! An address's canonical `ip:port` text, rendered once and kept with the
//! peer, so that replies (REGISTER_ACK, LIST_ACK entries, CONNECT_ACK,
//! INTRO) copy bytes instead of formatting the address again.
//!
//! The text is held inline in 24 bytes (a length and 23 bytes), enough for
//! every IPv4 address (`255.255.255.255:65535` is 21) and short IPv6 ones
//! (`[::1]:8080`). A longer IPv6 text is not cached ([`AddrText::get`] is
//! `None`) and the encoder formats the address itself: correct, only slower.

use std::io::Write;
use std::net::SocketAddr;

use peerd_shared::wire::canonical;

/// Bytes of text held inline.
const CAP: usize = 23;

/// The canonical text of one address, or nothing if it is too long.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AddrText {
    /// Bytes used in `bytes`; 0 = not cached.
    len: u8,
    bytes: [u8; CAP],
}

impl AddrText {
    /// Nothing cached.
    pub const NONE: Self = Self {
        len: 0,
        bytes: [0; CAP],
    };

    /// Renders `addr` (in canonical form: IPv4-mapped IPv6 as IPv4).
    pub fn new(addr: SocketAddr) -> Self {
        let mut text = Self::NONE;
        let mut at = 0;
        match canonical(addr) {
            SocketAddr::V4(v4) => {
                let mut num = itoa::Buffer::new();
                for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        text.bytes[at] = b'.';
                        at += 1;
                    }
                    at = text.put(at, num.format(octet).as_bytes());
                }
                text.bytes[at] = b':';
                at = text.put(at + 1, num.format(v4.port()).as_bytes());
            }
            v6 => {
                let mut cursor = std::io::Cursor::new(&mut text.bytes[..]);
                if write!(cursor, "{v6}").is_err() {
                    return Self::NONE;
                }
                at = usize::try_from(cursor.position()).unwrap_or(0);
            }
        }
        // At most CAP: IPv4 text is 21 bytes at most, IPv6 was bounded above.
        text.len = u8::try_from(at).unwrap_or(0);
        text
    }

    /// Copies `s` at `at` (IPv4 pieces only, which always fit).
    fn put(&mut self, at: usize, s: &[u8]) -> usize {
        self.bytes[at..at + s.len()].copy_from_slice(s);
        at + s.len()
    }

    /// The text, if it was short enough to keep.
    pub fn get(&self) -> Option<&[u8]> {
        (self.len > 0).then(|| &self.bytes[..usize::from(self.len)])
    }
}

impl std::fmt::Debug for AddrText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.get() {
            Some(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            None => f.write_str("(not cached)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Option<String> {
        let addr: SocketAddr = s.parse().expect("test address");
        AddrText::new(addr)
            .get()
            .map(|b| String::from_utf8(b.to_vec()).expect("ascii"))
    }

    #[test]
    fn ipv4_is_written_like_display() {
        for s in [
            "0.0.0.0:0",
            "1.2.3.4:5",
            "127.0.0.1:8080",
            "255.255.255.255:65535",
            "10.0.100.9:10000",
        ] {
            assert_eq!(text(s).as_deref(), Some(s));
        }
    }

    #[test]
    fn mapped_ipv6_becomes_ipv4() {
        assert_eq!(text("[::ffff:10.1.2.3]:7").as_deref(), Some("10.1.2.3:7"));
    }

    #[test]
    fn short_ipv6_is_kept_long_ipv6_is_not() {
        assert_eq!(text("[::1]:9").as_deref(), Some("[::1]:9"));
        assert_eq!(
            text("[2001:db8::1]:65535").as_deref(),
            Some("[2001:db8::1]:65535")
        );
        assert_eq!(text("[2001:db8::1234:5678:9abc]:65535"), None);
        assert_eq!(AddrText::NONE.get(), None);
    }
}

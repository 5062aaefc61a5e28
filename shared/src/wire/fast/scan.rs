//! A cursor over a datagram that only moves on an exact match, reading the
//! pieces the fast decoders need: literals, plain decimal integers, ids,
//! `seq`s, tokens in lower-case hex and IPv4 `"a.b.c.d:port"` addresses.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::ids::{PeerId, Seq, Token, MAX_SAFE_INTEGER};

/// The rest of the datagram.
pub(super) struct Scan<'a>(pub(super) &'a [u8]);

impl Scan<'_> {
    pub(super) fn lit(&mut self, s: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(s)?;
        Some(())
    }

    /// A JSON integer in plain decimal (no sign, no leading zero, no
    /// fraction or exponent), at most `max`.
    pub(super) fn uint(&mut self, max: u64) -> Option<u64> {
        let n = self.digits(max)?;
        match self.0.first() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(n),
        }
    }

    /// Decimal digits, no leading zero, at most 16 digits and `max`.
    fn digits(&mut self, max: u64) -> Option<u64> {
        let digits = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 16 || (digits > 1 && self.0[0] == b'0') {
            return None;
        }
        let (num, rest) = self.0.split_at(digits);
        self.0 = rest;
        let n = num.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        (n <= max).then_some(n)
    }

    pub(super) fn seq(&mut self) -> Option<Seq> {
        self.uint(u64::from(u32::MAX))
            .and_then(|n| u32::try_from(n).ok())
            .map(Seq)
    }

    pub(super) fn id(&mut self) -> Option<PeerId> {
        self.uint(MAX_SAFE_INTEGER).and_then(PeerId::new)
    }

    /// `"` 32 lower-case hex characters `"`.
    pub(super) fn token(&mut self) -> Option<Token> {
        let rest = self.0.strip_prefix(b"\"")?;
        let (hex, rest) = (rest.get(..32)?, rest.get(32..)?);
        let rest = rest.strip_prefix(b"\"")?;
        let mut out = [0u8; 16];
        for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        self.0 = rest;
        Some(Token(out))
    }

    /// `"a.b.c.d:port"` with its quotes.
    pub(super) fn addr(&mut self) -> Option<SocketAddr> {
        self.lit(b"\"")?;
        let mut octets = [0u8; 4];
        for (i, o) in octets.iter_mut().enumerate() {
            if i > 0 {
                self.lit(b".")?;
            }
            *o = u8::try_from(self.digits(255)?).ok()?;
        }
        self.lit(b":")?;
        let port = u16::try_from(self.digits(u64::from(u16::MAX))?).ok()?;
        self.lit(b"\"")?;
        Some(SocketAddrV4::new(Ipv4Addr::from(octets), port).into())
    }

    pub(super) fn end(&self) -> Option<()> {
        (self.0 == b"}").then_some(())
    }
}

/// Lower-case hex digit values; 0xff = not one.
const HEX: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn nibble(c: u8) -> Option<u8> {
    let v = HEX[usize::from(c)];
    (v != 0xff).then_some(v)
}

//! Newtype identifiers of the wire protocol: peer ids, message ids, request
//! sequence numbers and the secret identity token.
//!
//! Each type enforces the value range protocol.md gives it, so a value of
//! one of these types is always valid on the wire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest integer that survives a round trip through a JSON double: 2^53 - 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A peer's numeric id, given by the server: 1..=2^53-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PeerId(u64);

impl PeerId {
    /// Returns the id if `raw` is in 1..=2^53-1.
    pub fn new(raw: u64) -> Option<Self> {
        (1..=MAX_SAFE_INTEGER).contains(&raw).then_some(Self(raw))
    }

    /// The id as a plain integer.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for PeerId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let raw: u64 = s
            .parse()
            .map_err(|_| format!("peer id must be a whole number, got {s:?}"))?;
        Self::new(raw)
            .ok_or_else(|| format!("peer id must be in 1..={MAX_SAFE_INTEGER}, got {raw}"))
    }
}

impl<'de> Deserialize<'de> for PeerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = u64::deserialize(d)?;
        Self::new(raw).ok_or_else(|| serde::de::Error::custom("peer id out of range 1..=2^53-1"))
    }
}

/// A message id: unsigned 64-bit, unique per sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MsgId(pub u64);

impl fmt::Display for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A request sequence number, picked by the client and echoed by the server.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Seq(pub u32);

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A peer's secret identity: 128 random bits, written as 32 lower-case hex
/// characters. `Debug` and `Display` never show it; use [`Token::to_hex`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(pub [u8; 16]);

/// Why a string is not a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token must be exactly 32 lower-case hex characters")]
pub struct BadToken;

impl Token {
    /// A fresh random token from the operating system's generator.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Parses exactly 32 lower-case hex characters.
    pub fn parse(s: &str) -> Result<Self, BadToken> {
        let b = s.as_bytes();
        if b.len() != 32 {
            return Err(BadToken);
        }
        let mut out = [0u8; 16];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            out[i] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Ok(Self(out))
    }

    /// The secret as 32 lower-case hex characters. Never log this.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(32);
        for byte in self.0 {
            s.push(DIGITS[usize::from(byte >> 4)] as char);
            s.push(DIGITS[usize::from(byte & 0x0f)] as char);
        }
        s
    }
}

fn hex_digit(c: u8) -> Result<u8, BadToken> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(BadToken),
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Serialize for Token {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        Token::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_and_rejects_bad_text() {
        let t = Token::generate().expect("os rng");
        assert_eq!(Token::parse(&t.to_hex()), Ok(t));
        assert_eq!(
            Token::parse("ABCDEF0123456789abcdef0123456789"),
            Err(BadToken)
        );
        assert_eq!(Token::parse("abc"), Err(BadToken));
        assert_eq!(
            Token::parse("g0000000000000000000000000000000"),
            Err(BadToken)
        );
        assert!(!format!("{t:?}").contains(&t.to_hex()));
    }

    #[test]
    fn peer_id_range() {
        assert!(PeerId::new(0).is_none());
        assert!(PeerId::new(MAX_SAFE_INTEGER + 1).is_none());
        assert_eq!(
            PeerId::new(MAX_SAFE_INTEGER).map(PeerId::get),
            Some(MAX_SAFE_INTEGER)
        );
        assert!("0".parse::<PeerId>().is_err());
        assert_eq!("7".parse::<PeerId>().map(PeerId::get), Ok(7));
    }
}

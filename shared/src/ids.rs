//! Newtype identifiers of the wire protocol: peer ids, message ids and
//! request sequence numbers.
//!
//! Each type enforces the value range protocol.md gives it, so a value of
//! one of these types is always valid on the wire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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

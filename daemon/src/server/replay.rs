//! The replay cache that makes CONNECT, UNREGISTER and RELAY idempotent.
//!
//! docs/protocol.md 5.2: a retransmission (same `seq`, same payload, in a
//! new TRANSPORT frame) within 30 s gets the same reply and has no second
//! effect. The cache remembers, for each authenticated CONNECT/UNREGISTER/
//! RELAY, the key (the peer, `seq`, a hash of the decrypted payload) and the
//! reply that was sent, as a small value rather than bytes, so storing it
//! does not allocate. A hit is
//! answered with the same reply and nothing else happens (no second INTRO,
//! no second RELAYED). Entries live [`RETRY_WINDOW`]; when the cache holds
//! its capacity, the oldest entry is forgotten first.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::time::Duration;

use peerd_shared::proto::{ErrorCode, PublicKey};
use peerd_shared::{PeerId, Seq};

/// How long a reply is remembered.
pub const RETRY_WINDOW: Duration = Duration::from_secs(30);

/// Identifies one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    peer: PeerId,
    seq: Seq,
    digest: u64,
}

/// A reply as remembered: enough to encode the same bytes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cached {
    ConnectAck {
        target: PeerId,
        key: PublicKey,
        addr: SocketAddr,
    },
    UnregisterAck,
    RelayAck,
    Error(ErrorCode),
}

/// Bounded map from request to reply, with expiry in insertion order.
#[derive(Debug)]
pub struct ReplayCache {
    hasher: std::collections::hash_map::RandomState,
    map: HashMap<ReplayKey, (u64, Cached)>,
    /// (inserted at, key), oldest first.
    order: VecDeque<(u64, ReplayKey)>,
    capacity: usize,
    window_ms: u64,
}

impl ReplayCache {
    /// A cache of at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            hasher: Default::default(),
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            window_ms: u64::try_from(RETRY_WINDOW.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The key of the request `payload` with `seq` from `peer`.
    pub fn key(&self, peer: PeerId, seq: Seq, payload: &[u8]) -> ReplayKey {
        ReplayKey {
            peer,
            seq,
            digest: self.hasher.hash_one(payload),
        }
    }

    /// The remembered reply, if the same datagram came within the window.
    pub fn get(&self, key: &ReplayKey, now_ms: u64) -> Option<Cached> {
        match self.map.get(key) {
            Some(&(at, reply)) if now_ms.saturating_sub(at) < self.window_ms => Some(reply),
            _ => None,
        }
    }

    /// Remembers `reply` for `key`.
    pub fn insert(&mut self, key: ReplayKey, reply: Cached, now_ms: u64) {
        self.expire(now_ms);
        while self.map.len() >= self.capacity {
            match self.order.pop_front() {
                Some((at, old)) => self.forget(at, old),
                None => break,
            }
        }
        self.map.insert(key, (now_ms, reply));
        self.order.push_back((now_ms, key));
    }

    /// Drops entries older than the window.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some(&(at, key)) = self.order.front() {
            if now_ms.saturating_sub(at) < self.window_ms {
                break;
            }
            self.order.pop_front();
            self.forget(at, key);
        }
    }

    fn forget(&mut self, at: u64, key: ReplayKey) {
        // The key may have been inserted again later; only its own entry goes.
        if self.map.get(&key).is_some_and(|&(t, _)| t == at) {
            self.map.remove(&key);
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> PeerId {
        PeerId::new(9).unwrap()
    }

    #[test]
    fn same_bytes_hit_other_bytes_miss() {
        let mut c = ReplayCache::new(8);
        let k = c.key(src(), Seq(1), b"abc");
        c.insert(k, Cached::RelayAck, 0);
        assert_eq!(
            c.get(&c.key(src(), Seq(1), b"abc"), 1),
            Some(Cached::RelayAck)
        );
        assert_eq!(c.get(&c.key(src(), Seq(1), b"abd"), 1), None);
        assert_eq!(c.get(&c.key(src(), Seq(2), b"abc"), 1), None);
        let other = PeerId::new(10).unwrap();
        assert_eq!(c.get(&c.key(other, Seq(1), b"abc"), 1), None);
    }

    #[test]
    fn entries_expire_after_the_window() {
        let mut c = ReplayCache::new(8);
        let k = c.key(src(), Seq(1), b"x");
        c.insert(k, Cached::UnregisterAck, 1000);
        assert!(c.get(&k, 30_999).is_some());
        assert!(c.get(&k, 31_000).is_none());
        c.expire(31_000);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn capacity_evicts_oldest() {
        let mut c = ReplayCache::new(2);
        let keys: Vec<_> = (0..3).map(|i| c.key(src(), Seq(i), b"x")).collect();
        for (i, k) in keys.iter().enumerate() {
            c.insert(*k, Cached::RelayAck, i as u64);
        }
        assert_eq!(c.len(), 2);
        assert!(c.get(&keys[0], 3).is_none());
        assert!(c.get(&keys[2], 3).is_some());
    }

    #[test]
    fn reinserted_key_survives_its_old_entry() {
        let mut c = ReplayCache::new(8);
        let k = c.key(src(), Seq(1), b"x");
        c.insert(k, Cached::RelayAck, 0);
        c.insert(k, Cached::UnregisterAck, 40_000);
        c.expire(40_001);
        assert_eq!(c.get(&k, 40_001), Some(Cached::UnregisterAck));
    }
}

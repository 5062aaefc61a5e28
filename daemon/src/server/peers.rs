//! The in-memory registry of ids: which key holds which id, who is online,
//! where, and each online peer's session with the server.
//!
//! Ids are dense (1, 2, 3, ...), so each id has a slot in a `Vec` at index
//! `id - 1` (its key, address, last refresh, newest handshake timestamp
//! and live session), and two bitsets say which ids are registered (durable
//! in the database) and which are online. A `HashMap` from key to id serves
//! handshakes. LIST walks the online bitset in id order, skipping 64 offline
//! ids per word.
//!
//! Session indices need no map: the server's index of a session is
//! `slot << 3 | generation`, the generation counting the slot's handshakes
//! modulo 8, so a TRANSPORT frame finds its slot with one shift. Each slot
//! holds its **current** session, the one INTRO and RELAYED go on. A new
//! session becomes current at once only when the current one is not
//! confirmed yet (docs/protocol.md 3: confirmed = a TRANSPORT frame arrived
//! on it); otherwise it waits, unconfirmed, in a small side map for
//! [`UNCONFIRMED_MS`], and takes over when its first frame arrives, the one
//! it replaces staying there for [`PREVIOUS_GRACE_MS`]. So a retried
//! REGISTER answered twice never takes INTRO away from the session the
//! daemon actually kept.
//!
//! This file holds the table of ids; `peers/sessions.rs` the methods on
//! sessions (indices, install, confirm, sweep); `peers/tests.rs` the unit
//! tests.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};

use peerd_shared::proto::{PublicKey, Session, SERVER_WINDOW_WORDS};
use peerd_shared::PeerId;

/// A session with the server's replay window.
pub type ServerSession = Session<SERVER_WINDOW_WORDS>;

/// How long the session a re-key replaced still receives, ms.
pub const PREVIOUS_GRACE_MS: u64 = 30_000;
/// How long a session nobody has sent a frame on is kept, ms.
pub const UNCONFIRMED_MS: u64 = 15_000;
/// Slots the index scheme can address: 2^29.
const MAX_SLOTS: usize = 1 << 29;
/// Index bits that count handshakes.
const GENERATION_BITS: u32 = 3;

/// A session and when its handshake completed.
#[derive(Debug)]
pub struct Live {
    pub session: ServerSession,
    /// ms since the registry epoch.
    pub established_ms: u64,
    /// A TRANSPORT frame arrived on it: the daemon holds it.
    pub confirmed: bool,
}

/// A session kept beside a slot's current one.
#[derive(Debug)]
struct Side {
    slot: u32,
    live: Live,
    forget_ms: u64,
}

/// One id's state. Meaningful fields depend on the bitsets.
#[derive(Debug)]
struct Slot {
    key: PublicKey,
    /// Where the peer's last authenticated datagram came from.
    addr: SocketAddr,
    /// Last refresh (handshake or KEEPALIVE), ms since the registry epoch.
    last_ms: u64,
    /// Newest accepted handshake timestamp (ns since the Unix epoch).
    last_ts: u64,
    /// The current session.
    live: Option<Live>,
    /// Handshakes completed, modulo 256 (the low bits are in the index).
    generation: u8,
}

impl Slot {
    fn empty(key: PublicKey) -> Self {
        Self {
            key,
            addr: SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            last_ms: 0,
            last_ts: 0,
            live: None,
            generation: 0,
        }
    }
}

/// A growable set of small integers.
#[derive(Debug, Default)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, i: usize, on: bool) {
        let word = i / 64;
        if word >= self.0.len() {
            if !on {
                return;
            }
            self.0.resize(word + 1, 0);
        }
        if on {
            self.0[word] |= 1 << (i % 64);
        } else {
            self.0[word] &= !(1 << (i % 64));
        }
    }

    /// The first member >= `from`.
    fn next_from(&self, from: usize) -> Option<usize> {
        let mut word = from / 64;
        let mut bits = self.0.get(word)? & (!0u64 << (from % 64));
        loop {
            if bits != 0 {
                return Some(word * 64 + bits.trailing_zeros() as usize);
            }
            word += 1;
            bits = *self.0.get(word)?;
        }
    }
}

/// The table of ids.
#[derive(Debug, Default)]
pub struct Peers {
    slots: Vec<Slot>,
    by_key: HashMap<PublicKey, u32>,
    registered: BitSet,
    online: BitSet,
    online_count: usize,
    /// Sessions beside the current ones (unconfirmed, or replaced), by index.
    side: HashMap<u32, Side>,
}

/// An online peer, as the core sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Online {
    pub key: PublicKey,
    pub addr: SocketAddr,
    pub last_ms: u64,
}

/// A stored registration: id, key, newest handshake timestamp.
pub type Row = (PeerId, PublicKey, u64);

impl Peers {
    /// The table holding the durable registrations `rows` (all offline);
    /// ids up to `reserved` (of protocol v1 tokens) are never given out.
    pub fn load(rows: impl IntoIterator<Item = Row>, reserved: u64) -> Self {
        let mut peers = Self::default();
        let unused = PublicKey([0; 32]);
        if let Some(top) = PeerId::new(reserved).and_then(index_of) {
            peers.slots.resize_with(top + 1, || Slot::empty(unused));
        }
        for (id, key, ts) in rows {
            let Some(index) = index_of(id).filter(|i| *i < MAX_SLOTS) else {
                continue;
            };
            if index >= peers.slots.len() {
                peers.slots.resize_with(index + 1, || Slot::empty(unused));
            }
            peers.slots[index] = Slot {
                last_ts: ts,
                ..Slot::empty(key)
            };
            peers.registered.set(index, true);
            peers.by_key.insert(key, index as u32);
        }
        peers
    }

    /// The id the next new key gets, if there is one left.
    pub fn next_id(&self) -> Option<PeerId> {
        (self.slots.len() < MAX_SLOTS)
            .then(|| PeerId::new(self.slots.len() as u64 + 1))
            .flatten()
    }

    /// Takes the next id for `key`, not yet registered (pending) until
    /// [`Peers::confirm`] or [`Peers::abandon`].
    pub fn assign(&mut self, key: PublicKey) -> Option<PeerId> {
        let id = self.next_id()?;
        self.by_key.insert(key, self.slots.len() as u32);
        self.slots.push(Slot::empty(key));
        Some(id)
    }

    /// Records that `id` belongs to `key` (a cluster node learns ids from
    /// the cluster database and from the other nodes). False, and nothing
    /// changes, when this table holds `id` or `key` otherwise.
    pub fn learn(&mut self, id: PeerId, key: PublicKey) -> bool {
        let Some(index) = index_of(id).filter(|i| *i < MAX_SLOTS) else {
            return false;
        };
        if self.registered.get(index) {
            return self.slots[index].key == key;
        }
        if self.by_key.get(&key).is_some_and(|&i| i as usize != index) {
            return false;
        }
        if index >= self.slots.len() {
            let unused = PublicKey([0; 32]);
            self.slots.resize_with(index + 1, || Slot::empty(unused));
        }
        self.slots[index] = Slot::empty(key);
        self.registered.set(index, true);
        self.by_key.insert(key, index as u32);
        true
    }

    /// The id of `key`, registered or pending.
    pub fn id_of(&self, key: &PublicKey) -> Option<PeerId> {
        self.by_key
            .get(key)
            .and_then(|&i| PeerId::new(u64::from(i) + 1))
    }

    /// Marks a pending id durable.
    pub fn confirm(&mut self, id: PeerId) {
        if let Some(index) = self.index(id) {
            self.registered.set(index, true);
        }
    }

    /// Gives up a pending id: its key is forgotten; the id is never reused.
    pub fn abandon(&mut self, id: PeerId) {
        if let Some(index) = self.index(id) {
            if !self.registered.get(index) {
                let key = self.slots[index].key;
                if self.by_key.get(&key) == Some(&(index as u32)) {
                    self.by_key.remove(&key);
                }
            }
        }
    }

    /// Whether `id` was ever registered (durably).
    pub fn is_registered(&self, id: PeerId) -> bool {
        index_of(id).is_some_and(|i| self.registered.get(i))
    }

    fn index(&self, id: PeerId) -> Option<usize> {
        index_of(id).filter(|i| *i < self.slots.len())
    }

    fn registered_slot(&mut self, id: PeerId) -> Option<&mut Slot> {
        let index = index_of(id).filter(|i| self.registered.get(*i))?;
        self.slots.get_mut(index)
    }

    /// The newest handshake timestamp accepted from `id`'s key.
    pub fn last_ts(&self, id: PeerId) -> u64 {
        self.index(id).map_or(0, |i| self.slots[i].last_ts)
    }

    /// Records a newer accepted handshake timestamp.
    pub fn set_last_ts(&mut self, id: PeerId, ts: u64) {
        if let Some(i) = self.index(id) {
            let slot = &mut self.slots[i];
            slot.last_ts = slot.last_ts.max(ts);
        }
    }

    /// Records the source of an authenticated datagram from `id`.
    pub fn roam(&mut self, id: PeerId, addr: SocketAddr) -> bool {
        match self.registered_slot(id) {
            Some(slot) if slot.addr != addr => {
                slot.addr = addr;
                true
            }
            _ => false,
        }
    }

    /// Puts a registered `id` online at `addr` as of `now_ms`.
    pub fn refresh(&mut self, id: PeerId, addr: SocketAddr, now_ms: u64) {
        let Some(index) = index_of(id).filter(|i| self.registered.get(*i)) else {
            return;
        };
        let slot = &mut self.slots[index];
        slot.addr = addr;
        slot.last_ms = now_ms;
        if !self.online.get(index) {
            self.online.set(index, true);
            self.online_count += 1;
        }
    }

    /// Takes `id` offline (its session stays until it expires).
    pub fn set_offline(&mut self, id: PeerId) {
        if let Some(index) = index_of(id) {
            if self.online.get(index) {
                self.online.set(index, false);
                self.online_count -= 1;
            }
        }
    }

    fn view(s: &Slot) -> Online {
        Online {
            key: s.key,
            addr: s.addr,
            last_ms: s.last_ms,
        }
    }

    /// The peer if it is online (whether or not it has expired).
    pub fn online(&self, id: PeerId) -> Option<Online> {
        let index = index_of(id)?;
        self.online
            .get(index)
            .then(|| Self::view(&self.slots[index]))
    }

    /// The key of a registered id.
    pub fn key_of(&self, id: PeerId) -> Option<PublicKey> {
        index_of(id)
            .filter(|i| self.registered.get(*i))
            .map(|i| self.slots[i].key)
    }

    /// Online peers with ids >= `from`, ascending.
    pub fn online_from(&self, from: PeerId) -> impl Iterator<Item = (PeerId, Online)> + '_ {
        let mut next = index_of(from);
        std::iter::from_fn(move || {
            let index = self.online.next_from(next?)?;
            next = Some(index + 1);
            let id = PeerId::new(index as u64 + 1)?;
            Some((id, Self::view(&self.slots[index])))
        })
    }

    /// Ids online (including not yet swept expired ones).
    pub fn online_count(&self) -> usize {
        self.online_count
    }

    /// Ids ever assigned or reserved.
    pub fn assigned(&self) -> usize {
        self.slots.len()
    }
}

fn index_of(id: PeerId) -> Option<usize> {
    usize::try_from(id.get() - 1).ok()
}

mod sessions;

#[cfg(test)]
mod tests;

//! The in-memory registry of ids: who holds which id, who is online, where.
//!
//! Ids are dense (1, 2, 3, ...), so each id has a slot in a `Vec` at index
//! `id - 1` (its token, its address, its last REGISTER), and two bitsets say
//! which ids are registered (durable in the database) and which are online.
//! A `HashMap` from token to id serves REGISTER. LIST walks the online
//! bitset in id order, skipping 64 offline ids per word. A slot costs 80
//! bytes plus about 21-42 bytes in the token map, under the 200 bytes per
//! online peer that issue 5 allows; the 24 bytes of address text make a
//! LIST page a run of copies instead of ~30 address renderings.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};

use peerd_shared::{PeerId, Token};

use super::addr_text::AddrText;

/// One id's state. Meaningful fields depend on the bitsets.
#[derive(Debug, Clone, Copy)]
struct Slot {
    token: Token,
    /// Where the peer's last REGISTER came from (canonical form).
    addr: SocketAddr,
    /// `addr` rendered, as replies show it.
    text: AddrText,
    /// Last REGISTER, ms since the registry epoch.
    last_ms: u64,
}

const EMPTY: Slot = Slot {
    token: Token([0; 16]),
    addr: SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
    text: AddrText::NONE,
    last_ms: 0,
};

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
    by_token: HashMap<Token, u32>,
    registered: BitSet,
    online: BitSet,
    online_count: usize,
}

/// An online peer, as the core sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Online {
    pub token: Token,
    pub addr: SocketAddr,
    pub text: AddrText,
    pub last_ms: u64,
}

impl Peers {
    /// The table holding the durable assignments `loaded` (all offline).
    pub fn load(loaded: impl IntoIterator<Item = (PeerId, Token)>) -> Self {
        let mut peers = Self::default();
        for (id, token) in loaded {
            if let Some(index) = index_of(id) {
                peers.reserve_slot(index);
                peers.slots[index].token = token;
                peers.registered.set(index, true);
                peers.by_token.insert(token, index as u32);
            }
        }
        peers
    }

    fn reserve_slot(&mut self, index: usize) {
        if index >= self.slots.len() {
            self.slots.resize(index + 1, EMPTY);
        }
    }

    /// The id the next new token gets, if there is one left.
    pub fn next_id(&self) -> Option<PeerId> {
        u32::try_from(self.slots.len())
            .ok()
            .filter(|n| *n < u32::MAX)
            .and_then(|n| PeerId::new(u64::from(n) + 1))
    }

    /// Takes the next id for `token`, not yet registered (pending) until
    /// [`Peers::confirm`] or [`Peers::abandon`].
    pub fn assign(&mut self, token: Token) -> Option<PeerId> {
        let id = self.next_id()?;
        let index = self.slots.len();
        self.slots.push(Slot { token, ..EMPTY });
        self.by_token.insert(token, index as u32);
        Some(id)
    }

    /// The id of `token`, registered or pending.
    pub fn id_of(&self, token: &Token) -> Option<PeerId> {
        self.by_token
            .get(token)
            .and_then(|&i| PeerId::new(u64::from(i) + 1))
    }

    /// Marks a pending id durable.
    pub fn confirm(&mut self, id: PeerId) {
        if let Some(index) = index_of(id).filter(|i| *i < self.slots.len()) {
            self.registered.set(index, true);
        }
    }

    /// Gives up a pending id: its token is forgotten; the id is never reused.
    pub fn abandon(&mut self, id: PeerId) {
        if let Some(index) = index_of(id).filter(|i| *i < self.slots.len()) {
            if !self.registered.get(index) {
                let token = self.slots[index].token;
                if self.by_token.get(&token) == Some(&(index as u32)) {
                    self.by_token.remove(&token);
                }
            }
        }
    }

    /// Whether `id` was ever registered (durably).
    pub fn is_registered(&self, id: PeerId) -> bool {
        index_of(id).is_some_and(|i| self.registered.get(i))
    }

    /// Puts a registered `id` online at `addr` as of `now_ms`; returns
    /// the address's text (rendered again only when the address changed).
    pub fn refresh(&mut self, id: PeerId, addr: SocketAddr, now_ms: u64) -> AddrText {
        let Some(index) = index_of(id).filter(|i| self.registered.get(*i)) else {
            return AddrText::NONE;
        };
        let slot = &mut self.slots[index];
        if slot.addr != addr || slot.text.get().is_none() {
            slot.addr = addr;
            slot.text = AddrText::new(addr);
        }
        slot.last_ms = now_ms;
        let text = slot.text;
        if !self.online.get(index) {
            self.online.set(index, true);
            self.online_count += 1;
        }
        text
    }

    /// Takes `id` offline.
    pub fn set_offline(&mut self, id: PeerId) {
        if let Some(index) = index_of(id) {
            if self.online.get(index) {
                self.online.set(index, false);
                self.online_count -= 1;
            }
        }
    }

    /// The peer if it is online (whether or not it has expired).
    pub fn online(&self, id: PeerId) -> Option<Online> {
        let index = index_of(id)?;
        self.online.get(index).then(|| {
            let s = &self.slots[index];
            Online {
                token: s.token,
                addr: s.addr,
                text: s.text,
                last_ms: s.last_ms,
            }
        })
    }

    /// Online peers with ids >= `from`, ascending.
    pub fn online_from(&self, from: PeerId) -> impl Iterator<Item = (PeerId, Online)> + '_ {
        let mut next = index_of(from);
        std::iter::from_fn(move || {
            let index = self.online.next_from(next?)?;
            next = Some(index + 1);
            let s = &self.slots[index];
            let id = PeerId::new(index as u64 + 1)?;
            Some((
                id,
                Online {
                    token: s.token,
                    addr: s.addr,
                    text: s.text,
                    last_ms: s.last_ms,
                },
            ))
        })
    }

    /// Ids online (including not yet swept expired ones).
    pub fn online_count(&self) -> usize {
        self.online_count
    }

    /// Ids ever assigned (registered, pending or abandoned).
    pub fn assigned(&self) -> usize {
        self.slots.len()
    }
}

fn index_of(id: PeerId) -> Option<usize> {
    usize::try_from(id.get() - 1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> PeerId {
        PeerId::new(n).expect("valid id")
    }

    #[test]
    fn bitset_walks_members_in_order() {
        let mut b = BitSet::default();
        for i in [0, 63, 64, 200] {
            b.set(i, true);
        }
        b.set(1000, false);
        let mut seen = vec![];
        let mut at = Some(0);
        while let Some(i) = at.and_then(|f| b.next_from(f)) {
            seen.push(i);
            at = Some(i + 1);
        }
        assert_eq!(seen, [0, 63, 64, 200]);
        assert_eq!(b.next_from(201), None);
        assert_eq!(b.next_from(100_000), None);
    }

    #[test]
    fn loaded_ids_with_gaps_continue_after_the_highest() {
        let p = Peers::load([(id(1), Token([1; 16])), (id(3), Token([3; 16]))]);
        assert!(p.is_registered(id(3)));
        assert!(!p.is_registered(id(2)));
        assert_eq!(p.next_id(), Some(id(4)));
        assert_eq!(p.id_of(&Token([3; 16])), Some(id(3)));
    }

    #[test]
    fn abandoned_ids_are_never_reused() {
        let mut p = Peers::default();
        let a = p.assign(Token([9; 16])).unwrap();
        p.abandon(a);
        assert_eq!(p.id_of(&Token([9; 16])), None);
        assert!(!p.is_registered(a));
        let b = p.assign(Token([9; 16])).unwrap();
        assert_eq!((a, b), (id(1), id(2)));
    }

    #[test]
    fn slots_stay_small() {
        assert!(std::mem::size_of::<Slot>() <= 80);
    }
}

//! The one timer mechanism of the core: deadlines by key. Message
//! retransmissions ([`super::queue`]), server request retransmissions
//! ([`super::requests`]) and path upkeep ([`super::delivery`]) all arm a
//! deadline here; the owner asks for the earliest ([`Timers::earliest`]), the
//! actor arms one timer for it, and when it fires the owner takes what is
//! due ([`Timers::pop_due`]).
//!
//! Re-arming a key replaces its deadline and disarming forgets it. Heap
//! entries are reconciled with the live deadlines when they surface: a
//! forgotten or replaced one is dropped, and one whose key was moved later
//! is pushed again at the later time. So moving a deadline later (a path
//! that keeps being used) costs a map update, not a heap entry each time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// Deadlines by key, earliest first.
#[derive(Debug)]
pub struct Timers<K> {
    heap: BinaryHeap<Reverse<(Instant, K)>>,
    /// The live deadline of each armed key (heap entries that differ are stale).
    armed: HashMap<K, Instant>,
}

impl<K> Default for Timers<K> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            armed: HashMap::new(),
        }
    }
}

impl<K: Copy + Ord + Hash> Timers<K> {
    /// Sets `key`'s deadline to `at` (replacing the one it had).
    pub fn arm(&mut self, key: K, at: Instant) {
        match self.armed.insert(key, at) {
            // An entry at or before `at` is in the heap: it is moved when
            // it surfaces.
            Some(old) if old <= at => {}
            _ => self.heap.push(Reverse((at, key))),
        }
    }

    /// Forgets `key`'s deadline.
    pub fn disarm(&mut self, key: K) {
        self.armed.remove(&key);
    }

    /// The deadline armed for `key`.
    #[cfg(test)]
    pub fn deadline(&self, key: K) -> Option<Instant> {
        self.armed.get(&key).copied()
    }

    /// The earliest live deadline.
    pub fn earliest(&mut self) -> Option<Instant> {
        self.skip_stale();
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// A key whose deadline is at or before `now` (disarmed as it is
    /// returned), earliest first.
    pub fn pop_due(&mut self, now: Instant) -> Option<K> {
        self.skip_stale();
        let Reverse((at, key)) = *self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        self.armed.remove(&key);
        Some(key)
    }

    /// Pops entries until the top one is a live deadline.
    fn skip_stale(&mut self) {
        while let Some(&Reverse((at, key))) = self.heap.peek() {
            match self.armed.get(&key) {
                Some(live) if *live == at => return,
                Some(live) if *live > at => {
                    let later = *live;
                    self.heap.pop();
                    self.heap.push(Reverse((later, key)));
                }
                _ => {
                    self.heap.pop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn deadlines_fire_in_order_and_replaced_ones_are_skipped() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut timers = Timers::default();
        timers.arm(1u32, ms(300));
        timers.arm(2, ms(100));
        timers.arm(3, ms(200));
        timers.arm(2, ms(400)); // moved later: its entry moves when it surfaces
        timers.disarm(3);
        assert_eq!(timers.earliest(), Some(ms(300)));
        assert_eq!(timers.heap.len(), 2, "the 100 ms entry moved to 400 ms");
        assert_eq!(timers.pop_due(ms(299)), None);
        assert_eq!(timers.pop_due(ms(500)), Some(1));
        assert_eq!(timers.deadline(2), Some(ms(400)));
        assert_eq!(timers.pop_due(ms(500)), Some(2));
        assert_eq!(timers.pop_due(ms(500)), None);
        assert_eq!(timers.earliest(), None);
        timers.arm(4, ms(900));
        timers.arm(4, ms(600)); // moved earlier: a new entry; the old one is dropped
        assert_eq!(timers.pop_due(ms(1000)), Some(4));
        assert_eq!(timers.pop_due(ms(1000)), None);
        assert!(timers.heap.is_empty());
    }
}

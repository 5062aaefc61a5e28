//! The outbox's bookkeeping, without actors: every pending message by id and
//! by peer, the retransmission timers, and the per-peer window of messages
//! on the wire (at most [`WINDOW`] unacknowledged; the rest wait, parked, in
//! order, so a burst never overruns the receiver).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

use peerd_shared::{MsgId, PeerId};

use super::outbox_msg::OutMsg;

/// Most unacknowledged messages on the wire to one peer.
pub const WINDOW: usize = 1024;

/// Pending messages and their timers.
#[derive(Default)]
pub struct Queue {
    msgs: HashMap<MsgId, OutMsg>,
    by_peer: HashMap<PeerId, BTreeSet<MsgId>>,
    timers: BinaryHeap<Reverse<(Instant, MsgId)>>,
    /// Messages counted in each peer's window.
    in_flight: HashMap<PeerId, usize>,
    /// Messages waiting for room in their peer's window, oldest first.
    parked: HashMap<PeerId, VecDeque<MsgId>>,
}

impl Queue {
    /// Adds a pending message.
    pub fn insert(&mut self, id: MsgId, m: OutMsg) {
        self.by_peer.entry(m.to).or_default().insert(id);
        self.msgs.insert(id, m);
    }

    /// Takes a message out (acknowledged or failed), freeing its window slot.
    pub fn remove(&mut self, id: MsgId) -> Option<OutMsg> {
        let m = self.msgs.remove(&id)?;
        if m.in_flight {
            if let Some(n) = self.in_flight.get_mut(&m.to) {
                *n = n.saturating_sub(1);
            }
        }
        if let Some(set) = self.by_peer.get_mut(&m.to) {
            set.remove(&id);
            if set.is_empty() {
                self.by_peer.remove(&m.to);
            }
        }
        Some(m)
    }

    pub fn get(&self, id: MsgId) -> Option<&OutMsg> {
        self.msgs.get(&id)
    }

    pub fn get_mut(&mut self, id: MsgId) -> Option<&mut OutMsg> {
        self.msgs.get_mut(&id)
    }

    /// The pending messages of `peer`, oldest first.
    pub fn ids_of(&self, peer: PeerId) -> Vec<MsgId> {
        self.by_peer
            .get(&peer)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Whether `peer` has pending messages.
    pub fn has_pending(&self, peer: PeerId) -> bool {
        self.by_peer.contains_key(&peer)
    }

    /// Arms the message's next retransmission.
    pub fn schedule(&mut self, id: MsgId, now: Instant) {
        if let Some(m) = self.msgs.get_mut(&id) {
            let due = m.schedule(now);
            self.timers.push(Reverse((due, id)));
        }
    }

    /// The next message whose timer has fired, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<MsgId> {
        while let Some(Reverse((due, id))) = self.timers.peek().copied() {
            if due > now {
                return None;
            }
            self.timers.pop();
            if self.msgs.get(&id).is_some_and(|m| m.due == due) {
                return Some(id);
            }
        }
        None
    }

    /// Whether the message may go on the wire now: it already holds a slot
    /// of its peer's window, or takes a free one; otherwise it is parked.
    pub fn admit(&mut self, id: MsgId) -> bool {
        let Some(m) = self.msgs.get_mut(&id) else {
            return false;
        };
        if m.in_flight {
            return true;
        }
        let n = self.in_flight.entry(m.to).or_default();
        if *n < WINDOW {
            *n += 1;
            m.in_flight = true;
            return true;
        }
        if !m.parked {
            m.parked = true;
            self.parked.entry(m.to).or_default().push_back(id);
        }
        false
    }

    /// A parked message of `peer` that now fits its window.
    pub fn next_released(&mut self, peer: PeerId) -> Option<MsgId> {
        if self.in_flight.get(&peer).copied().unwrap_or(0) >= WINDOW {
            return None;
        }
        let queue = self.parked.get_mut(&peer)?;
        while let Some(id) = queue.pop_front() {
            if let Some(m) = self.msgs.get_mut(&id) {
                m.parked = false;
                return Some(id);
            }
        }
        self.parked.remove(&peer);
        None
    }

    /// Peers with parked messages.
    pub fn parked_peers(&self) -> Vec<PeerId> {
        self.parked.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(to: u64) -> OutMsg {
        OutMsg::new(PeerId::new(to).unwrap(), "x".into(), 0, u64::MAX)
    }

    #[test]
    fn window_parks_the_excess_and_releases_in_order() {
        let mut q = Queue::default();
        let peer = PeerId::new(2).unwrap();
        let n = WINDOW as u64 + 2;
        for i in 0..n {
            q.insert(MsgId(i), msg(2));
        }
        q.insert(MsgId(n), msg(3));
        let admitted = (0..n).filter(|i| q.admit(MsgId(*i))).count();
        assert_eq!(admitted, WINDOW);
        assert!(q.admit(MsgId(n)), "another peer has its own window");
        assert!(!q.admit(MsgId(WINDOW as u64)), "still parked, parked once");
        assert_eq!(q.next_released(peer), None, "window full");
        q.remove(MsgId(0));
        assert_eq!(q.next_released(peer), Some(MsgId(WINDOW as u64)));
        assert!(q.admit(MsgId(WINDOW as u64)));
        assert_eq!(q.next_released(peer), None);
        q.remove(MsgId(1));
        assert_eq!(q.next_released(peer), Some(MsgId(WINDOW as u64 + 1)));
        assert_eq!(q.ids_of(peer).len(), WINDOW);
    }

    #[test]
    fn timers_fire_in_order_and_stale_ones_are_skipped() {
        let mut q = Queue::default();
        let now = Instant::now();
        q.insert(MsgId(1), msg(2));
        q.insert(MsgId(2), msg(2));
        q.schedule(MsgId(1), now);
        q.schedule(MsgId(2), now);
        q.schedule(MsgId(2), now); // re-armed: the first timer is stale
        assert_eq!(q.pop_due(now), None);
        let later = now + std::time::Duration::from_secs(1);
        assert_eq!(q.pop_due(later), Some(MsgId(1)));
        assert_eq!(q.pop_due(later), Some(MsgId(2)));
        assert_eq!(q.pop_due(later), None);
        q.remove(MsgId(1));
        assert!(q.has_pending(PeerId::new(2).unwrap()));
    }
}

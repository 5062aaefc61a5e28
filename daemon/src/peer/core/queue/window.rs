//! The queue proper: messages by id and by peer, their timers, and each
//! peer's window.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use peerd_shared::{MsgId, PeerId};

use super::OutMsg;
use crate::peer::core::clock::Now;
use crate::peer::core::timers::Timers;

/// Most unacknowledged messages on the wire to one peer.
pub const WINDOW: usize = 1024;

/// Pending messages and their timers.
#[derive(Default)]
pub struct Queue {
    msgs: HashMap<MsgId, OutMsg>,
    by_peer: HashMap<PeerId, BTreeSet<MsgId>>,
    timers: Timers<MsgId>,
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

    /// Takes a message out (acknowledged or failed), freeing its window
    /// slot and its timer.
    pub fn remove(&mut self, id: MsgId) -> Option<OutMsg> {
        let m = self.msgs.remove(&id)?;
        self.timers.disarm(id);
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

    /// How many messages of `peer` are pending.
    pub fn count_of(&self, peer: PeerId) -> usize {
        self.by_peer.get(&peer).map_or(0, BTreeSet::len)
    }

    /// Whether `peer` has pending messages.
    pub fn has_pending(&self, peer: PeerId) -> bool {
        self.by_peer.contains_key(&peer)
    }

    /// Arms the message's next send after one at `now`.
    pub fn schedule(&mut self, id: MsgId, now: Now) {
        if let Some(m) = self.msgs.get_mut(&id) {
            let due = m.next_due(now);
            self.timers.arm(id, due);
        }
    }

    /// The next message whose timer has fired, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<MsgId> {
        self.timers.pop_due(now)
    }

    /// When the next message's timer fires.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.timers.earliest()
    }

    /// Whether the message may go on the wire now: it already holds a slot
    /// of its peer's window, or takes a free one; otherwise it is parked
    /// (without a timer, until a slot frees).
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
        self.timers.disarm(id);
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
}

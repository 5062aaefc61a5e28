//! A node's in-memory replica of the other nodes' presence: which peers are
//! online on which node, at which address, with which key, since which
//! REGISTER (its handshake timestamp). Pure: messages and the time go in,
//! what changed comes out.
//!
//! The bus is at-most-once, so the replica heals itself: every node numbers
//! its ANNOUNCEs (`seq`) and repeats the last number in its heartbeats; a
//! gap, a node never heard of, or a node that restarted (a new
//! `incarnation`) makes the replica ask that node for a snapshot, and
//! ANNOUNCEs that arrive while it is on its way are kept and replayed on
//! top of it. A node that has not been heard for [`DEAD_AFTER_MS`] is
//! dropped with all its peers. When the bus itself is lost the replica is
//! emptied: nothing remote can be reached then anyway.
//!
//! One entry per id: when two nodes both claim a peer (it moved, or
//! registered with both), the newest registration (greatest handshake
//! timestamp; on a tie, the greater node name) is the one kept.
//!
//! This file holds the entries and the nodes' bookkeeping;
//! `replica/snapshot.rs` the snapshots (asking, assembling, applying);
//! `replica/tests.rs` the unit tests.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use peerd_shared::proto::PublicKey;
use peerd_shared::PeerId;

use super::wire::{Event, Presence};

/// How often a node heartbeats, ms.
pub const HEARTBEAT_MS: u64 = 1_000;
/// A node not heard for this long (3 heartbeats) is dropped, ms.
pub const DEAD_AFTER_MS: u64 = 3 * HEARTBEAT_MS;
/// A snapshot asked for and not complete after this long is asked again, ms.
pub const SNAPSHOT_RETRY_MS: u64 = 2_000;
/// ANNOUNCE events kept per node while its snapshot is on the way; more
/// are dropped and the snapshot is asked again once applied.
pub const MAX_BUFFERED: usize = 100_000;
/// Entries of one node's snapshot under assembly, at most.
pub const MAX_SNAPSHOT: usize = 1 << 24;

/// A peer online on another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    /// Index of the node in [`Replica::node_name`].
    pub node: u32,
    pub key: PublicKey,
    pub addr: SocketAddr,
    pub ts: u64,
}

/// A snapshot being received in parts.
#[derive(Debug, Default)]
struct Assembly {
    snap: u64,
    next_part: u32,
    entries: Vec<Presence>,
}

/// What is known of another node.
#[derive(Debug)]
struct Node {
    incarnation: u64,
    /// The last ANNOUNCE applied (or the one a snapshot was taken at).
    seq: u64,
    heard_ms: u64,
    /// A snapshot of this incarnation was applied.
    synced: bool,
    /// When a snapshot was last asked for, while none has come since.
    asked_ms: Option<u64>,
    assembly: Option<Assembly>,
    /// ANNOUNCEs that arrived while the snapshot was on its way.
    buffered: Vec<(u64, Vec<Event>)>,
    buffered_events: usize,
    overflowed: bool,
    /// Entries of this node in the replica.
    count: usize,
}

impl Node {
    fn new(incarnation: u64, now_ms: u64) -> Self {
        Self {
            incarnation,
            seq: 0,
            heard_ms: now_ms,
            synced: false,
            asked_ms: None,
            assembly: None,
            buffered: Vec::new(),
            buffered_events: 0,
            overflowed: false,
            count: 0,
        }
    }
}

/// The replica of the other nodes' presence.
#[derive(Debug, Default)]
pub struct Replica {
    /// Node names by index (never shrinks: there are few nodes).
    names: Vec<String>,
    by_name: HashMap<String, u32>,
    /// Live nodes, by index.
    nodes: HashMap<u32, Node>,
    entries: BTreeMap<PeerId, Remote>,
}

impl Replica {
    fn index(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.by_name.insert(name.to_owned(), i);
        i
    }

    /// The name of node `index`.
    pub fn node_name(&self, index: u32) -> &str {
        self.names.get(index as usize).map_or("?", String::as_str)
    }

    /// Notes a message from `name`; true when that node was unknown or
    /// restarted (its old entries are gone then).
    fn touch(&mut self, name: &str, incarnation: u64, now_ms: u64) -> (u32, bool) {
        let i = self.index(name);
        let fresh = match self.nodes.get_mut(&i) {
            Some(n) if n.incarnation == incarnation => {
                n.heard_ms = now_ms;
                false
            }
            Some(_) => {
                self.drop_entries(i);
                self.nodes.insert(i, Node::new(incarnation, now_ms));
                true
            }
            None => {
                self.nodes.insert(i, Node::new(incarnation, now_ms));
                true
            }
        };
        (i, fresh)
    }

    /// A heartbeat: true when a snapshot of the node must be asked for.
    pub fn on_heartbeat(&mut self, name: &str, incarnation: u64, seq: u64, now_ms: u64) -> bool {
        let (i, fresh) = self.touch(name, incarnation, now_ms);
        let behind = self.nodes.get(&i).is_some_and(|n| seq > n.seq || !n.synced);
        (fresh || behind) && self.ask(i, now_ms)
    }

    /// An ANNOUNCE: applies it (each ONLINE is pushed to `applied`); true
    /// when a snapshot of the node must be asked for (a gap, or unknown).
    pub fn on_announce(
        &mut self,
        name: &str,
        incarnation: u64,
        seq: u64,
        events: &[Event],
        now_ms: u64,
        applied: &mut Vec<Presence>,
    ) -> bool {
        let (i, fresh) = self.touch(name, incarnation, now_ms);
        let Some(n) = self.nodes.get_mut(&i) else {
            return false;
        };
        if n.synced && seq <= n.seq {
            return false; // seen already (covered by a snapshot)
        }
        let gap = !n.synced || seq != n.seq + 1;
        n.seq = n.seq.max(seq);
        if n.asked_ms.is_some() || n.assembly.is_some() || gap {
            if n.buffered_events + events.len() <= MAX_BUFFERED {
                n.buffered_events += events.len();
                n.buffered.push((seq, events.to_vec()));
            } else {
                n.overflowed = true;
            }
        }
        for e in events {
            self.apply(i, e, applied);
        }
        (fresh || gap) && self.ask(i, now_ms)
    }

    fn apply(&mut self, i: u32, e: &Event, applied: &mut Vec<Presence>) {
        match *e {
            Event::Online(p) => {
                applied.push(p);
                self.upsert(i, p);
            }
            Event::Offline { id, ts } => {
                if self
                    .entries
                    .get(&id)
                    .is_some_and(|r| r.node == i && r.ts <= ts)
                {
                    self.entries.remove(&id);
                    self.count(i, -1);
                }
            }
        }
    }

    fn count(&mut self, i: u32, delta: isize) {
        if let Some(n) = self.nodes.get_mut(&i) {
            n.count = n.count.saturating_add_signed(delta);
        }
    }

    /// Puts `p` of node `i` in, unless a newer registration of the id on
    /// another node is there.
    fn upsert(&mut self, i: u32, p: Presence) {
        let new = Remote {
            node: i,
            key: p.key,
            addr: p.addr,
            ts: p.ts,
        };
        let replaced = match self.entries.get(&p.id) {
            None => None,
            Some(old) if old.node == i => Some(old.node),
            Some(old)
                if wins(
                    p.ts,
                    &self.names[i as usize],
                    old.ts,
                    self.node_name(old.node),
                ) =>
            {
                Some(old.node)
            }
            Some(_) => return,
        };
        self.entries.insert(p.id, new);
        if let Some(old) = replaced {
            self.count(old, -1);
        }
        self.count(i, 1);
    }

    /// Drops every entry of node `i`.
    fn drop_entries(&mut self, i: u32) {
        if self.nodes.get(&i).is_some_and(|n| n.count == 0) {
            return;
        }
        self.entries.retain(|_, r| r.node != i);
        if let Some(n) = self.nodes.get_mut(&i) {
            n.count = 0;
        }
    }

    /// Drops nodes not heard for [`DEAD_AFTER_MS`], with their peers;
    /// returns their names and how many peers each had.
    pub fn expire(&mut self, now_ms: u64) -> Vec<(String, usize)> {
        let dead: Vec<u32> = self
            .nodes
            .iter()
            .filter(|(_, n)| now_ms.saturating_sub(n.heard_ms) >= DEAD_AFTER_MS)
            .map(|(i, _)| *i)
            .collect();
        let mut gone = Vec::with_capacity(dead.len());
        for i in dead {
            let count = self.nodes.get(&i).map_or(0, |n| n.count);
            self.drop_entries(i);
            self.nodes.remove(&i);
            gone.push((self.node_name(i).to_owned(), count));
        }
        gone
    }

    /// Forgets every node and entry (the bus is lost).
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.entries.clear();
    }

    /// The registration of `id` on another node, if any.
    pub fn get(&self, id: PeerId) -> Option<Remote> {
        self.entries.get(&id).copied()
    }

    /// Removes `id` (its registration was replaced by a newer one on this
    /// node).
    pub fn forget(&mut self, id: PeerId) {
        if let Some(r) = self.entries.remove(&id) {
            self.count(r.node, -1);
        }
    }

    /// Remote online peers with ids >= `from`, ascending.
    pub fn from(&self, from: PeerId) -> impl Iterator<Item = (PeerId, Remote)> + '_ {
        self.entries.range(from..).map(|(id, r)| (*id, *r))
    }

    /// Remote online peers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No remote peer is online.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Nodes heard from (alive).
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }
}

/// Whether a registration at `ts` on node `name` beats one at `old_ts` on
/// `old_name`: the newer wins; on a tie the greater name (every node
/// decides the same way).
pub fn wins(ts: u64, name: &str, old_ts: u64, old_name: &str) -> bool {
    (ts, name) > (old_ts, old_name)
}

mod snapshot;

#[cfg(test)]
mod tests;

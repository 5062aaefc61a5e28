//! This node's side of the cluster, without I/O: its name and incarnation,
//! the numbering of its ANNOUNCEs, its heartbeat, the [`Replica`] of the
//! others, and the messages it puts on the bus ([`BusOut`]), which the
//! engine publishes. The registry ([`super::core`]) tells it about its own
//! peers and asks it where remote peers are; bytes from the bus come in
//! through [`Cluster::receive`], which hands back what concerns the
//! registry ([`Inbound`]).

use std::net::SocketAddr;

use peerd_shared::proto::PublicKey;
use peerd_shared::PeerId;
use tracing::{info, warn};

use super::replica::{Remote, Replica, HEARTBEAT_MS};
use super::wire::{self, Body, Event, Message, Presence, MAX_ENTRIES};

/// Where a message on the bus goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum To {
    /// Every node (the presence subject).
    All,
    /// One node (its own subject).
    Node(String),
}

/// A message for the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusOut {
    pub to: To,
    pub bytes: Vec<u8>,
}

/// What a message from the bus asks of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A peer is online on node `node` (split brain is the registry's to
    /// settle: it may hold the same peer).
    Online { node: String, presence: Presence },
    /// Send INTRO to own peer `target`.
    Intro {
        target: PeerId,
        from: PeerId,
        key: PublicKey,
        addr: SocketAddr,
    },
    /// Send RELAYED to own peer `target`.
    Relayed {
        target: PeerId,
        from: PeerId,
        data: Vec<u8>,
    },
    /// Node `node` wants a snapshot of this node's peers
    /// ([`Cluster::snapshot`]).
    SnapshotWanted { node: String },
}

/// This node in the cluster.
#[derive(Debug)]
pub struct Cluster {
    name: String,
    incarnation: u64,
    key: [u8; 32],
    /// The last ANNOUNCE's number (numbers are used while the bus is down
    /// too, so the others see the gap when it is back).
    seq: u64,
    /// The bus is connected.
    up: bool,
    replica: Replica,
    /// Changes of own peers not announced yet ([`Cluster::flush`]).
    events: Vec<Event>,
    snapshots: u64,
    next_heartbeat_ms: u64,
    /// Log lines about another node using this node's name: once a minute.
    clash_logged_ms: Option<u64>,
}

impl Cluster {
    /// Node `name`, started anew (`incarnation`: random per start),
    /// authenticating its messages with `key`. The bus is not up yet.
    pub fn new(name: String, incarnation: u64, key: [u8; 32]) -> Self {
        Self {
            name,
            incarnation,
            key,
            seq: 0,
            up: false,
            replica: Replica::default(),
            events: Vec::new(),
            snapshots: 0,
            next_heartbeat_ms: 0,
            clash_logged_ms: None,
        }
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the bus is connected.
    pub fn is_up(&self) -> bool {
        self.up
    }

    fn send(&self, to: To, body: Body<'_>, out: &mut Vec<BusOut>) {
        if !self.up {
            return;
        }
        let msg = Message {
            node: &self.name,
            incarnation: self.incarnation,
            body,
        };
        out.push(BusOut {
            to,
            bytes: wire::encode(&msg, &self.key),
        });
    }

    /// The bus connected (`up`) or was lost. Lost: the replica is emptied
    /// (no remote peer can be reached). Connected: everyone is asked for a
    /// snapshot, and this node heartbeats at once so the others see any
    /// announcement they missed.
    pub fn bus_state(&mut self, up: bool, now_ms: u64, out: &mut Vec<BusOut>) {
        if up == self.up {
            return;
        }
        self.up = up;
        if up {
            info!(node = %self.name, "cluster bus connected: asking every node for its peers");
            self.send(To::All, Body::SnapshotRequest, out);
            self.heartbeat(now_ms, out);
        } else {
            warn!(
                node = %self.name,
                remote = self.replica.len(),
                "cluster bus lost: serving own peers only until it is back"
            );
            self.replica.clear();
        }
    }

    fn heartbeat(&mut self, now_ms: u64, out: &mut Vec<BusOut>) {
        self.next_heartbeat_ms = now_ms + HEARTBEAT_MS;
        self.send(To::All, Body::Heartbeat { seq: self.seq }, out);
    }

    /// Heartbeats when due, drops silent nodes and asks again for overdue
    /// snapshots. Call at least every [`HEARTBEAT_MS`].
    pub fn tick(&mut self, now_ms: u64, out: &mut Vec<BusOut>) {
        // A quarter early: a tick a little before the second still sends.
        if now_ms + HEARTBEAT_MS / 4 >= self.next_heartbeat_ms {
            self.heartbeat(now_ms, out);
        }
        for (node, peers) in self.replica.expire(now_ms) {
            warn!(%node, peers, "node silent for 3 heartbeats: its peers are dropped");
        }
        for node in self.replica.overdue(now_ms) {
            self.send(To::Node(node), Body::SnapshotRequest, out);
        }
    }

    /// Notes a change of an own peer, announced at the next
    /// [`Cluster::flush`].
    pub fn announce(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Announces the changes noted since the last flush.
    pub fn flush(&mut self, out: &mut Vec<BusOut>) {
        if self.events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.events);
        for chunk in events.chunks(MAX_ENTRIES) {
            self.seq += 1;
            let body = Body::Announce {
                seq: self.seq,
                events: chunk.to_vec(),
            };
            self.send(To::All, body, out);
        }
    }

    /// Sends a snapshot of own peers `online` to `node`, in parts.
    pub fn snapshot(&mut self, node: String, online: &[Presence], out: &mut Vec<BusOut>) {
        // Changes not announced yet are in `online` already: announce them
        // first, so the snapshot's seq covers them.
        self.flush(out);
        self.snapshots += 1;
        let snap = self.snapshots;
        let parts = online.chunks(MAX_ENTRIES).count().max(1);
        let mut chunks = online.chunks(MAX_ENTRIES);
        for part in 0..parts {
            let entries = chunks.next().map(<[Presence]>::to_vec).unwrap_or_default();
            let body = Body::Snapshot {
                snap,
                seq: self.seq,
                part: part as u32,
                last: part + 1 == parts,
                entries,
            };
            self.send(To::Node(node.clone()), body, out);
        }
    }

    /// Asks node `node` to send INTRO to its peer `target`.
    pub fn forward_intro(
        &self,
        node: u32,
        target: PeerId,
        from: PeerId,
        key: PublicKey,
        addr: SocketAddr,
        out: &mut Vec<BusOut>,
    ) {
        let to = To::Node(self.replica.node_name(node).to_owned());
        let body = Body::Intro {
            target,
            from,
            key,
            addr,
        };
        self.send(to, body, out);
    }

    /// Asks node `node` to send RELAYED to its peer `target`.
    pub fn forward_relayed(
        &self,
        node: u32,
        target: PeerId,
        from: PeerId,
        data: &[u8],
        out: &mut Vec<BusOut>,
    ) {
        let to = To::Node(self.replica.node_name(node).to_owned());
        self.send(to, Body::Relayed { target, from, data }, out);
    }

    /// Where `id` is online on another node, if it is (nothing while the
    /// bus is down).
    pub fn remote(&self, id: PeerId) -> Option<Remote> {
        self.replica.get(id)
    }

    /// Remote online peers with ids >= `from`, ascending.
    pub fn remote_from(&self, from: PeerId) -> impl Iterator<Item = (PeerId, Remote)> + '_ {
        self.replica.from(from)
    }

    /// Forgets the remote registration of `id` (this node's is newer).
    pub fn forget_remote(&mut self, id: PeerId) {
        self.replica.forget(id);
    }

    /// The name of node `index`.
    pub fn node_name(&self, index: u32) -> &str {
        self.replica.node_name(index)
    }

    /// Remote online peers, and live nodes other than this one.
    pub fn counts(&self) -> (usize, usize) {
        (self.replica.len(), self.replica.nodes())
    }

    /// A message from the bus: the replica is updated; what the registry
    /// must do is returned. Forged, malformed and own messages are dropped.
    pub fn receive(&mut self, bytes: &[u8], now_ms: u64, out: &mut Vec<BusOut>) -> Vec<Inbound> {
        let mut inbound = Vec::new();
        if !self.up {
            return inbound;
        }
        let msg = match wire::decode(bytes, &self.key) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!("dropped a message from the cluster bus: {e}");
                return inbound;
            }
        };
        if msg.node == self.name {
            if msg.incarnation != self.incarnation
                && self
                    .clash_logged_ms
                    .is_none_or(|at| now_ms.saturating_sub(at) >= 60_000)
            {
                self.clash_logged_ms = Some(now_ms);
                warn!(node = %self.name, "another running node uses this node's name; give each node its own --node");
            }
            return inbound;
        }
        let node = msg.node;
        let mut applied = Vec::new();
        let ask = match msg.body {
            Body::Heartbeat { seq } => {
                self.replica
                    .on_heartbeat(node, msg.incarnation, seq, now_ms)
            }
            Body::Announce { seq, ref events } => {
                self.replica
                    .on_announce(node, msg.incarnation, seq, events, now_ms, &mut applied)
            }
            Body::Snapshot {
                snap,
                seq,
                part,
                last,
                ref entries,
            } => self.replica.on_snapshot(
                node,
                msg.incarnation,
                snap,
                seq,
                part,
                last,
                entries,
                now_ms,
                &mut applied,
            ),
            Body::SnapshotRequest => {
                inbound.push(Inbound::SnapshotWanted {
                    node: node.to_owned(),
                });
                false
            }
            Body::Intro {
                target,
                from,
                key,
                addr,
            } => {
                inbound.push(Inbound::Intro {
                    target,
                    from,
                    key,
                    addr,
                });
                false
            }
            Body::Relayed { target, from, data } => {
                inbound.push(Inbound::Relayed {
                    target,
                    from,
                    data: data.to_vec(),
                });
                false
            }
            Body::Unknown(kind) => {
                tracing::debug!(%node, kind, "a cluster message of a kind this version does not know");
                false
            }
        };
        if ask {
            self.send(To::Node(node.to_owned()), Body::SnapshotRequest, out);
        }
        inbound.extend(applied.into_iter().map(|presence| Inbound::Online {
            node: node.to_owned(),
            presence,
        }));
        inbound
    }
}

#[cfg(test)]
mod tests;

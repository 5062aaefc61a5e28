//! The registry's cluster side, as methods of [`Registry`], still without
//! I/O: new keys get their id from the cluster database (a claim, answered
//! by [`Registry::on_claimed`] once committed), own peers' changes are
//! announced, lookups (LIST, CONNECT, RELAY) see the peers of every node,
//! INTRO and RELAYED for a peer homed on another node go to that node over
//! the bus, and what other nodes send is served: INTRO and RELAYED to own
//! peers, snapshots, and their peers' registrations, the newest of which
//! wins when a peer is registered here too (split brain).

use std::iter::Peekable;
use std::net::SocketAddr;
use std::time::Instant;

use peerd_shared::proto::{Body, PublicKey};
use peerd_shared::PeerId;
use tracing::{debug, info, warn};

use super::node::{Cluster, Inbound};
use super::replica::wins;
use super::wire::{Event, Presence};
use crate::server::registry::{Pending, Registry, MAX_PENDING};
use crate::server::reply_buffer::{Persist, ReplyBuffer};

/// Where the target of a CONNECT or RELAY is online.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// On this node, at this address.
    Local(SocketAddr),
    /// On node `node` (an index of the replica).
    Remote {
        node: u32,
        key: PublicKey,
        addr: SocketAddr,
    },
}

/// The answer of the cluster database to one claim: the key's id and the
/// newest handshake timestamp it holds for it, or nothing (not stored).
pub type Claimed = (PublicKey, Option<(PeerId, u64)>);

impl Registry {
    /// Makes this registry node of a cluster: ids come from the cluster
    /// database, presence is shared on the bus.
    pub fn join_cluster(&mut self, cluster: Cluster) {
        self.cluster = Some(cluster);
    }

    /// Whether this registry is a node of a cluster.
    pub fn clustered(&self) -> bool {
        self.cluster.is_some()
    }

    /// A new key's REGISTER on a node: its id is claimed from the cluster
    /// database; REGISTERED waits for the answer.
    pub(in crate::server) fn claim_new(&mut self, p: Pending, now_ms: u64, out: &mut ReplyBuffer) {
        let key = p.accepted.initiator;
        let waiting = self.claims.len();
        match self.claims.get_mut(&key) {
            Some(w) if p.ts > w.ts => *w = p,
            Some(_) => self.dropped("replayed handshake", p.source, now_ms),
            None if waiting >= MAX_PENDING => {
                self.dropped(
                    "too many new keys waiting for the database",
                    p.source,
                    now_ms,
                );
            }
            None => {
                debug!("REGISTER from {} (new key, claiming an id)", p.source);
                self.claims.insert(key, p);
                out.claims.push(key);
            }
        }
    }

    /// The cluster database answered claims: REGISTERED for each key it
    /// gave an id, `internal` for the others.
    pub fn on_claimed(&mut self, results: &[Claimed], now: Instant, out: &mut ReplyBuffer) {
        let now_ms = self.ms(now);
        for &(key, answer) in results {
            let Some(p) = self.claims.remove(&key) else {
                continue;
            };
            let Some((id, stored_ts)) = answer else {
                self.refuse_new(None, p, out);
                continue;
            };
            if !self.peers.learn(id, key) {
                warn!("the cluster database gives id {id} to a key this node knows under another id; refused");
                self.refuse_new(Some(id), p, out);
                continue;
            }
            self.peers.set_last_ts(id, stored_ts);
            if p.ts <= self.peers.last_ts(id) {
                self.dropped("replayed handshake", p.source, now_ms);
                continue;
            }
            self.complete(id, p.accepted, p.source, p.ts, true, now_ms, out);
            // The database holds the id; the timestamp follows it.
            out.persist.push(Persist::Timestamp { id, ts: p.ts });
        }
    }

    /// The presence of own peer `id` now: its address while online.
    pub(in crate::server) fn presence_of(&self, id: PeerId) -> Option<SocketAddr> {
        self.cluster.as_ref()?;
        self.peers.online(id).map(|o| o.addr)
    }

    fn presence(&self, id: PeerId) -> Option<Presence> {
        let online = self.peers.online(id)?;
        Some(Presence {
            id,
            key: online.key,
            ts: self.peers.last_ts(id),
            addr: online.addr,
        })
    }

    /// Announces own peer `id` if its presence changed from `before`.
    pub(in crate::server) fn presence_changed(&mut self, id: PeerId, before: Option<SocketAddr>) {
        if self.cluster.is_none() {
            return;
        }
        let now = self.presence(id);
        if now.map(|p| p.addr) == before {
            return;
        }
        let event = match now {
            Some(p) => Event::Online(p),
            None => Event::Offline {
                id,
                ts: self.peers.last_ts(id),
            },
        };
        if let Some(c) = self.cluster.as_mut() {
            c.announce(event);
        }
    }

    /// Announces own peer `id` online (a REGISTER handshake completed).
    pub(in crate::server) fn announce_online(&mut self, id: PeerId) {
        if self.cluster.is_none() {
            return;
        }
        if let Some(p) = self.presence(id) {
            if let Some(c) = self.cluster.as_mut() {
                c.forget_remote(id);
                c.announce(Event::Online(p));
            }
        }
    }

    /// Announces own peer `id` offline (expired).
    pub(in crate::server) fn announce_offline(&mut self, id: PeerId) {
        let ts = self.peers.last_ts(id);
        if let Some(c) = self.cluster.as_mut() {
            c.announce(Event::Offline { id, ts });
        }
    }

    /// Where `target` is online: here first, then on another node.
    pub(in crate::server) fn find(&self, target: PeerId, now_ms: u64) -> Option<Found> {
        if let Some(p) = self
            .peers
            .online(target)
            .filter(|p| !self.expired(p.last_ms, now_ms))
        {
            return Some(Found::Local(p.addr));
        }
        let r = self.cluster.as_ref()?.remote(target)?;
        Some(Found::Remote {
            node: r.node,
            key: r.key,
            addr: r.addr,
        })
    }

    /// Online peers of the whole cluster with ids >= `first`, ascending.
    pub(in crate::server) fn online_after(
        &self,
        first: PeerId,
        now_ms: u64,
    ) -> impl Iterator<Item = (PeerId, SocketAddr)> + '_ {
        let local = self
            .peers
            .online_from(first)
            .filter(move |(_, p)| !self.expired(p.last_ms, now_ms))
            .map(|(id, p)| (id, p.addr));
        let remote = self
            .cluster
            .iter()
            .flat_map(move |c| c.remote_from(first))
            .filter(|(id, _)| self.peers.online(*id).is_none())
            .map(|(id, r)| (id, r.addr));
        Merge {
            a: local.peekable(),
            b: remote.peekable(),
        }
    }

    /// Asks the node holding `target` to send it INTRO.
    pub(in crate::server) fn forward_intro(
        &self,
        node: u32,
        target: PeerId,
        from: PeerId,
        addr: SocketAddr,
        out: &mut ReplyBuffer,
    ) {
        let (Some(c), Some(key)) = (self.cluster.as_ref(), self.peers.key_of(from)) else {
            return;
        };
        c.forward_intro(node, target, from, key, addr, &mut out.bus);
    }

    /// Asks the node holding `target` to send it RELAYED.
    pub(in crate::server) fn forward_relayed(
        &self,
        node: u32,
        target: PeerId,
        from: PeerId,
        data: &[u8],
        out: &mut ReplyBuffer,
    ) {
        if let Some(c) = self.cluster.as_ref() {
            c.forward_relayed(node, target, from, data, &mut out.bus);
        }
    }

    /// The bus connected or was lost.
    pub fn on_bus_state(&mut self, up: bool, now: Instant, out: &mut ReplyBuffer) {
        let now_ms = self.ms(now);
        if let Some(c) = self.cluster.as_mut() {
            c.bus_state(up, now_ms, &mut out.bus);
        }
    }

    /// Heartbeat, silent nodes, overdue snapshots, and the announcements
    /// of the last sweep. Call about once a second.
    pub fn cluster_tick(&mut self, now: Instant, out: &mut ReplyBuffer) {
        let now_ms = self.ms(now);
        if let Some(c) = self.cluster.as_mut() {
            c.flush(&mut out.bus);
            c.tick(now_ms, &mut out.bus);
        }
    }

    /// Announces what changed since the last call (after each batch of
    /// datagrams).
    pub fn flush_announcements(&mut self, out: &mut ReplyBuffer) {
        if let Some(c) = self.cluster.as_mut() {
            c.flush(&mut out.bus);
        }
    }

    /// A message from the bus.
    pub fn on_bus(&mut self, bytes: &[u8], now: Instant, out: &mut ReplyBuffer) {
        let now_ms = self.ms(now);
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        for inbound in c.receive(bytes, now_ms, &mut out.bus) {
            match inbound {
                Inbound::Online { node, presence } => self.remote_online(&node, presence),
                Inbound::Intro {
                    target,
                    from,
                    key,
                    addr,
                } => {
                    self.peers.learn(from, key);
                    let intro = Body::Intro { from, key, addr };
                    self.deliver(target, &intro, "INTRO", now_ms, out);
                }
                Inbound::Relayed { target, from, data } => {
                    let relayed = Body::Relayed { from, data: &data };
                    self.deliver(target, &relayed, "RELAYED", now_ms, out);
                }
                Inbound::SnapshotWanted { node } => {
                    let online: Vec<Presence> = match PeerId::new(1) {
                        Some(first) => self
                            .peers
                            .online_from(first)
                            .filter(|(_, p)| !self.expired(p.last_ms, now_ms))
                            .filter_map(|(id, _)| self.presence(id))
                            .collect(),
                        None => Vec::new(),
                    };
                    debug!(%node, peers = online.len(), "snapshot asked for");
                    if let Some(c) = self.cluster.as_mut() {
                        c.snapshot(node, &online, &mut out.bus);
                    }
                }
            }
        }
        self.flush_announcements(out);
    }

    /// Seals `body` (INTRO or RELAYED from another node) to own peer
    /// `target`, if it is online here.
    fn deliver(
        &mut self,
        target: PeerId,
        body: &Body<'_>,
        what: &str,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        let Some(Found::Local(addr)) = self.find(target, now_ms) else {
            return debug!(%target, "{what} forwarded for a peer not online here: dropped");
        };
        if let Some(live) = self.peers.current(target) {
            if out.seal(addr, &mut live.session, body).is_ok() {
                debug!(%target, "{what} forwarded by another node");
            }
        }
    }

    /// Another node has `p` online: its key is learned, and if this node
    /// has the same peer, the older registration gives way.
    fn remote_online(&mut self, node: &str, p: Presence) {
        if !self.peers.learn(p.id, p.key) {
            warn!(%node, id = %p.id, "another node announces id {} with another key than the cluster database's; ignored", p.id);
            if let Some(c) = self.cluster.as_mut() {
                c.forget_remote(p.id);
            }
            return;
        }
        let local_ts = self.peers.last_ts(p.id);
        if self.peers.online(p.id).is_some() {
            let name = self.cluster.as_ref().map_or("", Cluster::name);
            if wins(p.ts, node, local_ts, name) {
                info!(id = %p.id, %node, "id {} registered anew on node {node}: dropped here", p.id);
                self.peers.set_offline(p.id);
                self.peers.drop_sessions(p.id);
                if let Some(c) = self.cluster.as_mut() {
                    c.announce(Event::Offline {
                        id: p.id,
                        ts: local_ts,
                    });
                }
            } else {
                // This node's registration is the newer: the other node
                // must hear of it (it may have missed it).
                self.announce_online(p.id);
                return;
            }
        }
        self.peers.set_last_ts(p.id, p.ts);
    }
}

/// Two ascending iterators of ids merged into one (an id in both comes
/// once, from `a`).
struct Merge<A: Iterator, B: Iterator> {
    a: Peekable<A>,
    b: Peekable<B>,
}

impl<A, B> Iterator for Merge<A, B>
where
    A: Iterator<Item = (PeerId, SocketAddr)>,
    B: Iterator<Item = (PeerId, SocketAddr)>,
{
    type Item = (PeerId, SocketAddr);

    fn next(&mut self) -> Option<Self::Item> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if y.0 < x.0 => self.b.next(),
            (Some(x), Some(y)) if y.0 == x.0 => {
                self.b.next();
                self.a.next()
            }
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

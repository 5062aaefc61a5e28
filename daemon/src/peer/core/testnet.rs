//! A network on a fake clock for the core's tests: the real server core
//! (`crate::server::registry::Registry`) and daemons' [`Registration`]s
//! (each with its transport), joined by a router that carries every
//! datagram at once, can lose the ones to chosen addresses, and keeps a log
//! of them. Tests read protocol behaviour end to end without a socket.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::proto::{Identity, PublicKey, SecretKey};
use peerd_shared::PeerId;

use super::clock::{Deadlines, Now};
use super::registration::{Action, Answer, LinkError, Registration};
use super::transport::{Datagram, Inbound, Transport};
use crate::server::args::Limits;
use crate::server::registry::Registry;
use crate::server::reply_buffer::{Persist, ReplyBuffer};

/// The server's address on the fake network.
pub const SERVER: &str = "10.0.0.1:8080";
/// The keepalive the server announces, seconds.
pub const KEEPALIVE_SECS: u64 = 10;

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

pub fn id(n: u64) -> PeerId {
    PeerId::new(n).expect("valid id")
}

/// One daemon: its registration (and transport), what came out of it.
pub struct Node {
    pub addr: SocketAddr,
    pub reg: Registration<u32>,
    /// Everything the registration handed on (for the outbox or inbox).
    pub inbound: Vec<Inbound>,
    pub answers: Vec<(u32, Result<Answer, LinkError>)>,
    /// Up and Down, in order (`Ok(id)`, `Err(reason)`).
    pub link: Vec<Result<PeerId, String>>,
    /// Keys pinned (`None`: the server's).
    pub pinned: Vec<(Option<PeerId>, PublicKey)>,
}

/// The network.
pub struct Net {
    pub server: Registry,
    pub server_key: PublicKey,
    pub t0: Instant,
    pub ms: u64,
    pub nodes: Vec<Node>,
    /// Datagrams to these addresses are lost.
    pub lose_to: HashSet<SocketAddr>,
    /// Every datagram carried: (from, to, bytes).
    pub wire: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    out: ReplyBuffer,
}

impl Default for Net {
    fn default() -> Self {
        Self::new()
    }
}

impl Net {
    /// A server with a fixed key and a 10 s keepalive, no rate limits.
    pub fn new() -> Self {
        let identity = Identity::new(SecretKey::from_bytes([77; 32]));
        let server_key = identity.public;
        let limits = Limits {
            keepalive: Duration::from_secs(KEEPALIVE_SECS),
            rate_per_source: 0,
            burst_per_source: 1,
            global_rate: 0,
            replay_capacity: 1024,
            handshake_rate: 0,
            cookie_threshold: 0,
        };
        let t0 = Instant::now();
        Self {
            server: Registry::new(identity, limits, [], 0, t0),
            server_key,
            t0,
            ms: 0,
            nodes: Vec::new(),
            lose_to: HashSet::new(),
            wire: Vec::new(),
            out: ReplyBuffer::new(),
        }
    }

    pub fn now(&self) -> Now {
        Now {
            at: self.t0 + Duration::from_millis(self.ms),
            unix_ms: 1_800_000_000_000 + self.ms,
        }
    }

    /// A daemon with key `n` at `10.0.1.n:4000`, knowing the server's key
    /// or not; not started.
    pub fn node(&mut self, n: u8, knows_server_key: bool) -> usize {
        self.node_at(n, addr(&format!("10.0.1.{n}:4000")), knows_server_key)
    }

    /// A daemon with key `n` at `a`.
    pub fn node_at(&mut self, n: u8, a: SocketAddr, knows_server_key: bool) -> usize {
        let identity = Identity::new(SecretKey::from_bytes([n; 32]));
        let key = knows_server_key.then_some(self.server_key);
        let transport = Transport::new(
            identity,
            (addr(SERVER), key),
            addr("0.0.0.0:0"),
            None,
            [],
            0,
            u64::from(n),
            self.t0,
        );
        self.nodes.push(Node {
            addr: a,
            reg: Registration::new(transport, SERVER.into()),
            inbound: Vec::new(),
            answers: Vec::new(),
            link: Vec::new(),
            pinned: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// A started daemon, registered (the network runs until it is).
    pub fn registered(&mut self, n: u8) -> usize {
        let i = self.node(n, true);
        let now = self.now();
        self.nodes[i].reg.start(now);
        self.settle();
        assert!(
            self.nodes[i].link.iter().any(|l| l.is_ok()),
            "node {n} registered"
        );
        i
    }

    /// Carries every datagram until nothing moves.
    pub fn settle(&mut self) {
        for _ in 0..64 {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                for action in self.nodes[i].reg.take_actions() {
                    moved = true;
                    self.act(i, action);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the network does not settle");
    }

    fn act(&mut self, i: usize, action: Action<u32>) {
        let node = &mut self.nodes[i];
        match action {
            Action::Send(d) => {
                let from = node.addr;
                self.carry(from, d);
            }
            Action::Answer { caller, result } => node.answers.push((caller, result)),
            Action::Up { id } => node.link.push(Ok(id)),
            Action::Down { reason } => node.link.push(Err(reason)),
            Action::PinServerKey(k) => node.pinned.push((None, k)),
            Action::PinPeerKey { peer, key } => node.pinned.push((Some(peer), key)),
            Action::RememberId(_) | Action::RememberTimestamp(_) => {}
        }
    }

    /// Carries one datagram from `from`.
    pub fn carry(&mut self, from: SocketAddr, d: Datagram) {
        self.wire.push((from, d.to, d.bytes.clone()));
        if self.lose_to.contains(&d.to) {
            return;
        }
        let now = self.now();
        if d.to == addr(SERVER) {
            self.out.clear();
            self.server.handle(&d.bytes, from, now.at, &mut self.out);
            let new: Vec<PeerId> = self
                .out
                .persist
                .iter()
                .filter_map(|p| match p {
                    Persist::New { id, .. } => Some(*id),
                    Persist::Timestamp { .. } => None,
                })
                .collect();
            if !new.is_empty() {
                self.server.on_durable(&new, true, now.at, &mut self.out);
            }
            let replies: Vec<(SocketAddr, Vec<u8>)> = self
                .out
                .datagrams()
                .map(|(to, b)| (to, b.to_vec()))
                .collect();
            for (to, bytes) in replies {
                self.carry(addr(SERVER), Datagram { to, bytes });
            }
        } else if let Some(j) = self.nodes.iter().position(|n| n.addr == d.to) {
            let got = self.nodes[j].reg.receive(from, &d.bytes, now);
            self.nodes[j].inbound.extend(got);
        }
    }

    /// Moves the clock to `ms`, running every timer due on the way (and
    /// the server's sweep at each step).
    pub fn at(&mut self, ms: u64) {
        assert!(ms >= self.ms, "time goes forward");
        let target = self.t0 + Duration::from_millis(ms);
        for _ in 0..10_000 {
            let next = self
                .nodes
                .iter_mut()
                .filter_map(|n| n.reg.poll_timeout())
                .filter(|at| *at <= target)
                .min();
            self.ms = match next {
                Some(at) => {
                    let at_ms = at.saturating_duration_since(self.t0).as_millis();
                    u64::try_from(at_ms).unwrap_or(ms).max(self.ms)
                }
                None => ms,
            };
            let now = self.now();
            self.server.sweep(now.at);
            for n in &mut self.nodes {
                if n.reg.poll_timeout().is_some_and(|t| t <= now.at) {
                    n.reg.handle_timeout(now);
                }
            }
            self.settle();
            if next.is_none() {
                return;
            }
        }
        panic!("timers keep firing at the same instant");
    }

    /// The datagrams carried since `mark` (an index into the wire log).
    pub fn since(&self, mark: usize) -> &[(SocketAddr, SocketAddr, Vec<u8>)] {
        &self.wire[mark..]
    }
}

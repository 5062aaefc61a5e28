//! CONNECT to INTRO latency in a cluster (docs/cluster.md), same node
//! against cross node, measured side by side in one run.
//!
//! Three peers register: the asker and a near target on node `near`, a
//! far target on node `far` (each socket connected to its own node, so the
//! far target hears only what its home node sends, as behind a NAT). The
//! asker then sends CONNECTs one at a time, alternating between the two
//! targets, and times from sending the CONNECT until the target receives
//! its INTRO (the near node sends it itself; for the far target the near
//! node forwards over NATS and the far node sends it), and until the asker
//! receives its CONNECT_ACK. The next CONNECT goes out once both arrived
//! (or after the timeout): the figures are of an idle cluster, one request
//! at a time, not of a loaded one.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use peerd_shared::proto::{Body, ErrorCode, PublicKey};
use peerd_shared::Seq;
use serde::Serialize;

use crate::client::{self, new_identity, Opened, Registered, Reply, ServerKey};
use crate::error::BenchError;
use crate::peers::{any_loopback, open_socket};
use crate::probe::fetch_server_key;
use crate::setup::register_all;
use crate::sys::{Poller, RECV_BUF};

/// What the run does.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// The asker's node, and the near target's.
    pub near: SocketAddr,
    /// The far target's node.
    pub far: SocketAddr,
    /// The cluster's key (every node has the same); asked of `near` when `None`.
    pub server_key: Option<PublicKey>,
    /// CONNECTs to each target (so twice this in all).
    pub requests: usize,
    /// Pause between one CONNECT's answers and the next CONNECT.
    pub gap: Duration,
    /// An INTRO or CONNECT_ACK not received this long after its CONNECT is lost.
    pub timeout: Duration,
    /// How long the near node may take to learn of the far target.
    pub converge: Duration,
}

/// Latencies of one target, microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub requests: usize,
    /// CONNECTs whose INTRO never came (within the timeout).
    pub intro_lost: usize,
    /// CONNECTs answered with an ERROR or not at all.
    pub ack_lost: usize,
    pub intro_p50_us: f64,
    pub intro_p99_us: f64,
    pub intro_max_us: f64,
    pub ack_p50_us: f64,
    pub ack_p99_us: f64,
}

/// What the run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectReport {
    pub near: String,
    pub far: String,
    pub same_node: Side,
    pub cross_node: Side,
    /// How long the far target took to become known on the near node
    /// (the first CONNECT to it answered with CONNECT_ACK), milliseconds.
    pub replicated_ms: f64,
}

impl std::fmt::Display for ConnectReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, s) in [
            ("same node", &self.same_node),
            ("cross node", &self.cross_node),
        ] {
            writeln!(
                f,
                "{name}: {} CONNECTs; INTRO p50 {:.1} us, p99 {:.1} us, max {:.1} us, lost {}; \
                 CONNECT_ACK p50 {:.1} us, p99 {:.1} us, lost {}",
                s.requests,
                s.intro_p50_us,
                s.intro_p99_us,
                s.intro_max_us,
                s.intro_lost,
                s.ack_p50_us,
                s.ack_p99_us,
                s.ack_lost
            )?;
        }
        write!(
            f,
            "added at p50 {:.1} us, at p99 {:.1} us (far target known on the near node after {:.1} ms)",
            self.cross_node.intro_p50_us - self.same_node.intro_p50_us,
            self.cross_node.intro_p99_us - self.same_node.intro_p99_us,
            self.replicated_ms
        )
    }
}

/// One registered peer and its socket.
struct Peer {
    sock: UdpSocket,
    reg: Registered,
}

fn register(node: SocketAddr, key: &ServerKey) -> Result<Peer, BenchError> {
    let sock = open_socket(any_loopback(node), node)?;
    let identity = new_identity()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut regs, _) = register_all(&[&sock], &[identity], key, 1, deadline)?;
    let reg = regs
        .pop()
        .ok_or_else(|| BenchError::Setup(format!("no registration at {node}")))?;
    Ok(Peer { sock, reg })
}

/// Histogram of microseconds, 1 us to 10 s.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 10_000_000, 3).expect("valid histogram bounds")
}

/// What one CONNECT got.
#[derive(Default)]
struct Answer {
    intro: Option<Duration>,
    ack: Option<Result<Duration, ErrorCode>>,
}

/// The run's sockets and buffers.
struct Bench {
    asker: Peer,
    targets: [Peer; 2],
    poller: Poller,
    ready: Vec<u64>,
    buf: [u8; RECV_BUF],
    scratch: Vec<u8>,
    plain: Vec<u8>,
    frame: Vec<u8>,
    out: [u8; RECV_BUF],
    next_seq: u32,
}

/// Token of the asker's socket in the poller (the targets are 0 and 1).
const ASKER: u64 = 2;

impl Bench {
    /// Sends one CONNECT to `targets[which]` and waits for its INTRO and
    /// CONNECT_ACK, at most `timeout`.
    fn connect(&mut self, which: usize, timeout: Duration) -> Result<Answer, BenchError> {
        self.next_seq = self.next_seq.wrapping_add(1);
        let seq = self.next_seq;
        let body = Body::Connect {
            seq: Seq(seq),
            target: self.targets[which].reg.id,
        };
        let len = client::seal_into(
            &mut self.asker.reg.session,
            &body,
            &mut self.plain,
            &mut self.frame,
            &mut self.out,
        );
        let sent = Instant::now();
        self.asker
            .sock
            .send(&self.out[..len])
            .map_err(|e| BenchError::io("cannot send a CONNECT", e))?;
        let deadline = sent + timeout;
        let mut answer = Answer::default();
        while answer.intro.is_none() || answer.ack.is_none() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            // epoll_wait's timeout is in whole milliseconds: at least 1.
            let wait = (deadline - now).max(Duration::from_millis(1));
            self.poller
                .wait(wait, &mut self.ready)
                .map_err(|e| BenchError::io("epoll_wait failed", e))?;
            for &token in &self.ready {
                let peer = match token {
                    ASKER => &mut self.asker,
                    t => &mut self.targets[usize::try_from(t).unwrap_or(0).min(1)],
                };
                while let Ok(n) = peer.sock.recv(&mut self.buf) {
                    let at = sent.elapsed();
                    match client::open(&mut peer.reg.session, &self.buf[..n], &mut self.scratch) {
                        // Nobody relays in this run: a push is an INTRO.
                        Opened::Push if token == which as u64 => answer.intro = Some(at),
                        Opened::Reply(s, Reply::ConnectAck { .. })
                            if token == ASKER && s.0 == seq =>
                        {
                            answer.ack = Some(Ok(at));
                        }
                        Opened::Reply(s, Reply::Error(code)) if token == ASKER && s.0 == seq => {
                            answer.ack = Some(Err(code));
                            // No INTRO comes after an ERROR.
                            return Ok(answer);
                        }
                        // Late answers of an earlier CONNECT.
                        _ => {}
                    }
                }
            }
        }
        Ok(answer)
    }
}

/// Registers the three peers, waits until the far target is known on the
/// near node, then times `cfg.requests` CONNECTs to each target, alternating.
pub fn cluster_connect(cfg: &ConnectConfig) -> Result<ConnectReport, BenchError> {
    let key = ServerKey::new(match cfg.server_key {
        Some(k) => k,
        None => fetch_server_key(cfg.near, Instant::now() + Duration::from_secs(10))?,
    });
    let asker = register(cfg.near, &key)?;
    let targets = [register(cfg.near, &key)?, register(cfg.far, &key)?];
    let far_registered = Instant::now();
    let poller = Poller::new(3).map_err(|e| BenchError::io("cannot create epoll", e))?;
    for (i, t) in targets.iter().enumerate() {
        poller
            .add(t.sock.as_raw_fd(), i as u64)
            .map_err(|e| BenchError::io("cannot watch a socket", e))?;
    }
    poller
        .add(asker.sock.as_raw_fd(), ASKER)
        .map_err(|e| BenchError::io("cannot watch a socket", e))?;
    let mut bench = Bench {
        asker,
        targets,
        poller,
        ready: Vec::new(),
        buf: [0u8; RECV_BUF],
        scratch: Vec::new(),
        plain: Vec::new(),
        frame: Vec::new(),
        out: [0u8; RECV_BUF],
        next_seq: fastrand::u32(..),
    };
    // The near node learns of the far target over NATS: until then its
    // CONNECT is answered `peer_offline`.
    let give_up = Instant::now() + cfg.converge;
    let replicated_ms = loop {
        let a = bench.connect(1, cfg.timeout)?;
        if matches!(a.ack, Some(Ok(_))) && a.intro.is_some() {
            break far_registered.elapsed().as_secs_f64() * 1e3;
        }
        if Instant::now() >= give_up {
            return Err(BenchError::Setup(format!(
                "the far target (id {}) is still not reachable from {} after {:?} (last answer: {:?})",
                bench.targets[1].reg.id,
                cfg.near,
                cfg.converge,
                a.ack.map(|r| r.map(|_| ()))
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut intro = [histogram(), histogram()];
    let mut ack = [histogram(), histogram()];
    let mut intro_lost = [0usize; 2];
    let mut ack_lost = [0usize; 2];
    let mut prev = 0;
    for i in 0..cfg.requests * 2 {
        // Alternate, the order within each pair drawn at random, so that
        // neither side always follows the other.
        let which = if i % 2 == 0 {
            fastrand::usize(..2)
        } else {
            1 - prev
        };
        prev = which;
        let a = bench.connect(which, cfg.timeout)?;
        match a.intro {
            Some(d) => record(&mut intro[which], d),
            None => intro_lost[which] += 1,
        }
        match a.ack {
            Some(Ok(d)) => record(&mut ack[which], d),
            _ => ack_lost[which] += 1,
        }
        if !cfg.gap.is_zero() {
            std::thread::sleep(cfg.gap);
        }
    }
    let side = |w: usize| Side {
        requests: cfg.requests,
        intro_lost: intro_lost[w],
        ack_lost: ack_lost[w],
        intro_p50_us: intro[w].value_at_quantile(0.5) as f64,
        intro_p99_us: intro[w].value_at_quantile(0.99) as f64,
        intro_max_us: intro[w].max() as f64,
        ack_p50_us: ack[w].value_at_quantile(0.5) as f64,
        ack_p99_us: ack[w].value_at_quantile(0.99) as f64,
    };
    Ok(ConnectReport {
        near: cfg.near.to_string(),
        far: cfg.far.to_string(),
        same_node: side(0),
        cross_node: side(1),
        replicated_ms,
    })
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
    let _ = h.record(us.min(10_000_000));
}

//! The scale run: register many peers by REGISTER handshake, each from its
//! own source address (`127.1.x.y:port`, see [`SourceAddrs`]), in batches
//! whose sockets are closed once registered (the registrations stay online
//! until they expire after 3 x keepalive; their sessions stay in the
//! server's memory with them), then walk the whole registry with paged
//! LIST from one more peer, on its session, and time every page.
//!
//! Each batch is shared out over the generator's threads (the handshakes'
//! X25519 work is the generator's main cost). Every source is new to the
//! server, so under load each first pays a cookie round trip.

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use peerd_shared::proto::{Body, Identity, PublicKey};
use peerd_shared::{PeerId, Seq};
use serde::Serialize;

use crate::client::{self, new_identity, Opened, Registered, Reply, ServerKey};
use crate::error::BenchError;
use crate::peers::{any_loopback, open_socket, SourceAddrs};
use crate::probe::fetch_server_key;
use crate::setup::{register_all, SetupStats, IN_FLIGHT};
use crate::sys::{self, RECV_BUF};

/// What the scale run does.
#[derive(Debug, Clone)]
pub struct PopulateConfig {
    pub server: SocketAddr,
    /// The server's public key; asked with KEY_REQUEST when `None`.
    pub server_key: Option<PublicKey>,
    /// Peers to register.
    pub peers: usize,
    /// Sockets open at once.
    pub batch: usize,
    /// Threads registering (each a share of every batch).
    pub threads: usize,
    /// A LIST page unanswered this long is asked again (and counted lost).
    pub timeout: Duration,
}

/// What the scale run measured.
#[derive(Debug, Clone, Serialize)]
pub struct PopulateReport {
    pub server: String,
    pub registered: usize,
    pub register_s: f64,
    pub register_per_s: f64,
    /// COOKIE_REPLYs answered during registration.
    pub cookies: u64,
    /// Handshakes started again after no answer.
    pub retransmits: u64,
    /// LIST pages of the walk from id 0 to the end.
    pub list_pages: u64,
    /// Peers the walk saw (every online peer but the walker).
    pub list_peers: u64,
    pub list_lost: u64,
    pub list_p50_us: f64,
    pub list_p99_us: f64,
    pub list_max_us: f64,
}

/// Registers `cfg.peers` peers, then walks LIST once over all of them.
pub fn populate(cfg: &PopulateConfig) -> Result<PopulateReport, BenchError> {
    let fds =
        sys::raise_fd_limit().map_err(|e| BenchError::io("cannot raise the open-file limit", e))?;
    let key = ServerKey::new(match cfg.server_key {
        Some(k) => k,
        None => fetch_server_key(cfg.server, Instant::now() + Duration::from_secs(10))?,
    });
    // Leave room for the process's other descriptors.
    let room = usize::try_from(fds.saturating_sub(64)).unwrap_or(usize::MAX);
    let batch = cfg.batch.min(room).max(1);
    let threads = cfg.threads.max(1);
    let mut addrs = SourceAddrs::new();
    let started = Instant::now();
    let mut registered = 0;
    let mut setup = SetupStats::default();
    while registered < cfg.peers {
        let n = batch.min(cfg.peers - registered);
        let socks = (0..n)
            .map(|_| addrs.open_next(cfg.server))
            .collect::<Result<Vec<_>, _>>()?;
        let parts: Vec<SetupStats> = thread::scope(|s| {
            let handles: Vec<_> = socks
                .chunks(n.div_ceil(threads))
                .map(|part| s.spawn(move || register_part(part, &key, IN_FLIGHT / threads)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| BenchError::Setup("a registering thread panicked".into()))?
                })
                .collect::<Result<_, _>>()
        })?;
        for p in parts {
            setup.cookies += p.cookies;
            setup.retransmits += p.retransmits;
        }
        registered += n;
    }
    let register_s = started.elapsed().as_secs_f64();
    let walker = open_socket(any_loopback(cfg.server), cfg.server)?;
    let me = new_identity()?;
    let (mut regs, _) = register_all(
        &[&walker],
        std::slice::from_ref(&me),
        &key,
        1,
        Instant::now() + Duration::from_secs(10),
    )?;
    let reg = regs
        .pop()
        .ok_or_else(|| BenchError::Setup("walker not registered".into()))?;
    let walk = walk(&walker, reg, cfg.timeout)?;
    let q = |p: f64| walk.latency.value_at_quantile(p) as f64 / 1000.0;
    Ok(PopulateReport {
        server: cfg.server.to_string(),
        registered,
        register_s,
        register_per_s: registered as f64 / register_s.max(1e-9),
        cookies: setup.cookies,
        retransmits: setup.retransmits,
        list_pages: walk.pages,
        list_peers: walk.peers,
        list_lost: walk.lost,
        list_p50_us: q(0.5),
        list_p99_us: q(0.99),
        list_max_us: walk.latency.max() as f64 / 1000.0,
    })
}

/// Registers one thread's share of a batch, each socket with a new key.
fn register_part(
    socks: &[UdpSocket],
    key: &ServerKey,
    in_flight: usize,
) -> Result<SetupStats, BenchError> {
    let identities = (0..socks.len())
        .map(|_| new_identity())
        .collect::<Result<Vec<Identity>, _>>()?;
    let refs: Vec<&UdpSocket> = socks.iter().collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    Ok(register_all(&refs, &identities, key, in_flight, deadline)?.1)
}

struct Walk {
    pages: u64,
    peers: u64,
    lost: u64,
    latency: Histogram<u64>,
}

/// Walks LIST from `after = 0` until `more` is false, one page at a time;
/// every page must be ascending, above `after`, without the walker.
fn walk(sock: &UdpSocket, mut me: Registered, timeout: Duration) -> Result<Walk, BenchError> {
    sock.set_nonblocking(false)
        .map_err(|e| BenchError::io("cannot make the walker blocking", e))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| BenchError::io("cannot set the walker's timeout", e))?;
    let mut w = Walk {
        pages: 0,
        peers: 0,
        lost: 0,
        latency: Histogram::new_with_bounds(1, 100_000_000_000, 3)
            .expect("static histogram bounds are valid"),
    };
    let mut after = 0u64;
    let mut seq = 0u32;
    let (mut plain, mut frame, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
    let mut out = [0u8; RECV_BUF];
    let mut buf = [0u8; RECV_BUF];
    let give_up = Instant::now() + Duration::from_secs(600);
    loop {
        if Instant::now() > give_up {
            return Err(BenchError::Setup("LIST walk took over 10 minutes".into()));
        }
        seq = seq.wrapping_add(1);
        let body = Body::List {
            seq: Seq(seq),
            after,
        };
        let len = client::seal_into(&mut me.session, &body, &mut plain, &mut frame, &mut out);
        let sent = Instant::now();
        sock.send(&out[..len])
            .map_err(|e| BenchError::io("cannot send LIST", e))?;
        let reply = loop {
            match sock.recv(&mut buf) {
                Ok(len) => match client::open(&mut me.session, &buf[..len], &mut scratch) {
                    Opened::Reply(s, r) if s == Seq(seq) => break Some(r),
                    _ => continue,
                },
                Err(_) => break None,
            }
        };
        let elapsed = sent.elapsed();
        match reply {
            None => w.lost += 1,
            Some(Reply::ListAck { peers, more }) => {
                check_page(&peers, after, me.id)?;
                let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
                w.latency.saturating_record(ns.max(1));
                w.pages += 1;
                w.peers += peers.len() as u64;
                match (more, peers.last()) {
                    (true, Some((last, _))) => after = last.get(),
                    _ => return Ok(w),
                }
            }
            Some(Reply::Error(code)) => {
                return Err(BenchError::Setup(format!("LIST answered ERROR {code}")))
            }
            Some(other) => {
                return Err(BenchError::Setup(format!("LIST answered {other:?}")));
            }
        }
    }
}

fn check_page(peers: &[(PeerId, SocketAddr)], after: u64, me: PeerId) -> Result<(), BenchError> {
    let sorted = peers.windows(2).all(|w| w[0].0 < w[1].0);
    let fresh = peers.iter().all(|(id, _)| id.get() > after && *id != me);
    if sorted && fresh {
        Ok(())
    } else {
        Err(BenchError::Setup(format!(
            "a LIST page after {after} out of order, repeating, or with the walker"
        )))
    }
}

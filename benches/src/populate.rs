//! The scale run: register many peers, each from its own source address
//! (`127.1.x.y:port`, see [`SourceAddrs`]), in batches whose sockets are
//! closed once registered (the registrations stay online until they expire
//! after 3 x keepalive), then walk the whole registry with paged LIST from
//! one more peer and time every page.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use peerd_shared::wire::{self, Packet};
use peerd_shared::{PeerId, Seq, Token};
use serde::Serialize;

use crate::error::BenchError;
use crate::peers::{any_loopback, open_socket, SourceAddrs};
use crate::setup::register_all;
use crate::sys::{self, RECV_BUF};

/// What the scale run does.
#[derive(Debug, Clone)]
pub struct PopulateConfig {
    pub server: SocketAddr,
    /// Peers to register.
    pub peers: usize,
    /// Sockets open at once.
    pub batch: usize,
    /// A LIST page unanswered this long is retried (and counted lost).
    pub timeout: Duration,
}

/// What the scale run measured.
#[derive(Debug, Clone, Serialize)]
pub struct PopulateReport {
    pub server: String,
    pub registered: usize,
    pub register_s: f64,
    pub register_per_s: f64,
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
    // Leave room for the process's other descriptors.
    let room = usize::try_from(fds.saturating_sub(64)).unwrap_or(usize::MAX);
    let batch = cfg.batch.min(room).max(1);
    let mut addrs = SourceAddrs::new();
    let started = Instant::now();
    let mut registered = 0;
    while registered < cfg.peers {
        let n = batch.min(cfg.peers - registered);
        let socks = (0..n)
            .map(|_| addrs.open_next(cfg.server))
            .collect::<Result<Vec<_>, _>>()?;
        let tokens: Vec<Token> = (0..n)
            .map(|_| Token(fastrand::u128(..).to_le_bytes()))
            .collect();
        let refs: Vec<&UdpSocket> = socks.iter().collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        register_all(&refs, &tokens, deadline)?;
        registered += n;
    }
    let register_s = started.elapsed().as_secs_f64();
    let walker = open_socket(any_loopback(cfg.server), cfg.server)?;
    let token = Token(fastrand::u128(..).to_le_bytes());
    let ids = register_all(
        &[&walker],
        &[token],
        Instant::now() + Duration::from_secs(10),
    )?;
    let id = *ids
        .first()
        .ok_or_else(|| BenchError::Setup("walker not registered".into()))?;
    let walk = walk(&walker, id, token, cfg.timeout)?;
    let q = |p: f64| walk.latency.value_at_quantile(p) as f64 / 1000.0;
    Ok(PopulateReport {
        server: cfg.server.to_string(),
        registered,
        register_s,
        register_per_s: registered as f64 / register_s.max(1e-9),
        list_pages: walk.pages,
        list_peers: walk.peers,
        list_lost: walk.lost,
        list_p50_us: q(0.5),
        list_p99_us: q(0.99),
        list_max_us: walk.latency.max() as f64 / 1000.0,
    })
}

struct Walk {
    pages: u64,
    peers: u64,
    lost: u64,
    latency: Histogram<u64>,
}

/// Walks LIST from `after = 0` until `more` is false, one page at a time.
fn walk(sock: &UdpSocket, id: PeerId, token: Token, timeout: Duration) -> Result<Walk, BenchError> {
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
    let mut out = Vec::with_capacity(128);
    let mut buf = [0u8; RECV_BUF];
    let give_up = Instant::now() + Duration::from_secs(600);
    loop {
        if Instant::now() > give_up {
            return Err(BenchError::Setup("LIST walk took over 10 minutes".into()));
        }
        seq = seq.wrapping_add(1);
        let packet = Packet::List {
            seq: Seq(seq),
            id,
            token,
            after: (after > 0).then_some(after),
        };
        wire::encode_into(&packet, &mut out)
            .map_err(|e| BenchError::Setup(format!("cannot encode LIST: {e}")))?;
        let sent = Instant::now();
        sock.send(&out)
            .map_err(|e| BenchError::io("cannot send LIST", e))?;
        let reply = loop {
            match sock.recv(&mut buf) {
                Ok(len) => match wire::decode(&buf[..len]) {
                    Ok(p) if p.seq() == Some(Seq(seq)) => break Some(p),
                    _ => continue,
                },
                Err(_) => break None,
            }
        };
        let elapsed = sent.elapsed();
        match reply {
            None => w.lost += 1,
            Some(Packet::ListAck { peers, more, .. }) => {
                let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
                w.latency.saturating_record(ns.max(1));
                w.pages += 1;
                w.peers += peers.len() as u64;
                match (more, peers.last()) {
                    (true, Some(last)) => after = last.id.get(),
                    _ => return Ok(w),
                }
            }
            Some(Packet::Error { code, message, .. }) => {
                return Err(BenchError::Setup(format!(
                    "LIST answered ERROR {code}: {message}"
                )))
            }
            Some(_) => w.lost += 1,
        }
    }
}

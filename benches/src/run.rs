//! One load run from start to report: open the peers, register them if the
//! mode needs it, split them over the threads, run the engine, and measure
//! the generator's own CPU over exactly the counted interval.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use peerd_shared::Token;

use crate::engine::{self, Schedule, Stats};
use crate::error::BenchError;
use crate::peers::{any_loopback, Peer};
use crate::report::Report;
use crate::setup::register_all;
use crate::sys;
use crate::workload::json::{Identity, JsonLoad, JsonWorkload, MixWeights};
use crate::workload::stun::StunWorkload;

/// Which load to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Stun,
    Keepalive,
    Mix(MixWeights),
    Register,
}

impl Mode {
    /// The mode's command name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Stun => "stun",
            Mode::Keepalive => "keepalive",
            Mode::Mix(_) => "mix",
            Mode::Register => "register",
        }
    }
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub mode: Mode,
    pub server: SocketAddr,
    pub peers: usize,
    /// Outstanding requests per peer.
    pub window: usize,
    /// Measured interval.
    pub duration: Duration,
    /// Load applied but not counted before the measured interval.
    pub warmup: Duration,
    /// A request unanswered this long is lost.
    pub timeout: Duration,
    pub threads: usize,
    /// Use `recvmmsg`/`sendmmsg`.
    pub batch: bool,
    /// The server's process id, to report its CPU over the measured interval.
    pub server_pid: Option<u32>,
}

/// Runs the load described by `cfg` and reports what it measured.
pub fn run(cfg: &LoadConfig) -> Result<Report, BenchError> {
    if cfg.peers == 0 || cfg.window == 0 {
        return Err(BenchError::Setup(
            "peers and window must be at least 1".into(),
        ));
    }
    sys::raise_fd_limit().map_err(|e| BenchError::io("cannot raise the open-file limit", e))?;
    let bind = any_loopback(cfg.server);
    let peers = (0..cfg.peers)
        .map(|_| Peer::open(bind, cfg.server, cfg.window))
        .collect::<Result<Vec<_>, _>>()?;
    let identities = match cfg.mode {
        Mode::Keepalive | Mode::Mix(_) => register(&peers)?,
        Mode::Stun | Mode::Register => Vec::new(),
    };
    let all = Arc::new(identities.iter().map(|p| p.id).collect::<Vec<_>>());
    let threads = cfg.threads.clamp(1, cfg.peers);
    let start = Instant::now() + Duration::from_millis(20);
    let sched = Schedule {
        window: cfg.window,
        timeout: cfg.timeout,
        measure_from: start + cfg.warmup,
        end: start + cfg.warmup + cfg.duration,
        batch: cfg.batch,
    };
    let mut chunks = split(peers, threads);
    let mut handles = Vec::with_capacity(threads);
    let mut offset = 0;
    for chunk in chunks.drain(..) {
        let n = chunk.len();
        let mine = identities.get(offset..offset + n).unwrap_or(&[]).to_vec();
        offset += n;
        let mode = cfg.mode;
        let all = Arc::clone(&all);
        handles.push(thread::spawn(move || match mode {
            Mode::Stun => engine::run(chunk, StunWorkload::new(), sched),
            Mode::Keepalive => engine::run(
                chunk,
                JsonWorkload::new(JsonLoad::Keepalive, mine, n),
                sched,
            ),
            Mode::Register => {
                engine::run(chunk, JsonWorkload::new(JsonLoad::Register, mine, n), sched)
            }
            Mode::Mix(weights) => engine::run(
                chunk,
                JsonWorkload::new(JsonLoad::Mix { weights, all }, mine, n),
                sched,
            ),
        }));
    }
    sleep_until(sched.measure_from);
    let cpu0 = sys::cpu_time();
    let server0 = cfg.server_pid.and_then(sys::process_cpu_time);
    sleep_until(sched.end);
    let cpu = sys::cpu_time().saturating_sub(cpu0);
    let server_cpu = match (server0, cfg.server_pid.and_then(sys::process_cpu_time)) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let mut stats = Stats::new();
    for h in handles {
        let part = h
            .join()
            .map_err(|_| BenchError::Setup("a generator thread panicked".into()))??;
        stats.merge(&part);
    }
    let mut report = Report::new(
        cfg.mode.name(),
        cfg.server.to_string(),
        cfg.peers,
        cfg.window,
        threads,
        cfg.batch,
        sched.end - sched.measure_from,
        cpu,
        &stats,
    );
    report.set_server_cpu(server_cpu);
    Ok(report)
}

/// Registers every peer with a fresh token (the setup of keepalive and mix).
fn register(peers: &[Peer]) -> Result<Vec<Identity>, BenchError> {
    let tokens = (0..peers.len())
        .map(|_| Token(fastrand::u128(..).to_le_bytes()))
        .collect::<Vec<_>>();
    let socks: Vec<&UdpSocket> = peers.iter().map(|p| &p.sock).collect();
    let deadline = Instant::now() + Duration::from_secs(30 + peers.len() as u64 / 1000);
    let ids = register_all(&socks, &tokens, deadline)?;
    Ok(tokens
        .into_iter()
        .zip(ids)
        .map(|(token, id)| Identity { token, id })
        .collect())
}

/// Splits `peers` into `n` contiguous chunks of near-equal size.
fn split(mut peers: Vec<Peer>, n: usize) -> Vec<Vec<Peer>> {
    let total = peers.len();
    let mut out = Vec::with_capacity(n);
    for t in (0..n).rev() {
        let start = t * total / n;
        out.push(peers.split_off(start));
    }
    out.reverse();
    out
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        thread::sleep(t - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_order_and_balances() {
        let server: SocketAddr = "127.0.0.1:9".parse().expect("literal");
        let peers: Vec<Peer> = (0..7)
            .map(|_| Peer::open(any_loopback(server), server, 1).expect("loopback socket"))
            .collect();
        let locals: Vec<SocketAddr> = peers.iter().map(|p| p.local).collect();
        let chunks = split(peers, 3);
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 2, 3]);
        let flat: Vec<SocketAddr> = chunks.iter().flatten().map(|p| p.local).collect();
        assert_eq!(flat, locals);
    }
}

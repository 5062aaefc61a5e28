//! One load run from start to report: learn the server's key, open the
//! peers, register them if the mode needs it (or prepare handshakes for
//! `register`), split them over the threads, run the engine (and the junk
//! flood), and measure the generator's own CPU, the server's CPU and the
//! kernel's drops at the server's socket over exactly the counted interval.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use peerd_shared::proto::{Identity, PublicKey};

use crate::client::{new_identity, Registered, ServerKey};
use crate::engine::{self, Schedule, Stats};
use crate::error::BenchError;
use crate::junk::{self, JunkConfig};
use crate::peers::{any_loopback, Peer};
use crate::probe::fetch_server_key;
use crate::report::Report;
use crate::setup::{register_all, IN_FLIGHT};
use crate::sys;
use crate::workload::register::{self as reg, RegisterWorkload};
use crate::workload::session::{Member, MixWeights, SessionLoad, SessionWorkload};
use crate::workload::stun::StunWorkload;

/// Which load to apply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Stun,
    Keepalive,
    Mix(MixWeights),
    Register,
    /// Keepalives at `rate` per second (all peers together) under a flood
    /// of junk handshakes.
    Junk {
        rate: f64,
        junk: JunkConfig,
    },
}

impl Mode {
    /// The mode's command name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Stun => "stun",
            Mode::Keepalive => "keepalive",
            Mode::Mix(_) => "mix",
            Mode::Register => "register",
            Mode::Junk { .. } => "junk",
        }
    }

    /// Whether the mode speaks protocol v2 (and needs the server's key).
    fn needs_key(self) -> bool {
        self != Mode::Stun
    }

    /// Whether the peers register before the run.
    fn registers_first(self) -> bool {
        matches!(self, Mode::Keepalive | Mode::Mix(_) | Mode::Junk { .. })
    }
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub mode: Mode,
    pub server: SocketAddr,
    /// The server's public key; asked with KEY_REQUEST when `None`.
    pub server_key: Option<PublicKey>,
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
    /// `register`: handshakes made before the run (more are made inline).
    pub prepare: usize,
}

/// The workload of one thread.
enum Job {
    Stun,
    Session(SessionWorkload),
    Register(RegisterWorkload),
}

/// Runs the load described by `cfg` and reports what it measured.
pub fn run(cfg: &LoadConfig) -> Result<Report, BenchError> {
    if cfg.peers == 0 || cfg.window == 0 {
        return Err(BenchError::Setup(
            "peers and window must be at least 1".into(),
        ));
    }
    sys::raise_fd_limit().map_err(|e| BenchError::io("cannot raise the open-file limit", e))?;
    let key = if cfg.mode.needs_key() {
        Some(ServerKey::new(match cfg.server_key {
            Some(k) => k,
            None => fetch_server_key(cfg.server, Instant::now() + Duration::from_secs(10))?,
        }))
    } else {
        None
    };
    let bind = any_loopback(cfg.server);
    let peers = (0..cfg.peers)
        .map(|_| Peer::open(bind, cfg.server, cfg.window))
        .collect::<Result<Vec<_>, _>>()?;
    let mut registered = match (cfg.mode.registers_first(), &key) {
        (true, Some(key)) => register(&peers, key)?,
        _ => Vec::new(),
    };
    let threads = cfg.threads.clamp(1, cfg.peers);
    let chunks = split(peers, threads);
    let mut jobs = Vec::with_capacity(threads);
    match (cfg.mode, key) {
        (Mode::Register, Some(key)) => {
            for (chunk, pool) in chunks.iter().zip(prepare(&key, cfg.prepare, threads)?) {
                jobs.push(Job::Register(RegisterWorkload::new(key, chunk.len(), pool)));
            }
        }
        (Mode::Keepalive | Mode::Mix(_) | Mode::Junk { .. }, Some(_)) => {
            let load = match cfg.mode {
                Mode::Mix(weights) => SessionLoad::Mix {
                    weights,
                    all: Arc::new(members(&chunks, &registered)),
                },
                _ => SessionLoad::Keepalive,
            };
            for chunk in &chunks {
                let mine: Vec<Registered> = registered.drain(..chunk.len()).collect();
                jobs.push(Job::Session(SessionWorkload::new(load.clone(), mine)));
            }
        }
        _ => jobs.extend(chunks.iter().map(|_| Job::Stun)),
    }
    let start = Instant::now() + Duration::from_millis(20);
    let sched = Schedule {
        window: cfg.window,
        timeout: cfg.timeout,
        start,
        measure_from: start + cfg.warmup,
        end: start + cfg.warmup + cfg.duration,
        batch: cfg.batch,
        rate: match cfg.mode {
            Mode::Junk { rate, .. } => Some(rate / threads as f64),
            _ => None,
        },
    };
    let handles: Vec<_> = chunks
        .into_iter()
        .zip(jobs)
        .map(|(chunk, job)| {
            thread::spawn(move || match job {
                Job::Stun => engine::run(chunk, StunWorkload::new(), sched),
                Job::Session(w) => engine::run(chunk, w, sched),
                Job::Register(w) => engine::run(chunk, w, sched),
            })
        })
        .collect();
    let flood = match (cfg.mode, key) {
        (Mode::Junk { junk: j, .. }, Some(key)) => {
            let server = cfg.server;
            Some(thread::spawn(move || {
                junk::flood(server, key, j, start, sched.measure_from, sched.end)
            }))
        }
        _ => None,
    };
    sleep_until(sched.measure_from);
    let cpu0 = sys::cpu_time();
    let server0 = cfg.server_pid.and_then(sys::process_cpu_time);
    let drops0 = sys::udp_drops(cfg.server.port());
    let waits0 = waits(cfg.server_pid);
    sleep_until(sched.end);
    let waits1 = waits(cfg.server_pid);
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
    // Up to now: the requests of the interval are all settled.
    let drops = match (drops0, sys::udp_drops(cfg.server.port())) {
        (Some(a), Some(b)) => Some(sys::UdpDrops {
            server: b.server.saturating_sub(a.server),
            clients: b.clients.saturating_sub(a.clients),
        }),
        _ => None,
    };
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
    let secs = (sched.end - sched.measure_from).as_secs_f64();
    let pct = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => Some(100.0 * b.saturating_sub(a).as_secs_f64() / secs),
        _ => None,
    };
    report.gen_wait_pct = pct(waits0.0, waits1.0);
    report.server_wait_pct = pct(waits0.1, waits1.1);
    report.server_drops = drops.map(|d| d.server);
    report.generator_drops = drops.map(|d| d.clients);
    if let (Some(h), Mode::Junk { junk: j, .. }) = (flood, cfg.mode) {
        let js = h
            .join()
            .map_err(|_| BenchError::Setup("the junk thread panicked".into()))??;
        report.set_junk(j.kind.name(), j.rate, &js);
    }
    Ok(report)
}

/// How long the generator's threads and the server's (with its pid) have
/// waited for a CPU so far.
fn waits(server: Option<u32>) -> (Option<Duration>, Option<Duration>) {
    let me = sys::sched_times(std::process::id()).map(|t| t.1);
    (me, server.and_then(sys::sched_times).map(|t| t.1))
}

/// Registers every peer with a fresh key (the setup of the session loads).
fn register(peers: &[Peer], key: &ServerKey) -> Result<Vec<Registered>, BenchError> {
    let identities = (0..peers.len())
        .map(|_| new_identity())
        .collect::<Result<Vec<Identity>, _>>()?;
    let socks: Vec<&UdpSocket> = peers.iter().map(|p| &p.sock).collect();
    let deadline = Instant::now() + Duration::from_secs(30 + peers.len() as u64 / 200);
    Ok(register_all(&socks, &identities, key, IN_FLIGHT, deadline)?.0)
}

/// Every registered peer with the address the server sees for it.
fn members(chunks: &[Vec<Peer>], registered: &[Registered]) -> Vec<Member> {
    chunks
        .iter()
        .flatten()
        .zip(registered)
        .map(|(p, r)| Member {
            id: r.id,
            key: r.key,
            addr: p.local,
        })
        .collect()
}

/// `n` prepared handshakes in `threads` pools, made on as many threads.
fn prepare(
    key: &ServerKey,
    n: usize,
    threads: usize,
) -> Result<Vec<Vec<reg::Prepared>>, BenchError> {
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let share = n / threads + usize::from(t < n % threads);
                s.spawn(move || reg::prepare(key, share))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| BenchError::Setup("a preparing thread panicked".into()))?
            })
            .collect()
    })
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

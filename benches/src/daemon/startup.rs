//! `daemon-startup`: `peerd start` to `registered` (fresh data dir each
//! run, polling `status` every 0.5 ms), and the `id` round trip: the real
//! `peerctl id` binary (process spawn included), a fresh control
//! connection per request, and one kept connection.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use peerd_shared::control::Response;
use serde::Serialize;

use super::control::Conn;
use super::procs::{Bins, Daemon, Server};
use crate::error::BenchError;

/// What a start-up run measured (milliseconds, medians unless named).
#[derive(Debug, Clone, Serialize)]
pub struct StartupReport {
    pub starts: usize,
    pub start_to_registered_ms: f64,
    pub start_to_registered_max_ms: f64,
    pub ids: usize,
    pub peerctl_id_ms: f64,
    pub peerctl_id_max_ms: f64,
    /// connect + `id` + reply on a fresh connection.
    pub socket_id_ms: f64,
    /// `id` + reply on one kept connection.
    pub socket_id_kept_ms: f64,
    pub errors: u64,
}

impl std::fmt::Display for StartupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "daemon-startup: peerd start -> registered median {:.1} ms (max {:.1}, {} runs); \
             peerctl id median {:.2} ms (max {:.2}, {} runs); control socket id: \
             new connection {:.3} ms, kept connection {:.3} ms; errors {}",
            self.start_to_registered_ms,
            self.start_to_registered_max_ms,
            self.starts,
            self.peerctl_id_ms,
            self.peerctl_id_max_ms,
            self.ids,
            self.socket_id_ms,
            self.socket_id_kept_ms,
            self.errors
        )
    }
}

fn median_ms(xs: &mut [Duration]) -> f64 {
    xs.sort();
    xs.get(xs.len() / 2)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn max_ms(xs: &[Duration]) -> f64 {
    xs.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Runs `starts` cold starts and `ids` round trips of each kind.
pub fn startup(
    bins: &Bins,
    server: Option<SocketAddr>,
    starts: usize,
    ids: usize,
) -> Result<StartupReport, BenchError> {
    let dir = tempfile::tempdir().map_err(|e| BenchError::io("cannot make a temp dir", e))?;
    let own = match server {
        Some(_) => None,
        None => Some(Server::start(bins, dir.path())?),
    };
    let addr = server
        .or(own.as_ref().map(|s| s.addr))
        .ok_or_else(|| BenchError::Setup("no server".into()))?;

    let mut start_times = Vec::with_capacity(starts);
    let mut last = None;
    for i in 0..starts {
        // The previous daemon is gone before the next one is timed.
        drop(last.take());
        let t0 = Instant::now();
        let mut d = Daemon::spawn(bins, addr, &dir.path().join(format!("s{i}")))?;
        let (_, at) = d.wait_registered(Duration::from_micros(500), Duration::from_secs(10))?;
        start_times.push(at.duration_since(t0));
        last = Some(d);
    }
    let daemon = match last {
        Some(d) => d,
        None => {
            let mut d = Daemon::spawn(bins, addr, &dir.path().join("s"))?;
            d.wait_registered(Duration::from_millis(1), Duration::from_secs(10))?;
            d
        }
    };

    let mut errors = 0u64;
    let config = daemon.data_dir.with_extension("toml");
    let mut ctl_times = Vec::with_capacity(ids);
    for _ in 0..ids {
        let t0 = Instant::now();
        let out = Command::new(&bins.peerctl)
            .arg("id")
            .env("PEERD_SOCKET", &daemon.socket)
            .env("PEERD_CONFIG", &config)
            .env_remove("PEERD_DATA_DIR")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| BenchError::io(format!("cannot run {}", bins.peerctl.display()), e))?;
        ctl_times.push(t0.elapsed());
        if !out.status.success() || out.stdout.is_empty() {
            errors += 1;
        }
    }
    let is_id = |r: Result<Response, BenchError>| matches!(r, Ok(Response::Id { id: Some(_), .. }));
    let mut fresh = Vec::with_capacity(ids);
    for _ in 0..ids {
        let t0 = Instant::now();
        let ok = Conn::connect(&daemon.socket)
            .map(|mut c| is_id(c.call(peerd_shared::control::Command::Id)))
            .unwrap_or(false);
        fresh.push(t0.elapsed());
        errors += u64::from(!ok);
    }
    let mut kept = Vec::with_capacity(ids);
    let mut conn = Conn::connect(&daemon.socket)?;
    for _ in 0..ids {
        let t0 = Instant::now();
        let ok = is_id(conn.call(peerd_shared::control::Command::Id));
        kept.push(t0.elapsed());
        errors += u64::from(!ok);
    }
    Ok(StartupReport {
        starts,
        start_to_registered_max_ms: max_ms(&start_times),
        start_to_registered_ms: median_ms(&mut start_times),
        ids,
        peerctl_id_max_ms: max_ms(&ctl_times),
        peerctl_id_ms: median_ms(&mut ctl_times),
        socket_id_ms: median_ms(&mut fresh),
        socket_id_kept_ms: median_ms(&mut kept),
        errors,
    })
}

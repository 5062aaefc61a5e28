//! What a run measured, for people (`Display`) and programs (`--json`).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::engine::Stats;

/// What the junk flood did over the measured interval.
#[derive(Debug, Clone, Serialize)]
pub struct JunkReport {
    /// `bad-mac1` or `mac1`.
    pub kind: String,
    /// Junk INITs per second asked for.
    pub target_per_s: f64,
    /// Junk INITs per second the kernel took from the generator.
    pub rate_per_s: f64,
    pub sent: u64,
    /// Datagrams the server sent back to the junk sources (COOKIE_REPLY).
    pub answers: u64,
    pub io_errors: u64,
}

/// The result of one load run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: String,
    pub server: String,
    pub peers: usize,
    pub window: usize,
    pub threads: usize,
    /// Whether `recvmmsg`/`sendmmsg` were used.
    pub batch: bool,
    /// Measured interval (after the warm-up), seconds.
    pub duration_s: f64,
    /// Requests answered correctly.
    pub ok: u64,
    /// Correct answers per second: the throughput figure.
    pub rate_per_s: f64,
    /// ERROR replies (STUN error responses), total and by code.
    pub errors: u64,
    pub errors_by_code: BTreeMap<String, u64>,
    /// Requests unanswered within the timeout.
    pub lost: u64,
    /// Replies to requests already counted lost (or duplicates).
    pub late: u64,
    /// Replies that did not match their request (wrong address, id, target).
    pub invalid: u64,
    /// Datagrams that were no reply at all.
    pub garbage: u64,
    /// Server pushes received and ignored (INTRO).
    pub pushes: u64,
    /// Socket errors on the generator's side.
    pub io_errors: u64,
    /// Requests sent within the measured interval; each is settled:
    /// `sent = ok + errors + lost + invalid`.
    pub sent: u64,
    /// Requests sent again on the server's demand (COOKIE_REPLY answered
    /// with a new handshake carrying `mac2`).
    pub retries: u64,
    /// Paced requests no peer could take (every window full).
    pub unsent: u64,
    /// Percent of the requests due that were answered correctly:
    /// `ok / (sent + unsent)`.
    pub answered_pct: f64,
    /// Workload counters (`inline_inits`, `prepared_unused`).
    pub notes: BTreeMap<String, u64>,
    /// Datagrams the kernel dropped at the server's port (its receive
    /// queue was full) from the start of the measured interval until its
    /// requests were settled (`/proc/net/udp`; servers on this machine only).
    pub server_drops: Option<u64>,
    /// The same at the generator's sockets.
    pub generator_drops: Option<u64>,
    /// The junk flood of `junk` mode.
    pub junk: Option<JunkReport>,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// The generator's own user+system CPU time over the measured interval.
    pub gen_cpu_s: f64,
    /// That CPU time as percent of one core (200 = two cores busy).
    pub gen_cpu_pct: f64,
    /// Time the generator's threads waited on a run queue for a CPU over
    /// the measured interval, as percent of the interval (all threads
    /// added): CPU the machine's other work took from it.
    pub gen_wait_pct: Option<f64>,
    /// The same for the server's threads (with `--server-pid`).
    pub server_wait_pct: Option<f64>,
    /// The server's CPU time over the measured interval (with `--server-pid`).
    pub server_cpu_s: Option<f64>,
    /// That as percent of one core.
    pub server_cpu_pct: Option<f64>,
    /// Server CPU per correctly answered request, microseconds.
    pub server_us_per_req: Option<f64>,
}

impl Report {
    /// Builds the report from merged stats.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mode: &str,
        server: String,
        peers: usize,
        window: usize,
        threads: usize,
        batch: bool,
        measured: Duration,
        cpu: Duration,
        stats: &Stats,
    ) -> Self {
        let secs = measured.as_secs_f64().max(1e-9);
        let q = |p: f64| stats.latency.value_at_quantile(p) as f64 / 1000.0;
        Self {
            mode: mode.to_owned(),
            server,
            peers,
            window,
            threads,
            batch,
            duration_s: secs,
            ok: stats.ok,
            rate_per_s: stats.ok as f64 / secs,
            errors: stats.errors.values().sum(),
            errors_by_code: stats
                .errors
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            lost: stats.lost,
            late: stats.late,
            invalid: stats.invalid,
            garbage: stats.garbage,
            pushes: stats.pushes,
            io_errors: stats.io_errors,
            sent: stats.sent,
            retries: stats.retries,
            unsent: stats.unsent,
            answered_pct: 100.0 * stats.ok as f64 / (stats.sent + stats.unsent).max(1) as f64,
            notes: stats
                .notes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            server_drops: None,
            generator_drops: None,
            junk: None,
            p50_us: q(0.5),
            p99_us: q(0.99),
            max_us: stats.latency.max() as f64 / 1000.0,
            gen_cpu_s: cpu.as_secs_f64(),
            gen_cpu_pct: 100.0 * cpu.as_secs_f64() / secs,
            gen_wait_pct: None,
            server_wait_pct: None,
            server_cpu_s: None,
            server_cpu_pct: None,
            server_us_per_req: None,
        }
    }

    /// Records the junk flood's figures.
    pub fn set_junk(&mut self, kind: &str, target_per_s: f64, j: &crate::junk::JunkStats) {
        self.junk = Some(JunkReport {
            kind: kind.to_owned(),
            target_per_s,
            rate_per_s: j.sent as f64 / self.duration_s,
            sent: j.sent,
            answers: j.answers,
            io_errors: j.io_errors,
        });
    }

    /// Records the server's CPU time over the measured interval.
    pub fn set_server_cpu(&mut self, cpu: Option<Duration>) {
        let Some(cpu) = cpu else { return };
        let s = cpu.as_secs_f64();
        self.server_cpu_s = Some(s);
        self.server_cpu_pct = Some(100.0 * s / self.duration_s);
        self.server_us_per_req = (self.ok > 0).then(|| 1e6 * s / self.ok as f64);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} against {}: {} peers x window {}, {} threads{}, {:.1} s",
            self.mode,
            self.server,
            self.peers,
            self.window,
            self.threads,
            if self.batch {
                ", recvmmsg/sendmmsg"
            } else {
                ""
            },
            self.duration_s
        )?;
        writeln!(
            f,
            "  rate      {:.0} requests/s ({} ok)",
            self.rate_per_s, self.ok
        )?;
        writeln!(
            f,
            "  latency   p50 {:.1} us, p99 {:.1} us, max {:.1} us",
            self.p50_us, self.p99_us, self.max_us
        )?;
        write!(f, "  errors    {}", self.errors)?;
        for (code, n) in &self.errors_by_code {
            write!(f, " {code}={n}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  lost      {} (late {}, invalid {}, garbage {}, socket errors {})",
            self.lost, self.late, self.invalid, self.garbage, self.io_errors
        )?;
        writeln!(
            f,
            "  settled   {} sent = {} ok + {} errors + {} lost + {} invalid; answered {:.2}%{}",
            self.sent,
            self.ok,
            self.errors,
            self.lost,
            self.invalid,
            self.answered_pct,
            if self.unsent > 0 {
                format!(" ({} due but every window full)", self.unsent)
            } else {
                String::new()
            }
        )?;
        if self.pushes > 0 {
            writeln!(f, "  pushes    {} INTRO received and ignored", self.pushes)?;
        }
        if self.retries > 0 {
            writeln!(
                f,
                "  cookies   {} COOKIE_REPLY answered with a new handshake",
                self.retries
            )?;
        }
        if !self.notes.is_empty() {
            write!(f, "  notes    ")?;
            for (k, v) in &self.notes {
                write!(f, " {k}={v}")?;
            }
            writeln!(f)?;
        }
        if let Some(j) = &self.junk {
            writeln!(
                f,
                "  junk      {} INITs: {:.0}/s achieved of {:.0}/s asked ({} sent, {} answers, {} send errors)",
                j.kind, j.rate_per_s, j.target_per_s, j.sent, j.answers, j.io_errors
            )?;
        }
        if let (Some(s), Some(g)) = (self.server_drops, self.generator_drops) {
            writeln!(
                f,
                "  kernel    {s} datagrams dropped at the server's sockets, {g} at the generator's"
            )?;
        }
        write!(
            f,
            "  generator {:.2} s CPU = {:.0}% of one core",
            self.gen_cpu_s, self.gen_cpu_pct
        )?;
        if let Some(w) = self.gen_wait_pct {
            write!(f, ", waited {w:.0}% for a CPU")?;
        }
        if let (Some(pct), Some(us)) = (self.server_cpu_pct, self.server_us_per_req) {
            write!(
                f,
                "\n  server    {pct:.0}% of one core, {us:.2} us CPU per answered request"
            )?;
            if let Some(w) = self.server_wait_pct {
                write!(f, ", waited {w:.0}% for a CPU")?;
            }
        }
        Ok(())
    }
}

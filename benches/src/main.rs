//! `peerbench`: load generator for `peerd server` (and any STUN server).
//! Parses arguments and prints the report; the work is in the library.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use peerbench::{LoadConfig, MixWeights, Mode, PopulateConfig};

#[derive(Parser)]
#[command(
    name = "peerbench",
    version,
    about = "Load generator for peerd's rendezvous server: N peers, each its own UDP socket"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// STUN Binding requests; every response's transaction id and XOR-MAPPED-ADDRESS checked.
    Stun(Load),
    /// Register N peers, then refresh them with REGISTER as fast as the window allows.
    Keepalive(Load),
    /// Register N peers, then a weighted mix of refresh, paged LIST and CONNECT.
    Mix {
        #[command(flatten)]
        load: Load,
        /// Relative weights REGISTER:LIST:CONNECT.
        #[arg(long, default_value = "2:1:1", value_parser = MixWeights::parse)]
        weights: MixWeights,
    },
    /// REGISTER with a brand-new token every request (the server's durable path).
    Register(Load),
    /// Wait until a server answers a STUN Binding request (exit 1 if it never does).
    Wait(Wait),
    /// Print a UDP port on 127.0.0.1 that is free right now.
    FreePort,
    /// Register N peers from distinct source addresses (127.1.x.y), then time a full LIST walk.
    Populate {
        /// Server address.
        #[arg(long)]
        server: SocketAddr,
        /// Peers to register.
        #[arg(long, default_value_t = 100_000)]
        peers: usize,
        /// Sockets open at once (each is closed once registered).
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// LIST page timeout, milliseconds.
        #[arg(long, default_value_t = 1000)]
        timeout_ms: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Two daemons; one control connection to A pipelines N sends to B: messages/s delivered.
    DaemonThroughput {
        #[command(flatten)]
        daemons: Daemons,
        /// Messages to send.
        #[arg(long, default_value_t = 50_000)]
        messages: u64,
        /// Give up when not all are delivered after this many seconds.
        #[arg(long, default_value_t = 120)]
        timeout_s: u64,
        /// Poll A's `status` every this many milliseconds (each poll counts
        /// A's outbox in its database, on the store thread the sends need).
        #[arg(long, default_value_t = 10)]
        poll_ms: u64,
    },
    /// Two daemons; a follower on B, steady sends from A: send -> follower latency.
    DaemonLatency {
        #[command(flatten)]
        daemons: Daemons,
        /// Messages per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Seconds of sending.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
    },
    /// `peerd start` to registered (fresh data dir per run), and the `peerctl id` round trip.
    DaemonStartup {
        #[command(flatten)]
        daemons: Daemons,
        /// Cold starts to time.
        #[arg(long, default_value_t = 20)]
        starts: usize,
        /// `id` round trips to time (of each kind).
        #[arg(long, default_value_t = 200)]
        ids: usize,
    },
}

/// Flags shared by the daemon benchmarks.
#[derive(Args)]
struct Daemons {
    /// Use this `peerd server` instead of starting one (on a free loopback port).
    #[arg(long)]
    server: Option<SocketAddr>,
    /// Directory holding the `peerd` and `peerctl` binaries (default: next to peerbench).
    #[arg(long)]
    bin_dir: Option<std::path::PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl Daemons {
    fn bins(&self) -> anyhow::Result<peerbench::daemon::Bins> {
        Ok(peerbench::daemon::Bins::locate(self.bin_dir.as_deref())?)
    }
}

/// Prints a report as JSON or text.
fn print<R: serde::Serialize + std::fmt::Display>(report: &R, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

/// Flags of `wait`.
#[derive(Args)]
struct Wait {
    /// Server address.
    #[arg(long)]
    server: SocketAddr,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout_s: u64,
}

/// How the generator calls the kernel.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Io {
    Auto,
    Batch,
    Plain,
}

#[derive(Args)]
struct Load {
    /// Server address.
    #[arg(long)]
    server: SocketAddr,
    /// Simulated peers, each its own UDP socket on loopback.
    #[arg(long, default_value_t = 64)]
    peers: usize,
    /// Requests outstanding per peer.
    #[arg(long, default_value_t = 8)]
    window: usize,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Warm-up seconds: load applied but not counted.
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// A request unanswered this many milliseconds counts as lost.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Generator threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// The server's process id: report its CPU over the measured interval.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Socket calls: `batch` = recvmmsg/sendmmsg, `plain` = one recv/send per
    /// datagram, `auto` = batch when the window is above 1 (measured: with one
    /// datagram per wake-up, recvmmsg's extra empty attempt costs more than it saves).
    #[arg(long, value_enum, default_value_t = Io::Auto)]
    io: Io,
    /// Same as `--io plain`.
    #[arg(long, conflicts_with = "io")]
    no_batch: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl Load {
    fn config(&self, mode: Mode) -> anyhow::Result<LoadConfig> {
        let secs = |s: f64, what: &str| {
            Duration::try_from_secs_f64(s).map_err(|_| anyhow::anyhow!("bad {what}: {s}"))
        };
        Ok(LoadConfig {
            mode,
            server: self.server,
            peers: self.peers,
            window: self.window,
            duration: secs(self.duration, "--duration")?,
            warmup: secs(self.warmup, "--warmup")?,
            timeout: Duration::from_millis(self.timeout_ms),
            threads: self
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            batch: match (self.no_batch, self.io) {
                (true, _) | (false, Io::Plain) => false,
                (false, Io::Batch) => true,
                (false, Io::Auto) => self.window > 1,
            },
            server_pid: self.server_pid,
        })
    }
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peerbench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let (load, mode) = match Cli::parse().command {
        Command::Stun(l) => (l, Mode::Stun),
        Command::Keepalive(l) => (l, Mode::Keepalive),
        Command::Mix { load, weights } => (load, Mode::Mix(weights)),
        Command::Register(l) => (l, Mode::Register),
        Command::Wait(w) => {
            let deadline = Instant::now() + Duration::from_secs(w.timeout_s);
            peerbench::probe::wait_for_stun(w.server, deadline)?;
            return Ok(());
        }
        Command::FreePort => {
            println!("{}", peerbench::probe::free_udp_port()?);
            return Ok(());
        }
        Command::Populate {
            server,
            peers,
            batch,
            timeout_ms,
            json,
        } => {
            let report = peerbench::populate(&PopulateConfig {
                server,
                peers,
                batch,
                timeout: Duration::from_millis(timeout_ms),
            })?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "registered {} peers in {:.1} s ({:.0}/s); LIST walk: {} pages, {} peers, \
                     p50 {:.1} us, p99 {:.1} us, max {:.1} us, lost {}",
                    report.registered,
                    report.register_s,
                    report.register_per_s,
                    report.list_pages,
                    report.list_peers,
                    report.list_p50_us,
                    report.list_p99_us,
                    report.list_max_us,
                    report.list_lost
                );
            }
            return Ok(());
        }
        Command::DaemonThroughput {
            daemons,
            messages,
            timeout_s,
            poll_ms,
        } => {
            let r = peerbench::daemon::throughput(
                &daemons.bins()?,
                daemons.server,
                messages,
                Duration::from_millis(poll_ms),
                Duration::from_secs(timeout_s),
            )?;
            return print(&r, daemons.json);
        }
        Command::DaemonLatency {
            daemons,
            rate,
            duration,
        } => {
            let messages = (rate * duration).round().max(1.0) as u64;
            let r = peerbench::daemon::latency(&daemons.bins()?, daemons.server, messages, rate)?;
            return print(&r, daemons.json);
        }
        Command::DaemonStartup {
            daemons,
            starts,
            ids,
        } => {
            let r = peerbench::daemon::startup(&daemons.bins()?, daemons.server, starts, ids)?;
            return print(&r, daemons.json);
        }
    };
    let report = peerbench::run(&load.config(mode)?)?;
    if load.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

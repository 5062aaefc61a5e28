//! `peerbench`: load generator for `peerd server` (and any STUN server).
//! Parses arguments and prints the report; the work is in the library.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use peerbench::{JunkConfig, JunkKind, LoadConfig, MixWeights, Mode, PopulateConfig};
use peerd_shared::proto::PublicKey;

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
    /// Register N peers by handshake, then KEEPALIVE on their sessions as fast as the window allows.
    Keepalive(Load),
    /// Register N peers, then a weighted mix of KEEPALIVE, paged LIST and CONNECT.
    Mix {
        #[command(flatten)]
        load: Load,
        /// Relative weights KEEPALIVE:LIST:CONNECT.
        #[arg(long, default_value = "2:1:1", value_parser = MixWeights::parse)]
        weights: MixWeights,
    },
    /// A full REGISTER handshake with a brand-new key every request (a new durable id each).
    Register {
        #[command(flatten)]
        load: Load,
        /// Handshakes (keys and INITs) made before the run, so that the
        /// generator's X25519 work is not in the measured interval; more are
        /// made inline when they run out. Default: 12,000 per second of run.
        #[arg(long)]
        prepare: Option<usize>,
    },
    /// Register N peers, then keepalives at a fixed rate under a flood of junk handshakes.
    Junk {
        #[command(flatten)]
        load: Load,
        /// Keepalives per second, all peers together.
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
        /// Junk HANDSHAKE_INITs per second.
        #[arg(long, default_value_t = 50_000.0)]
        junk_rate: f64,
        /// `bad-mac1`: a wrong mac1 (dropped after one BLAKE2s); `mac1`: a
        /// correct mac1 with random keys (costs a Diffie-Hellman unless
        /// cookies or the per-IP limit stop it).
        #[arg(long, default_value = "bad-mac1", value_parser = JunkKind::parse)]
        junk_kind: JunkKind,
        /// Source addresses of the junk (127.2.x.y), one socket each.
        #[arg(long, default_value_t = 64)]
        junk_sources: usize,
    },
    /// Cluster: CONNECT to INTRO latency, target on the asker's node against on another node.
    ClusterConnect {
        /// The asker's node (and the same-node target's).
        #[arg(long)]
        near: SocketAddr,
        /// The other node (the cross-node target's).
        #[arg(long)]
        far: SocketAddr,
        /// The cluster's public key (base64); asked of `--near` when not given.
        #[arg(long, value_name = "KEY")]
        server_key: Option<PublicKey>,
        /// CONNECTs to each target (one at a time, the targets alternating).
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        /// Pause between one CONNECT's answers and the next CONNECT, microseconds.
        #[arg(long, default_value_t = 500)]
        gap_us: u64,
        /// An INTRO or CONNECT_ACK not received this many milliseconds after its CONNECT is lost.
        #[arg(long, default_value_t = 1000)]
        timeout_ms: u64,
        /// Give up when the near node has not learnt of the far target after this many seconds.
        #[arg(long, default_value_t = 10)]
        converge_s: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Wait until a server answers a STUN Binding request (exit 1 if it never does).
    Wait(Wait),
    /// Print a UDP port on 127.0.0.1 that is free right now.
    FreePort,
    /// CPU time of one ChaCha20-Poly1305 seal + open of a TRANSPORT payload, by size.
    Aead {
        /// Payload sizes in bytes.
        #[arg(long, value_delimiter = ',', default_value = "5,100,1000")]
        sizes: Vec<usize>,
        /// Seal + open pairs per round.
        #[arg(long, default_value_t = 200_000)]
        iterations: u32,
        /// Rounds per size (the best is kept).
        #[arg(long, default_value_t = 5)]
        rounds: u32,
    },
    /// CPU time of one X25519 DH and one public key, curve25519-dalek against aws-lc.
    X25519 {
        /// Operations per round.
        #[arg(long, default_value_t = 20_000)]
        iterations: u32,
        /// Rounds (the best is kept).
        #[arg(long, default_value_t = 3)]
        rounds: u32,
    },
    /// Register N peers from distinct source addresses (127.1.x.y), then time a full LIST walk.
    Populate {
        /// Server address.
        #[arg(long)]
        server: SocketAddr,
        /// The server's public key (base64); asked with KEY_REQUEST when not given.
        #[arg(long, value_name = "KEY")]
        server_key: Option<PublicKey>,
        /// Threads registering (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
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
    /// The server's public key (base64, as `peerd server --print-key` prints
    /// it); asked with KEY_REQUEST when not given (not for `stun`).
    #[arg(long, value_name = "KEY")]
    server_key: Option<PublicKey>,
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
    fn config(&self, mode: Mode, prepare: Option<usize>) -> anyhow::Result<LoadConfig> {
        let secs = |s: f64, what: &str| {
            Duration::try_from_secs_f64(s).map_err(|_| anyhow::anyhow!("bad {what}: {s}"))
        };
        let whole = self.warmup + self.duration;
        Ok(LoadConfig {
            mode,
            server: self.server,
            server_key: self.server_key,
            peers: self.peers,
            window: self.window,
            duration: secs(self.duration, "--duration")?,
            warmup: secs(self.warmup, "--warmup")?,
            timeout: Duration::from_millis(self.timeout_ms),
            threads: threads(self.threads),
            batch: match (self.no_batch, self.io) {
                (true, _) | (false, Io::Plain) => false,
                (false, Io::Batch) => true,
                (false, Io::Auto) => self.window > 1,
            },
            server_pid: self.server_pid,
            prepare: prepare.unwrap_or((whole.max(0.0) * 12_000.0).ceil() as usize),
        })
    }
}

fn threads(n: Option<usize>) -> usize {
    n.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
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
    let (load, mode, prepare) = match Cli::parse().command {
        Command::Stun(l) => (l, Mode::Stun, None),
        Command::Keepalive(l) => (l, Mode::Keepalive, None),
        Command::Mix { load, weights } => (load, Mode::Mix(weights), None),
        Command::Register { load, prepare } => (load, Mode::Register, prepare),
        Command::Junk {
            load,
            rate,
            junk_rate,
            junk_kind,
            junk_sources,
        } => {
            let mode = Mode::Junk {
                rate,
                junk: JunkConfig {
                    kind: junk_kind,
                    rate: junk_rate,
                    sources: junk_sources,
                },
            };
            (load, mode, None)
        }
        Command::ClusterConnect {
            near,
            far,
            server_key,
            requests,
            gap_us,
            timeout_ms,
            converge_s,
            json,
        } => {
            let r = peerbench::cluster::cluster_connect(&peerbench::cluster::ConnectConfig {
                near,
                far,
                server_key,
                requests,
                gap: Duration::from_micros(gap_us),
                timeout: Duration::from_millis(timeout_ms),
                converge: Duration::from_secs(converge_s),
            })?;
            return print(&r, json);
        }
        Command::Wait(w) => {
            let deadline = Instant::now() + Duration::from_secs(w.timeout_s);
            peerbench::probe::wait_for_stun(w.server, deadline)?;
            return Ok(());
        }
        Command::FreePort => {
            println!("{}", peerbench::probe::free_udp_port()?);
            return Ok(());
        }
        Command::Aead {
            sizes,
            iterations,
            rounds,
        } => {
            for f in peerbench::aead::measure(&sizes, iterations, rounds) {
                println!("{:>5} bytes: {:.3} us per seal + open", f.len, f.us);
            }
            return Ok(());
        }
        Command::X25519 { iterations, rounds } => {
            for f in peerbench::x25519::measure(iterations, rounds) {
                println!(
                    "{:>16}: {:.2} us per DH, {:.2} us per public key",
                    f.library, f.dh_us, f.public_key_us
                );
            }
            return Ok(());
        }
        Command::Populate {
            server,
            server_key,
            threads: populate_threads,
            peers,
            batch,
            timeout_ms,
            json,
        } => {
            let report = peerbench::populate(&PopulateConfig {
                server,
                server_key,
                threads: threads(populate_threads),
                peers,
                batch,
                timeout: Duration::from_millis(timeout_ms),
            })?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "registered {} peers in {:.1} s ({:.0}/s, {} cookie replies, {} retransmits); \
                     LIST walk: {} pages, {} peers, p50 {:.1} us, p99 {:.1} us, max {:.1} us, lost {}",
                    report.registered,
                    report.register_s,
                    report.register_per_s,
                    report.cookies,
                    report.retransmits,
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
    let report = peerbench::run(&load.config(mode, prepare)?)?;
    if load.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

//! Command-line flags of `peerd server` and the settings derived from them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Flags of `peerd server`.
#[derive(Debug, Clone, Args)]
#[command(
    about = "Run the rendezvous server: registry, STUN, introductions and relay",
    long_about = "Run the rendezvous server. It speaks peerd wire protocol v2 (Noise over UDP; \
                  docs/protocol.md) and answers STUN Binding requests on the same port. The ids \
                  bound to peers' keys are kept in an SQLite database; online state lives in \
                  memory. Its own key is kept beside the database (--key-file).\n\n\
                  Logs go to stderr, one line per request; RUST_LOG changes the level \
                  (e.g. RUST_LOG=warn for benchmarks)."
)]
pub struct ServerArgs {
    /// UDP address to listen on, IPv4 or IPv6 (`[::]:8080` also serves IPv4
    /// where the system allows dual-stack sockets). Port 0 picks a free port;
    /// the bound address is logged as `listening on ADDR`.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// The registry database (SQLite, holding which token has which id).
    /// Parent directories are created. The default is in the user's data
    /// directory.
    #[arg(long, value_name = "PATH", default_value_os_t = peerd_shared::paths::default_server_db())]
    pub db: PathBuf,

    /// Registration refresh period in seconds, announced to peers in
    /// REGISTERED. A peer that does not refresh (KEEPALIVE) within 3 x this
    /// period goes offline.
    #[arg(long, value_name = "SECS", default_value_t = 25,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub keepalive: u64,

    /// Datagrams per second accepted from one source ip:port (protocol and STUN
    /// alike); more are dropped (an authenticated request gets `rate_limited`).
    /// 0 turns the per-source limit off. With `--threads` above 1, a
    /// source's STUN may be served by a STUN thread with its own buckets:
    /// its STUN and its other datagrams are then limited separately.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub rate_limit: u32,

    /// Bucket size per source: how many datagrams one source may send at
    /// once before `--rate-limit` applies. Default: twice `--rate-limit`.
    #[arg(long, value_name = "N")]
    pub rate_burst: Option<u32>,

    /// Datagrams per second the whole server accepts from all sources
    /// together (with a one-second burst); 0 turns the global cap off.
    /// Each STUN thread (`--threads`) applies it to the STUN it serves.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub global_rate_limit: u32,

    /// How many recent CONNECT/UNREGISTER/RELAY replies are remembered for
    /// idempotent retries (each for 30 s). When full, the oldest is forgotten.
    #[arg(long, value_name = "N", default_value_t = 65_536,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub replay_cache: u32,

    /// Threads serving the port: one owns the registry (and all protocol frames);
    /// the others answer STUN on their own sockets of the same port
    /// (SO_REUSEPORT, steered by a BPF program). 0 = one per CPU core.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// The server's private key file (created, mode 0600, when missing).
    /// Every node of a cluster uses the same key. Default: `server.key`
    /// beside the database.
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// Print the server's public key (creating the key file when missing)
    /// on stdout, its fingerprint on stderr, and exit.
    #[arg(long)]
    pub print_key: bool,

    /// Handshakes (and key requests) per second accepted from one source IP
    /// address, with a burst of twice that; more are dropped. 0 turns the
    /// limit off.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub handshake_limit: u32,

    /// Handshakes per second (with a good mac1) above which the server is
    /// under load and answers handshakes without a valid cookie with a
    /// COOKIE_REPLY instead of computing. 0 never asks for cookies.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub cookie_threshold: u32,
}

impl ServerArgs {
    /// `--threads`, with 0 resolved to the number of CPU cores (at most 16).
    pub fn threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(16)),
            n => n,
        }
    }

    /// The key file: `--key-file`, else `server.key` beside the database.
    pub fn key_path(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| {
            self.db
                .parent()
                .map_or_else(|| PathBuf::from("server.key"), |d| d.join("server.key"))
        })
    }

    /// The settings of the protocol core.
    pub fn limits(&self) -> Limits {
        Limits {
            keepalive: Duration::from_secs(self.keepalive),
            rate_per_source: self.rate_limit,
            burst_per_source: self
                .rate_burst
                .unwrap_or_else(|| self.rate_limit.saturating_mul(2))
                .max(1),
            global_rate: self.global_rate_limit,
            replay_capacity: self.replay_cache as usize,
            handshake_rate: self.handshake_limit,
            cookie_threshold: self.cookie_threshold,
        }
    }
}

/// Settings of the protocol core ([`super::registry::Registry`]).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Refresh period announced in REGISTERED; expiry is 3 x this.
    pub keepalive: Duration,
    /// Datagrams per second per source ip:port; 0 = unlimited.
    pub rate_per_source: u32,
    /// Bucket size per source, in datagrams.
    pub burst_per_source: u32,
    /// Datagrams per second from all sources; 0 = unlimited.
    pub global_rate: u32,
    /// Entries of the replay cache.
    pub replay_capacity: usize,
    /// Handshakes per second per source IP; 0 = unlimited.
    pub handshake_rate: u32,
    /// Handshakes per second above which cookies are required; 0 = never.
    pub cookie_threshold: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            keepalive: peerd_shared::proto::DEFAULT_KEEPALIVE,
            rate_per_source: 500,
            burst_per_source: 1000,
            global_rate: 1_000_000,
            replay_capacity: 65_536,
            handshake_rate: 50,
            cookie_threshold: 1_000,
        }
    }
}

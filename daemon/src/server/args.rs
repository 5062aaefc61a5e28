//! Command-line flags of `peerd server`. Every flag has an environment
//! variable (`PEERD_SERVER_*`) and a key of the config file; how they are
//! merged into the settings is in [`super::config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Flags of `peerd server`. `None` means "not given": the config file, then
/// the default decide ([`super::config::ServerConfig::resolve`]).
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Run the rendezvous server: registry, STUN, introductions and relay",
    long_about = "Run the rendezvous server. It speaks peerd wire protocol v2 (Noise over UDP; \
                  docs/protocol.md) and answers STUN Binding requests on the same port. The ids \
                  bound to peers' keys are kept in an SQLite database; online state lives in \
                  memory. The server's own key is kept beside the database (--key-file); it is \
                  logged at start and printed by --print-key.\n\n\
                  Logs go to stderr, one line per request; RUST_LOG changes the level \
                  (e.g. RUST_LOG=warn for benchmarks).",
    after_help = "Precedence: flag > environment variable > config file > default.\n\
                  The config file is TOML; its keys are the flags' long names with `_` for `-` \
                  (listen, db, key_file, keepalive, rate_limit, rate_burst, global_rate_limit, \
                  handshake_limit, cookie_threshold, replay_cache, threads, metrics, log_format, \
                  cluster_db, cluster_bus, node), \
                  e.g.\n  \
                  listen = \"[::]:8080\"\n  metrics = \"127.0.0.1:9185\"\n\
                  Unknown keys are an error. A commented sample: contrib/server.toml."
)]
pub struct ServerArgs {
    /// UDP address to listen on, IPv4 or IPv6 (`[::]:8080` also serves IPv4
    /// where the system allows dual-stack sockets). Port 0 picks a free port;
    /// the bound address is logged as `listening on ADDR` [default: 0.0.0.0:8080]
    #[arg(long, env = "PEERD_SERVER_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// The registry database (SQLite, holding which key has which id).
    /// Parent directories are created [default: $STATE_DIRECTORY/registry.sqlite3
    /// under systemd, else in the user's data directory, e.g.
    /// ~/.local/share/peerd/server/registry.sqlite3]
    #[arg(long, env = "PEERD_SERVER_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Registration refresh period in seconds, announced to peers in
    /// REGISTERED. A peer that does not refresh (KEEPALIVE) within 3 x this
    /// period goes offline [default: 25]
    #[arg(long, env = "PEERD_SERVER_KEEPALIVE", value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(KEEPALIVE_RANGE))]
    pub keepalive: Option<u64>,

    /// Datagrams per second accepted from one source ip:port (protocol and
    /// STUN alike); more are dropped (an authenticated request gets
    /// `rate_limited`). 0 turns the per-source limit off. With `--threads`
    /// above 1, a source's STUN may be served by a STUN thread with its own
    /// buckets: its STUN and its other datagrams are then limited separately
    /// [default: 500]
    #[arg(long, env = "PEERD_SERVER_RATE_LIMIT", value_name = "N")]
    pub rate_limit: Option<u32>,

    /// Bucket size per source: how many datagrams one source may send at
    /// once before `--rate-limit` applies [default: twice `--rate-limit`]
    #[arg(long, env = "PEERD_SERVER_RATE_BURST", value_name = "N")]
    pub rate_burst: Option<u32>,

    /// Datagrams per second the whole server accepts from all sources
    /// together (with a one-second burst); 0 turns the global cap off.
    /// Each STUN thread (`--threads`) applies it to the STUN it serves
    /// [default: 1000000]
    #[arg(long, env = "PEERD_SERVER_GLOBAL_RATE_LIMIT", value_name = "N")]
    pub global_rate_limit: Option<u32>,

    /// How many recent CONNECT/UNREGISTER/RELAY replies are remembered for
    /// idempotent retries (each for 30 s). When full, the oldest is
    /// forgotten [default: 65536]
    #[arg(long, env = "PEERD_SERVER_REPLAY_CACHE", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub replay_cache: Option<u32>,

    /// Threads serving the port: one owns the registry (and every protocol frame);
    /// the others answer STUN on their own sockets of the same port
    /// (SO_REUSEPORT, steered by a BPF program). 0 = one per CPU core
    /// [default: 0]
    #[arg(long, env = "PEERD_SERVER_THREADS", value_name = "N")]
    pub threads: Option<usize>,

    /// Serve Prometheus metrics on http://ADDR/metrics and a health check
    /// on http://ADDR/healthz (TCP). Off unless given; keep ADDR private
    /// (e.g. 127.0.0.1:9185)
    #[arg(long, env = "PEERD_SERVER_METRICS", value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,

    /// The server's private key file (created, mode 0600, when missing).
    /// Every node of a cluster uses the same key [default: `server.key`
    /// beside the database]
    #[arg(long, env = "PEERD_SERVER_KEY_FILE", value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// Print the server's public key on stdout (its fingerprint on stderr),
    /// creating the key file when missing, and exit
    #[arg(long)]
    pub print_key: bool,

    /// Handshakes (and key requests) per second accepted from one source IP
    /// address, with a burst of twice that; more are dropped. 0 turns the
    /// limit off [default: 50]
    #[arg(long, env = "PEERD_SERVER_HANDSHAKE_LIMIT", value_name = "N")]
    pub handshake_limit: Option<u32>,

    /// Handshakes per second (with a good mac1) above which the server is
    /// under load and answers handshakes without a valid cookie with a
    /// COOKIE_REPLY instead of computing. 0 never asks for cookies
    /// [default: 1000]
    #[arg(long, env = "PEERD_SERVER_COOKIE_THRESHOLD", value_name = "N")]
    pub cookie_threshold: Option<u32>,

    /// Config file (TOML) to read instead of the default one
    /// [default: $CONFIGURATION_DIRECTORY/server.toml under systemd, else
    /// the user's, e.g. ~/.config/peerd/server.toml; a missing default file
    /// is not an error]
    #[arg(long, env = "PEERD_SERVER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Run as a node of a cluster whose ids are kept in this PostgreSQL
    /// database (postgres://USER[:PASSWORD]@HOST:PORT/DB) instead of the
    /// SQLite `--db`; needs `--cluster-bus` and `--node` (docs/cluster.md)
    #[arg(long, env = "PEERD_SERVER_CLUSTER_DB", value_name = "URL")]
    pub cluster_db: Option<String>,

    /// The NATS server the nodes of the cluster share presence and
    /// forwarding on (nats://[USER:PASSWORD@]HOST:PORT)
    #[arg(long, env = "PEERD_SERVER_CLUSTER_BUS", value_name = "URL")]
    pub cluster_bus: Option<String>,

    /// This node's name in the cluster, unique among its nodes: 1 to 64
    /// letters, digits, `-` or `_`
    #[arg(long, env = "PEERD_SERVER_NODE", value_name = "NAME")]
    pub node: Option<String>,
}

/// Allowed `--keepalive`, seconds.
pub const KEEPALIVE_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;

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

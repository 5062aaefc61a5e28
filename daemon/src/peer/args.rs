//! The flags of `peerd start` and how they become a [`Config`]: each setting
//! comes from its flag, else its environment variable, else the config file
//! (TOML, unknown keys rejected), else its default.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::PeerError;

/// Default rendezvous server.
pub const DEFAULT_SERVER: &str = "127.0.0.1:8080";
/// The server's port when `--server` names none.
pub const DEFAULT_PORT: u16 = 8080;
/// Default UDP address: all interfaces, an ephemeral port.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:0";

/// When messages go through the server's RELAY instead of a direct path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayPolicy {
    /// Punch first; relay when the punch times out.
    #[default]
    Auto,
    /// Never relay: keep punching (messages wait for a direct path).
    Never,
    /// Always relay, never punch.
    Always,
}

/// Flags of `peerd start`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    after_help = "Precedence: flag > environment variable > config file > default.\n\
The config file is TOML with the keys server, server_key, listen, data_dir, socket, relay and metrics, \
and inbox_retention and outbox_retention (how long stored messages are kept, e.g. \"90d\"; \
by default, until deleted), e.g.\n  server = \"rendezvous.example.net:8080\"\n  \
data_dir = \"/var/lib/peerd\""
)]
pub struct StartArgs {
    /// The rendezvous server, HOST[:PORT] (host names are resolved; the port
    /// defaults to 8080), or the nodes of a cluster as a comma-separated
    /// list A,B,C: the daemon keeps one home server and moves to the next
    /// when its home stops answering. A host name with several addresses
    /// counts as several servers (tried in a random order, to spread the
    /// daemons) [default: 127.0.0.1:8080]
    #[arg(long, env = "PEERD_SERVER", value_name = "HOST[:PORT][,...]")]
    pub server: Option<String>,
    /// The server's public key (base64, as `peerd server --print-key` prints
    /// it). Without it the key is learned on first contact and pinned in
    /// DIR/server.pub; given, it replaces the pinned one
    #[arg(long, env = "PEERD_SERVER_KEY", value_name = "KEY")]
    pub server_key: Option<String>,
    /// Local UDP address to send and receive on [default: 0.0.0.0:0, an ephemeral port]
    #[arg(long, env = "PEERD_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Where the identity, the message store and the log live
    /// [default: the user's data directory, e.g. ~/.local/share/peerd]
    #[arg(long, env = "PEERD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The control socket peerctl talks to [default: DIR/peerd.sock with an explicit
    /// --data-dir, else $XDG_RUNTIME_DIR/peerd/peerd.sock]
    #[arg(long, env = "PEERD_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Path policy: auto (punch, then relay), never (direct only), always (relay only)
    /// [default: auto]
    #[arg(long, env = "PEERD_RELAY", value_name = "POLICY")]
    pub relay: Option<RelayPolicy>,
    /// Run in the background (logging to DIR/peerd.log); return once it is
    /// registered, printing its pid, socket and log file
    #[arg(long)]
    pub detach: bool,
    /// Config file to read instead of the user's (e.g. ~/.config/peerd/config.toml)
    #[arg(long, env = "PEERD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seconds between PUNCH keepalives on a direct path in use (1-25)
    /// [default: 15]
    #[arg(long, env = "PEERD_PATH_KEEPALIVE", value_name = "SECS", hide = true,
          value_parser = clap::value_parser!(u64).range(1..=25))]
    pub path_keepalive: Option<u64>,
    /// Serve Prometheus metrics on http://ADDR/metrics (and /healthz): messages
    /// queued, delivered, failed, retransmitted, punches, paths, delivery time.
    /// Off unless given; keep it on loopback (e.g. 127.0.0.1:9186)
    #[arg(long, env = "PEERD_METRICS", value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Internal: log to this file instead of stderr (set by --detach).
    #[arg(long, hide = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

/// The config file's keys; anything else is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    server: Option<String>,
    server_key: Option<String>,
    listen: Option<String>,
    #[serde(alias = "data-dir")]
    data_dir: Option<PathBuf>,
    socket: Option<PathBuf>,
    relay: Option<RelayPolicy>,
    metrics: Option<SocketAddr>,
    /// How long received messages are kept (e.g. "90d").
    inbox_retention: Option<String>,
    /// How long delivered and failed messages are kept.
    outbox_retention: Option<String>,
}

/// The resolved settings of one daemon.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server as configured, for `status`.
    pub server_text: String,
    /// The first server address the daemon talks to (its first home).
    pub server: SocketAddr,
    /// Every server, in the order they are tried: a label (the entry as
    /// configured) and an address.
    pub servers: Vec<(String, SocketAddr)>,
    /// The server's key, when given (else pinned or learned).
    pub server_key: Option<peerd_shared::proto::PublicKey>,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    pub relay: RelayPolicy,
    /// Interval of PUNCH keepalives on direct paths in use.
    pub path_keepalive: std::time::Duration,
    pub detach: bool,
    pub log_file: Option<PathBuf>,
    /// Where to serve metrics; `None` = off.
    pub metrics: Option<SocketAddr>,
    /// How long stored messages are kept (`None`: until deleted).
    pub retention: Retention,
}

/// How long stored messages are kept, from the config file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Received messages, by the time they were received.
    pub inbox: Option<std::time::Duration>,
    /// Delivered and failed messages, by the time they were queued.
    pub outbox: Option<std::time::Duration>,
}

impl Config {
    /// Merges flags/env, the config file and the defaults, and resolves the server.
    pub fn resolve(args: &StartArgs) -> Result<Self, PeerError> {
        let file = match &args.config {
            Some(path) => read_file(path, true)?,
            None => match peerd_shared::paths::config_file() {
                Some(path) => read_file(&path, false)?,
                None => FileConfig::default(),
            },
        };
        let listen_text = args
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            PeerError::Config(format!(
                "--listen must be an address like 0.0.0.0:0, got {listen_text:?}"
            ))
        })?;
        let server_text = args
            .server
            .clone()
            .or(file.server)
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let servers = resolve_servers(&server_text, listen)?;
        let server = servers[0].1;
        let server_key = match args.server_key.clone().or(file.server_key) {
            Some(text) => Some(text.parse().map_err(|e| {
                PeerError::Config(format!(
                    "--server-key: {e}; `peerd server --print-key` prints it"
                ))
            })?),
            None => None,
        };
        let retention = Retention {
            inbox: retention("inbox_retention", file.inbox_retention.as_deref())?,
            outbox: retention("outbox_retention", file.outbox_retention.as_deref())?,
        };
        let explicit_dir = args.data_dir.clone().or(file.data_dir);
        let data_dir = explicit_dir
            .clone()
            .unwrap_or_else(peerd_shared::paths::default_data_dir);
        let explicit_socket = args.socket.clone().or(file.socket);
        let socket =
            peerd_shared::paths::socket_path(explicit_socket.as_deref(), explicit_dir.as_deref());
        Ok(Self {
            server_text,
            server,
            servers,
            server_key,
            listen,
            data_dir: absolute(&data_dir),
            socket: absolute(&socket),
            relay: args.relay.or(file.relay).unwrap_or_default(),
            path_keepalive: args.path_keepalive.map_or(
                super::core::timing::KEEPALIVE_INTERVAL,
                std::time::Duration::from_secs,
            ),
            detach: args.detach,
            log_file: args.log_file.clone(),
            metrics: args.metrics.or(file.metrics),
            retention,
        })
    }
}

/// A retention of the config file: a duration of at least a second
/// (`90d`, `12h`, `1.5h`).
fn retention(key: &str, text: Option<&str>) -> Result<Option<std::time::Duration>, PeerError> {
    let Some(text) = text else {
        return Ok(None);
    };
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d >= std::time::Duration::from_secs(1) => Ok(Some(d)),
        Ok(_) => Err(PeerError::Config(format!(
            "{key} = {text:?}: must be at least 1s"
        ))),
        Err(e) => Err(PeerError::Config(format!(
            "{key} = {text:?}: {e}; use e.g. \"90d\", \"12h\""
        ))),
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn read_file(path: &Path, required: bool) -> Result<FileConfig, PeerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(FileConfig::default())
        }
        Err(e) => {
            return Err(PeerError::ConfigFile {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        }
    };
    toml::from_str(&text).map_err(|e| PeerError::ConfigFile {
        path: path.to_path_buf(),
        message: e.message().to_owned(),
    })
}

/// Resolves a comma-separated list of `HOST[:PORT]`: each entry gives
/// the addresses of the listen socket's family it resolves to (any, if it
/// has none of that family), several in a random order; an address given
/// twice counts once. Never empty.
fn resolve_servers(text: &str, listen: SocketAddr) -> Result<Vec<(String, SocketAddr)>, PeerError> {
    let mut out: Vec<(String, SocketAddr)> = Vec::new();
    for entry in text.split(',').map(str::trim) {
        if entry.is_empty() {
            return Err(PeerError::Resolve {
                server: text.to_owned(),
                message: "an empty entry in the list of servers".into(),
            });
        }
        let mut addrs = resolve_server(entry, listen)?;
        if addrs.len() > 1 {
            fastrand::shuffle(&mut addrs);
        }
        let several = addrs.len() > 1;
        for addr in addrs {
            if out.iter().any(|(_, a)| *a == addr) {
                continue;
            }
            let label = if several {
                format!("{entry} ({addr})")
            } else {
                entry.to_owned()
            };
            out.push((label, addr));
        }
    }
    Ok(out)
}

/// Resolves `HOST[:PORT]` (port 8080 when none is given): its addresses of
/// the listen socket's family, or all of them if it has none of that family.
fn resolve_server(text: &str, listen: SocketAddr) -> Result<Vec<SocketAddr>, PeerError> {
    let err = |message: String| PeerError::Resolve {
        server: text.to_owned(),
        message,
    };
    let addrs: Vec<SocketAddr> = match text.to_socket_addrs() {
        Ok(found) => found.collect(),
        Err(first) => {
            // No port (a host name, an IPv4 address, or an IPv6 one with or
            // without brackets): the default port.
            let host = text.trim_start_matches('[').trim_end_matches(']');
            (host, DEFAULT_PORT)
                .to_socket_addrs()
                .map_err(|_| err(first.to_string()))?
                .collect()
        }
    };
    // An IPv4-mapped address ([::ffff:a.b.c.d]:p) is the IPv4 one: replies
    // come from a.b.c.d, and only replies from the exact address are read.
    let addrs: Vec<SocketAddr> = addrs
        .into_iter()
        .map(peerd_shared::proto::codec::canonical)
        .collect();
    let same: Vec<SocketAddr> = addrs
        .iter()
        .filter(|a| a.is_ipv4() == listen.is_ipv4())
        .copied()
        .collect();
    match (same.is_empty(), addrs.first()) {
        (false, _) => Ok(same),
        (true, Some(first)) => Ok(vec![*first]),
        (true, None) => Err(err("no address found".into())),
    }
}

#[cfg(test)]
mod tests;

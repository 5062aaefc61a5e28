//! The settings of `peerd server` ([`ServerConfig`]), merged from its flags
//! and environment variables ([`ServerArgs`]: clap reads both, the flag
//! winning), the config file (TOML, unknown keys rejected) and the
//! defaults, in that order of precedence, as `peerd start` does.
//!
//! Under systemd the defaults follow the unit's directories: the database
//! in `$STATE_DIRECTORY` (`StateDirectory=`), the config file in
//! `$CONFIGURATION_DIRECTORY` (`ConfigurationDirectory=`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::args::{Limits, ServerArgs, KEEPALIVE_RANGE};
use crate::telemetry::LogFormat;

/// Default UDP address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
/// Default `--keepalive`, seconds.
pub const DEFAULT_KEEPALIVE: u64 = 25;
/// Default `--rate-limit`, datagrams per second per source.
pub const DEFAULT_RATE_LIMIT: u32 = 500;
/// Default `--global-rate-limit`, datagrams per second.
pub const DEFAULT_GLOBAL_RATE_LIMIT: u32 = 1_000_000;
/// Default `--replay-cache`, entries.
pub const DEFAULT_REPLAY_CACHE: u32 = 65_536;
/// Default `--handshake-limit`, handshakes per second per source IP.
pub const DEFAULT_HANDSHAKE_LIMIT: u32 = 50;
/// Default `--cookie-threshold`, handshakes per second.
pub const DEFAULT_COOKIE_THRESHOLD: u32 = 1_000;
/// File name of the server's key beside its database.
pub const KEY_FILE: &str = "server.key";
/// File name of the server's config file in a config directory.
pub const CONFIG_FILE: &str = "server.toml";
/// File name of the registry database in a state directory.
pub const DB_FILE: &str = "registry.sqlite3";

/// Why the settings cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("config file {path}: {key} = {value}: {message}")]
    Value {
        path: PathBuf,
        key: &'static str,
        value: String,
        message: String,
    },
    /// Settings that do not go together, from flags, environment or file.
    #[error("{0}")]
    Invalid(String),
}

/// The config file's keys (the flags' names); anything else is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    db: Option<PathBuf>,
    key_file: Option<PathBuf>,
    keepalive: Option<u64>,
    rate_limit: Option<u32>,
    rate_burst: Option<u32>,
    global_rate_limit: Option<u32>,
    replay_cache: Option<u32>,
    handshake_limit: Option<u32>,
    cookie_threshold: Option<u32>,
    threads: Option<usize>,
    metrics: Option<SocketAddr>,
    log_format: Option<LogFormat>,
    cluster_db: Option<String>,
    cluster_bus: Option<String>,
    node: Option<String>,
}

/// How a node reaches its cluster (all three are given, or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The PostgreSQL URL (may hold a password: never logged as is).
    pub db: String,
    /// The NATS URL.
    pub bus: String,
    /// This node's name.
    pub node: String,
}

/// The resolved settings of one server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The registry database.
    pub db: PathBuf,
    /// The server's private key file.
    pub key_file: PathBuf,
    /// Seconds, within [`KEEPALIVE_RANGE`].
    pub keepalive: u64,
    pub rate_limit: u32,
    pub rate_burst: Option<u32>,
    pub global_rate_limit: u32,
    /// Entries, at least 1.
    pub replay_cache: u32,
    pub handshake_limit: u32,
    pub cookie_threshold: u32,
    /// As given: 0 = one per core ([`ServerConfig::threads`]).
    pub threads: usize,
    /// Where to serve metrics; `None` = off.
    pub metrics: Option<SocketAddr>,
    /// The config file's `log_format` (the flag is handled by `peerd`).
    pub log_format: Option<LogFormat>,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// Set: this server is a node of a cluster (and `db` is not used).
    pub cluster: Option<ClusterConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("a valid default address"),
            db: default_db(),
            key_file: key_beside(&default_db()),
            keepalive: DEFAULT_KEEPALIVE,
            rate_limit: DEFAULT_RATE_LIMIT,
            rate_burst: None,
            global_rate_limit: DEFAULT_GLOBAL_RATE_LIMIT,
            replay_cache: DEFAULT_REPLAY_CACHE,
            handshake_limit: DEFAULT_HANDSHAKE_LIMIT,
            cookie_threshold: DEFAULT_COOKIE_THRESHOLD,
            threads: 0,
            metrics: None,
            log_format: None,
            config_file: None,
            cluster: None,
        }
    }
}

impl ServerConfig {
    /// Merges flags/env, the config file and the defaults.
    pub fn resolve(args: &ServerArgs) -> Result<Self, ConfigError> {
        let (file, path) = match &args.config {
            Some(path) => (read_file(path, true)?, Some(path.clone())),
            None => match default_config_file() {
                Some(path) => {
                    let file = read_file(&path, false)?;
                    (file, path.exists().then_some(path))
                }
                None => (FileConfig::default(), None),
            },
        };
        let at = path.clone().unwrap_or_default();
        if let Some(k) = file.keepalive.filter(|k| !KEEPALIVE_RANGE.contains(k)) {
            return Err(ConfigError::Value {
                path: at,
                key: "keepalive",
                value: k.to_string(),
                message: format!(
                    "must be {} to {} seconds",
                    KEEPALIVE_RANGE.start(),
                    KEEPALIVE_RANGE.end()
                ),
            });
        }
        if file.replay_cache == Some(0) {
            return Err(ConfigError::Value {
                path: at,
                key: "replay_cache",
                value: "0".into(),
                message: "must be at least 1".into(),
            });
        }
        let d = Self::default();
        let explicit_db = args.db.is_some() || file.db.is_some();
        let cluster = cluster(args, &file, explicit_db)?;
        let db = args.db.clone().or(file.db).unwrap_or(d.db);
        Ok(Self {
            listen: args.listen.or(file.listen).unwrap_or(d.listen),
            key_file: args
                .key_file
                .clone()
                .or(file.key_file)
                .unwrap_or_else(|| key_beside(&db)),
            db,
            keepalive: args.keepalive.or(file.keepalive).unwrap_or(d.keepalive),
            rate_limit: args.rate_limit.or(file.rate_limit).unwrap_or(d.rate_limit),
            rate_burst: args.rate_burst.or(file.rate_burst),
            global_rate_limit: args
                .global_rate_limit
                .or(file.global_rate_limit)
                .unwrap_or(d.global_rate_limit),
            replay_cache: args
                .replay_cache
                .or(file.replay_cache)
                .unwrap_or(d.replay_cache),
            handshake_limit: args
                .handshake_limit
                .or(file.handshake_limit)
                .unwrap_or(d.handshake_limit),
            cookie_threshold: args
                .cookie_threshold
                .or(file.cookie_threshold)
                .unwrap_or(d.cookie_threshold),
            threads: args.threads.or(file.threads).unwrap_or(d.threads),
            metrics: args.metrics.or(file.metrics),
            log_format: file.log_format,
            config_file: path,
            cluster,
        })
    }

    /// `threads`, with 0 resolved to the number of CPU cores (at most 16).
    pub fn threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(16)),
            n => n,
        }
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

/// The cluster settings: `--cluster-db`, `--cluster-bus` and `--node`
/// together (flags or file), or none of them.
fn cluster(
    args: &ServerArgs,
    file: &FileConfig,
    explicit_db: bool,
) -> Result<Option<ClusterConfig>, ConfigError> {
    let db = args.cluster_db.clone().or_else(|| file.cluster_db.clone());
    let bus = args
        .cluster_bus
        .clone()
        .or_else(|| file.cluster_bus.clone());
    let node = args.node.clone().or_else(|| file.node.clone());
    let bad = |m: String| Err(ConfigError::Invalid(m));
    match (db, bus, node) {
        (None, None, None) => Ok(None),
        (Some(db), Some(bus), Some(node)) => {
            if !super::cluster::wire::valid_node_name(&node) {
                return bad(format!(
                    "--node {node:?}: a node name is 1 to 64 letters, digits, `-` or `_`"
                ));
            }
            if !bus.starts_with("nats://") {
                return bad(format!(
                    "--cluster-bus {}: must be a nats:// URL, e.g. nats://10.0.0.5:4222",
                    super::cluster::db::redact(&bus)
                ));
            }
            if explicit_db {
                return bad(
                    "--db: a cluster node keeps its ids in --cluster-db; give one of them".into(),
                );
            }
            Ok(Some(ClusterConfig { db, bus, node }))
        }
        (db, bus, node) => {
            let missing: Vec<&str> = [
                ("--cluster-db", db.is_none()),
                ("--cluster-bus", bus.is_none()),
                ("--node", node.is_none()),
            ]
            .into_iter()
            .filter(|(_, m)| *m)
            .map(|(f, _)| f)
            .collect();
            bad(format!(
                "a cluster node needs --cluster-db, --cluster-bus and --node together; missing {}",
                missing.join(", ")
            ))
        }
    }
}

/// The key file beside a database: `server.key` in its directory.
pub fn key_beside(db: &Path) -> PathBuf {
    db.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from(KEY_FILE), |d| d.join(KEY_FILE))
}

/// The first directory of a systemd directory variable (`STATE_DIRECTORY`
/// and friends hold a colon-separated list).
fn systemd_dir(var: &str) -> Option<PathBuf> {
    let value = std::env::var_os(var)?;
    let first = value.to_str()?.split(':').next()?;
    (!first.is_empty()).then(|| PathBuf::from(first))
}

/// The default database: in `$STATE_DIRECTORY` under systemd, else in the
/// user's data directory.
pub fn default_db() -> PathBuf {
    systemd_dir("STATE_DIRECTORY")
        .map_or_else(peerd_shared::paths::default_server_db, |d| d.join(DB_FILE))
}

/// The default config file: in `$CONFIGURATION_DIRECTORY` under systemd,
/// else beside the daemon's (e.g. `~/.config/peerd/server.toml`).
pub fn default_config_file() -> Option<PathBuf> {
    systemd_dir("CONFIGURATION_DIRECTORY")
        .map(|d| d.join(CONFIG_FILE))
        .or_else(|| peerd_shared::paths::config_file().map(|p| p.with_file_name(CONFIG_FILE)))
}

fn read_file(path: &Path, required: bool) -> Result<FileConfig, ConfigError> {
    let err = |message: String| ConfigError::File {
        path: path.to_path_buf(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(FileConfig::default())
        }
        Err(e) => return Err(err(format!("cannot read: {e}"))),
    };
    toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|s| {
            let before = &text.as_bytes()[..s.start.min(text.len())];
            before.iter().filter(|&&b| b == b'\n').count()
        });
        match at {
            Some(n) => {
                let line = text.lines().nth(n).unwrap_or("").trim();
                err(format!("line {}: `{line}`: {}", n + 1, e.message()))
            }
            None => err(e.message().to_owned()),
        }
    })
}

#[cfg(test)]
mod tests;

//! The error type of the peer daemon: everything that stops `peerd start`
//! from starting or running, with messages that say what to do.

use std::path::PathBuf;

/// Why the daemon cannot start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot read config file {path}: {message}")]
    ConfigFile { path: PathBuf, message: String },
    #[error("cannot resolve server address {server}: {message}")]
    Resolve { server: String, message: String },
    #[error("cannot create directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the data dir {path} is open to other users (mode {mode:o}); peerd keeps its \
         private key and messages there: make it private with `{fix}`, or choose another \
         --data-dir"
    )]
    DataDirMode {
        path: PathBuf,
        mode: u32,
        fix: String,
    },
    #[error("{0}")]
    DataDirInUse(String),
    #[error("data dir lock: {0}")]
    Lock(String),
    #[error("identity file {path}: {message}")]
    Identity { path: PathBuf, message: String },
    #[error("cannot bind UDP socket on {addr}: {source}")]
    Udp {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "another peerd{} is running on the control socket {}; stop it with \
         `peerctl --socket {} stop`, or use another --socket/--data-dir",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        path.display(),
        path.display()
    )]
    AlreadyRunning { path: PathBuf, pid: Option<u32> },
    #[error("cannot use control socket {path}: {message}")]
    Control { path: PathBuf, message: String },
    #[error("store: {0}")]
    Store(#[from] super::store::StoreError),
    #[error("cannot start in the background: {0}")]
    Detach(String),
    #[error("runtime: {0}")]
    Runtime(String),
}

//! Errors of `peerd server` that stop it (bad flags, socket, database).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server cannot start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot bind UDP {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make {path} private (mode 0600): {source}")]
    FileMode {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("registry database {path}: {source}")]
    Database {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot start the database writer thread: {0}")]
    Thread(std::io::Error),
    #[error("the database writer thread stopped")]
    WriterGone,
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen for shutdown signals: {0}")]
    Signal(std::io::Error),
    #[error("UDP socket error: {0}")]
    Socket(std::io::Error),
    #[error("server key: {0}")]
    Key(#[from] peerd_shared::proto::keys::KeyError),
    #[error("cluster database {url}: {message}")]
    ClusterDb { url: String, message: String },
    #[error("the cluster engine thread stopped")]
    ClusterGone,
    #[error("cannot serve metrics on TCP {addr}: {source}")]
    Metrics {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

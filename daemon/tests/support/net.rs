//! A test's little network on loopback: a temporary directory holding a
//! server's database and the daemons' data dirs.

use std::path::PathBuf;

use super::daemon::Daemon;
use super::server::Server;

/// A temporary directory for a server and daemons, removed on drop
/// (declare it first, so everything started in it is dropped before it).
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A fresh server on an ephemeral port, its database in here.
    pub fn server(&self) -> Server {
        self.server_with(&[])
    }

    /// A fresh server with `extra` flags (e.g. `--keepalive 1`).
    pub fn server_with(&self, extra: &[&str]) -> Server {
        Server::start("127.0.0.1:0", &self.path("server.sqlite3"), extra)
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

/// A server and `n` registered daemons (ids 1..=n in order, data dirs
/// `peer1`..`peerN`). Fields drop in order: daemons, server, directory.
pub struct Net {
    pub daemons: Vec<Daemon>,
    pub server: Server,
    pub tmp: Scratch,
}

impl Net {
    pub fn start(n: usize) -> Self {
        let tmp = Scratch::new();
        let server = tmp.server();
        let daemons = (1..=n)
            .map(|i| Daemon::start(server.addr, &tmp.path(&format!("peer{i}"))))
            .collect();
        Self {
            daemons,
            server,
            tmp,
        }
    }
}

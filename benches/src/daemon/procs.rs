//! The processes a daemon benchmark runs: a `peerd server` on a free
//! loopback port and `peerd start` daemons, each in its own data dir with
//! an empty config file (`PEERD_CONFIG`), all killed on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use peerd_shared::control::{RegState, Status};
use peerd_shared::PeerId;

use super::control::Conn;
use crate::error::BenchError;
use crate::probe;

/// Where the release binaries are.
#[derive(Debug, Clone)]
pub struct Bins {
    pub peerd: PathBuf,
    pub peerctl: PathBuf,
}

impl Bins {
    /// `dir/peerd` and `dir/peerctl`, or next to the running executable.
    pub fn locate(dir: Option<&Path>) -> Result<Self, BenchError> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => std::env::current_exe()
                .map_err(|e| BenchError::io("cannot find the running executable", e))?
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        };
        let bins = Self {
            peerd: dir.join("peerd"),
            peerctl: dir.join("peerctl"),
        };
        if !bins.peerd.is_file() {
            return Err(BenchError::Setup(format!(
                "no peerd binary at {} (build it, or pass --bin-dir)",
                bins.peerd.display()
            )));
        }
        Ok(bins)
    }
}

/// A child process killed (and reaped) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `peerd server` on 127.0.0.1 with its registry in a temp dir.
pub struct Server {
    _child: Killed,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts a server and waits until it answers STUN.
    pub fn start(bins: &Bins, dir: &Path) -> Result<Self, BenchError> {
        let port = probe::free_udp_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(&bins.peerd)
            .arg("server")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--db")
            .arg(dir.join("registry.sqlite3"))
            .args(["--rate-limit", "0", "--global-rate-limit", "0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| BenchError::io(format!("cannot run {}", bins.peerd.display()), e))?;
        let child = Killed(child);
        probe::wait_for_stun(addr, Instant::now() + Duration::from_secs(10))?;
        Ok(Self {
            _child: child,
            addr,
        })
    }
}

/// A `peerd start` daemon.
pub struct Daemon {
    child: Killed,
    pub socket: PathBuf,
    pub data_dir: PathBuf,
}

impl Daemon {
    /// Spawns `peerd start --server S --listen 127.0.0.1:0 --data-dir DIR`
    /// with an empty config file next to DIR; does not wait.
    pub fn spawn(bins: &Bins, server: SocketAddr, data_dir: &Path) -> Result<Self, BenchError> {
        let config = data_dir.with_extension("toml");
        std::fs::write(&config, "")
            .map_err(|e| BenchError::io(format!("cannot write {}", config.display()), e))?;
        let child = Command::new(&bins.peerd)
            .arg("start")
            .arg("--server")
            .arg(server.to_string())
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("PEERD_SERVER")
            .env_remove("PEERD_LISTEN")
            .env_remove("PEERD_DATA_DIR")
            .env_remove("PEERD_SOCKET")
            .env("PEERD_CONFIG", &config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| BenchError::io(format!("cannot run {}", bins.peerd.display()), e))?;
        Ok(Self {
            child: Killed(child),
            socket: data_dir.join("peerd.sock"),
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// The status, if the control socket answers now.
    pub fn try_status(&self) -> Option<Status> {
        Conn::connect(&self.socket).ok()?.status().ok()
    }

    /// Polls `status` every `every` until it says `registered`; returns the
    /// id and the instant it was first seen registered.
    pub fn wait_registered(
        &mut self,
        every: Duration,
        timeout: Duration,
    ) -> Result<(PeerId, Instant), BenchError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status() {
                if let (RegState::Registered, Some(id)) = (s.state, s.id) {
                    return Ok((id, Instant::now()));
                }
            }
            if let Ok(Some(status)) = self.child.0.try_wait() {
                return Err(BenchError::Setup(format!(
                    "peerd start ({}) exited with {status}",
                    self.data_dir.display()
                )));
            }
            if Instant::now() >= deadline {
                return Err(BenchError::Setup(format!(
                    "peerd start ({}) not registered within {timeout:?}",
                    self.data_dir.display()
                )));
            }
            std::thread::sleep(every);
        }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }
}

/// A server and two registered daemons, A and B, in a fresh temp dir.
pub struct Pair {
    pub a: Daemon,
    pub b: Daemon,
    pub a_id: PeerId,
    pub b_id: PeerId,
    _server: Option<Server>,
    _dir: tempfile::TempDir,
}

impl Pair {
    /// Starts (or uses `server`) and two daemons; waits until both are registered.
    pub fn start(bins: &Bins, server: Option<SocketAddr>) -> Result<Self, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| BenchError::io("cannot make a temp dir", e))?;
        let (own, addr) = match server {
            Some(addr) => (None, addr),
            None => {
                let s = Server::start(bins, dir.path())?;
                let addr = s.addr;
                (Some(s), addr)
            }
        };
        let mut a = Daemon::spawn(bins, addr, &dir.path().join("a"))?;
        let mut b = Daemon::spawn(bins, addr, &dir.path().join("b"))?;
        let timeout = Duration::from_secs(20);
        let (a_id, _) = a.wait_registered(Duration::from_millis(5), timeout)?;
        let (b_id, _) = b.wait_registered(Duration::from_millis(5), timeout)?;
        Ok(Self {
            a,
            b,
            a_id,
            b_id,
            _server: own,
            _dir: dir,
        })
    }
}

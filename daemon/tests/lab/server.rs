//! The real rendezvous server, `peerd server`, run on a lab host.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::error::{LabError, Result};
use super::machines::Host;
use super::process::Spawned;

/// How long `peerd server` may take to print `listening on ADDR`.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `peerd server`; killed when dropped.
pub struct PeerdServer {
    process: Spawned,
    addr: SocketAddr,
}

impl PeerdServer {
    /// Starts `peerd server --listen HOST_IP:port --db DB [--keepalive K]`
    /// on `host` and waits for its `listening on ADDR` line.
    pub fn start(host: &Host, port: u16, db: &Path, keepalive: Option<u64>) -> Result<Self> {
        let listen = host.addr(port).to_string();
        let mut cmd = host.command(env!("CARGO_BIN_EXE_peerd"));
        cmd.args(["server", "--listen", &listen, "--db"])
            .arg(db)
            // `listening on ADDR` is an info line, whatever the caller's RUST_LOG.
            .env("RUST_LOG", "info");
        if let Some(k) = keepalive {
            cmd.args(["--keepalive", &k.to_string()]);
        }
        let process = Spawned::start(cmd, &format!("peerd server on {listen}"))?;
        let line = process.wait_for_line(|l| l.contains("listening on "), START_TIMEOUT)?;
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.trim_matches(|c| c == '"' || c == ',').parse().ok())
            .ok_or_else(|| LabError::Timeout(format!("cannot read the address in {line:?}")))?;
        Ok(Self { process, addr })
    }

    /// The address the server said it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's log so far.
    pub fn lines(&self) -> Vec<String> {
        self.process.lines()
    }

    /// The server process.
    pub fn process(&mut self) -> &mut Spawned {
        &mut self.process
    }
}

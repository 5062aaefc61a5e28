//! `peerd server` on a lab host: the harness's [`Server`] run inside the
//! host's namespace (`ip netns exec`).

use std::path::Path;

use super::error::Result;
use super::machines::Host;
use crate::support::{peerd_bin, server_args, Server};

/// Starts `peerd server --listen HOST_IP:port --db DB [--keepalive K]` on
/// `host` and waits for its `listening on ADDR` line.
pub fn start_server(host: &Host, port: u16, db: &Path, keepalive: Option<u64>) -> Result<Server> {
    let listen = host.addr(port).to_string();
    let mut cmd = host.command(peerd_bin());
    cmd.args(server_args(&listen, db))
        // `listening on ADDR` is an info line, whatever the caller's RUST_LOG.
        .env("RUST_LOG", "info");
    if let Some(k) = keepalive {
        cmd.args(["--keepalive", &k.to_string()]);
    }
    Ok(Server::launch(
        cmd,
        db,
        &format!("peerd server on {listen}"),
    )?)
}

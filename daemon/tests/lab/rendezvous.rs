//! Requests to `peerd server` from the lab's raw sockets, through the
//! harness's UDP [`Client`]: resent like a protocol client (protocol.md 2)
//! until the reply with the same `seq` comes back.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

use peerd_shared::wire::Packet;
use peerd_shared::{PeerId, Seq, Token};

use super::error::{LabError, Result};
use crate::support::Client;

static NEXT_SEQ: AtomicU32 = AtomicU32::new(1);

/// A fresh `seq`.
pub fn next_seq() -> Seq {
    Seq(NEXT_SEQ.fetch_add(1, Ordering::Relaxed))
}

/// Sends `packet` (a request carrying `seq`) from `sock` to `server` and
/// returns the server's reply with that `seq` (an ERROR included).
pub fn request(sock: &UdpSocket, server: SocketAddr, packet: &Packet) -> Result<Packet> {
    let sock = sock
        .try_clone()
        .map_err(|e| LabError::io("clone a probe socket", e))?;
    Ok(Client::on(sock, server).request(packet)?)
}

/// REGISTERs `token`; returns the id and the address the server observed.
pub fn register(
    sock: &UdpSocket,
    server: SocketAddr,
    token: Token,
) -> Result<(PeerId, SocketAddr)> {
    let reply = request(
        sock,
        server,
        &Packet::Register {
            seq: next_seq(),
            token,
        },
    )?;
    match reply {
        Packet::RegisterAck { id, addr, .. } => Ok((id, addr)),
        other => Err(LabError::Unavailable(format!(
            "REGISTER answered {other:?}"
        ))),
    }
}

//! A minimal client of `peerd server` for probing the lab from raw sockets:
//! one request, resent every 250 ms (at most 5 tries, protocol.md 2) until
//! the reply with the same `seq` comes back.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use peerd_shared::wire::{self, Packet};
use peerd_shared::{PeerId, Seq, Token};

use super::error::{LabError, Result};
use super::probe::recv_matching;

/// Time to wait for a reply before resending.
const RETRY: Duration = Duration::from_millis(250);
/// Tries per request.
const TRIES: u32 = 5;

static NEXT_SEQ: AtomicU32 = AtomicU32::new(1);

/// A fresh `seq`.
pub fn next_seq() -> Seq {
    Seq(NEXT_SEQ.fetch_add(1, Ordering::Relaxed))
}

/// Sends `packet` (a request carrying `seq`) from `sock` to `server` and
/// returns the server's reply with that `seq` (an ERROR included).
pub fn request(sock: &UdpSocket, server: SocketAddr, packet: &Packet) -> Result<Packet> {
    let seq = packet
        .seq()
        .ok_or_else(|| LabError::Unavailable("request() needs a packet with a seq".into()))?;
    let bytes = wire::encode(packet)
        .map_err(|e| LabError::Unavailable(format!("cannot encode {:?}: {e}", packet.kind())))?;
    for _ in 0..TRIES {
        sock.send_to(&bytes, server)
            .map_err(|e| LabError::io(format!("send to {server}"), e))?;
        let reply = recv_matching(sock, RETRY, |buf, from| {
            let reply = wire::decode(buf).ok()?;
            (from == server && reply.seq() == Some(seq)).then_some(reply)
        });
        if let Ok(reply) = reply {
            return Ok(reply);
        }
    }
    Err(LabError::Timeout(format!(
        "no reply from {server} to {:?} after {TRIES} tries",
        packet.kind()
    )))
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

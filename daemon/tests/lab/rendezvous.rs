//! Requests to `peerd server` from the lab's raw sockets in protocol v1
//! JSON, resent like a v1 client (250 ms, doubling, 5 tries) until the
//! reply with the same `seq` comes back. The server now speaks protocol v2
//! (its tests use the harness's v2 client, `support::Peer`); these probes
//! are what the lab's raw rendezvous tests send until they are ported.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use peerd_shared::wire::{self, Packet};
use peerd_shared::{PeerId, Seq, Token};

use super::error::{LabError, Result};
use crate::support::{recv_matching, Timeout};

static NEXT_SEQ: AtomicU32 = AtomicU32::new(1);

/// A fresh `seq`.
pub fn next_seq() -> Seq {
    Seq(NEXT_SEQ.fetch_add(1, Ordering::Relaxed))
}

/// Sends `packet` (a request carrying `seq`) from `sock` to `server` and
/// returns the server's reply with that `seq` (an ERROR included).
pub fn request(sock: &UdpSocket, server: SocketAddr, packet: &Packet) -> Result<Packet> {
    let seq = packet.seq().expect("a request carries a seq");
    let bytes = wire::encode(packet).expect("encode a request");
    let mut wait = Duration::from_millis(250);
    for _ in 0..5 {
        sock.send_to(&bytes, server)
            .map_err(|e| LabError::io("send a request", e))?;
        let reply = recv_matching(sock, wait, |buf, from| {
            let reply = wire::decode(buf).ok().filter(|_| from == server)?;
            (reply.seq() == Some(seq)).then_some(reply)
        });
        if let Ok(reply) = reply {
            return Ok(reply);
        }
        wait *= 2;
    }
    Err(Timeout(format!("a reply from {server} after 5 tries")).into())
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

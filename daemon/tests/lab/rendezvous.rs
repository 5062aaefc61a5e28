//! Registration with `peerd server` from the lab's raw sockets, in protocol
//! v2: the server's key by KEY_REQUEST (docs/protocol.md 3.5, resent like
//! a daemon: 250 ms, doubling, 5 tries), then a REGISTER handshake by the
//! harness's v2 client ([`Peer`]), which then sends requests (`Peer::call`)
//! and receives INTRO and RELAYED (`Peer::next`) on that socket.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use peerd_shared::proto::frame::key_request;
use peerd_shared::proto::{Frame, PublicKey};

use super::error::{LabError, Result};
use crate::support::{recv_matching, Client, Keys, Peer, Timeout};

/// The public key of the server at `server`, asked from `sock`.
pub fn server_key(sock: &UdpSocket, server: SocketAddr) -> Result<PublicKey> {
    let mut wait = Duration::from_millis(250);
    for _ in 0..5 {
        sock.send_to(&key_request(), server)
            .map_err(|e| LabError::io("send a KEY_REQUEST", e))?;
        let reply = recv_matching(sock, wait, |buf, from| match Frame::parse(buf) {
            Ok(Frame::KeyReply(key)) if from == server => Some(key),
            _ => None,
        });
        if let Ok(key) = reply {
            return Ok(key);
        }
        wait *= 2;
    }
    Err(Timeout(format!("a KEY_REPLY from {server} after 5 tries")).into())
}

/// Registers a new key from `sock` (the returned peer holds a handle to
/// the same socket): its id and the address the server observed are
/// `Peer::id` and `Peer::seen_as`.
pub fn register(sock: &UdpSocket, server: SocketAddr) -> Result<Peer> {
    let key = server_key(sock, server)?;
    let own = sock
        .try_clone()
        .map_err(|e| LabError::io("clone a lab socket", e))?;
    Ok(Peer::join_with(Client::on(own, server), Keys::new(key)))
}

//! Raw peers of protocol v2 inside the lab: a socket opened in a lab host
//! registers with `peerd server` through the harness's v2 client
//! ([`Peer`]: the REGISTER handshake, requests resent like a daemon's,
//! INTRO and RELAYED kept for [`Peer::next`]). The NAT tests and the hand
//! punching of `lab_punch.rs` stand on it.

use std::net::{SocketAddr, UdpSocket};

use peerd_shared::proto::PublicKey;

use crate::support::{Client, Keys, Peer};

/// Registers a new key from `sock` with the server at `server`, whose key
/// is `server_key`; fails the test when no REGISTERED comes within the
/// harness's deadline.
pub fn join(sock: UdpSocket, server: SocketAddr, server_key: PublicKey) -> Peer {
    Peer::join_with(Client::on(sock, server), Keys::new(server_key))
}

//! `list` returns every other online peer, across as many LIST pages as the
//! server needs (here 80 raw registrations, more than one datagram holds).

mod peer_support;

use std::collections::HashSet;
use std::net::UdpSocket;
use std::time::Duration;

use peer_support::{Daemon, Lab};
use peerd_shared::wire::{self, Packet};
use peerd_shared::{Seq, Token};
use serde_json::json;

const FAKE_PEERS: usize = 80;

/// Registers one peer from its own socket: the socket (kept open) and the id.
fn register(server: std::net::SocketAddr, seq: u32) -> (UdpSocket, u64) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let token = Token::generate().expect("token");
    let bytes = wire::encode(&Packet::Register {
        seq: Seq(seq),
        token,
    })
    .expect("encode");
    let mut buf = [0u8; 2048];
    for _ in 0..10 {
        socket.send_to(&bytes, server).expect("send");
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            if let Ok(Packet::RegisterAck { id, .. }) = wire::decode(&buf[..n]) {
                return (socket, id.get());
            }
        }
    }
    panic!("peer {seq} could not register");
}

#[test]
fn list_returns_every_page() {
    let lab = Lab::new();
    let server = lab.server();
    let a = Daemon::start(server.addr, &lab.path("a"));
    let ida = a.wait_registered();
    let fakes: Vec<(UdpSocket, u64)> = (0..FAKE_PEERS)
        .map(|i| register(server.addr, u32::try_from(i).expect("small")))
        .collect();
    let want: HashSet<u64> = fakes.iter().map(|(_, id)| *id).collect();

    let r = a.request(&json!({"cmd": "list"}));
    let peers = r["result"]["peers"].as_array().expect("peers").clone();
    let got: Vec<u64> = peers.iter().filter_map(|p| p["id"].as_u64()).collect();
    assert_eq!(got.len(), FAKE_PEERS, "every page, no repeats: {r}");
    assert_eq!(got.iter().copied().collect::<HashSet<_>>(), want);
    assert!(!got.contains(&ida), "not the asker itself");
    assert!(got.windows(2).all(|w| w[0] < w[1]), "ascending by id");
    assert!(peers.iter().all(|p| p["addr"]
        .as_str()
        .is_some_and(|a| a.starts_with("127.0.0.1:"))));
    let pages = server
        .logs()
        .iter()
        .filter(|l| l.contains("LIST from"))
        .count();
    assert!(
        pages >= 2,
        "the list took {pages} page(s); expected several"
    );
}

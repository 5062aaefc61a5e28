//! LIST with pages over more than 1,000 online peers, each registered by
//! handshake from its own socket: ascending ids, every other peer exactly
//! once with its observed address, each page one TRANSPORT frame within
//! 1200 bytes, `more` and `after`.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;

use peerd_shared::proto::frame::TRANSPORT_OVERHEAD;
use peerd_shared::proto::{Body, MAX_DATAGRAM};
use peerd_shared::Seq;
use support::*;

const PEERS: usize = 1100;
/// Bytes of one IPv4 entry: id u64 and ADDR.
const ENTRY: usize = 8 + 7;

#[test]
fn list_walks_every_online_peer_in_pages() {
    // All sockets share 127.0.0.1: the per-IP handshake limit is lifted.
    let server = Server::fresh(&["--handshake-limit", "0"]);
    let mut peers = join_many(&server, PEERS);
    let expected: HashMap<u64, SocketAddr> = peers
        .iter()
        .map(|p| (p.id.get(), p.client.addr()))
        .collect();
    let mut ids: Vec<u64> = expected.keys().copied().collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1..=PEERS as u64).collect::<Vec<_>>(),
        "dense ids from 1"
    );

    // Walk from peer 500's point of view.
    let asker = &mut peers[499];
    let mut after = 0;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = asker.call(Req::List(after));
        let frame_len = page.0.len() + TRANSPORT_OVERHEAD;
        assert!(frame_len <= MAX_DATAGRAM, "page of {frame_len} bytes");
        let (entries, more) = page.listed();
        pages += 1;
        for (id, addr) in &entries {
            assert_eq!(Some(addr), expected.get(&id.get()), "address of {id}");
            seen.push(id.get());
        }
        if !more {
            break;
        }
        assert!(
            frame_len + ENTRY > MAX_DATAGRAM,
            "a page with more is full ({frame_len} bytes)"
        );
        after = entries
            .last()
            .expect("a page with more is not empty")
            .0
            .get();
    }
    let want: Vec<u64> = (1..=PEERS as u64)
        .filter(|&i| i != asker.id.get())
        .collect();
    assert_eq!(seen, want, "every other peer once, ascending");
    assert!(pages > 10, "{pages} pages");
    server.wait_for_log(&format!("LIST from id {}: ", asker.id));
}

#[test]
fn after_from_zero_to_past_the_end() {
    let server = Server::fresh(&[]);
    let mut peers: Vec<Peer> = (0..3).map(|_| Peer::join(&server)).collect();
    let ids = |p: &mut Peer, after: u64| {
        let (entries, more) = p.call(Req::List(after)).listed();
        (entries.iter().map(|e| e.0.get()).collect::<Vec<_>>(), more)
    };
    assert_eq!(ids(&mut peers[0], 0), (vec![2, 3], false));
    assert_eq!(ids(&mut peers[0], 2), (vec![3], false));
    assert_eq!(ids(&mut peers[1], 1), (vec![3], false));
    assert_eq!(ids(&mut peers[1], 3), (vec![], false));
    assert_eq!(ids(&mut peers[1], u64::MAX), (vec![], false));
    assert_eq!(ids(&mut peers[2], 0), (vec![1, 2], false));
    let reply = peers[2].request(&Body::List {
        seq: Seq(77),
        after: 0,
    });
    assert_eq!(reply.seq(), Some(Seq(77)), "the reply echoes the seq");
    server.wait_for_log("LIST from id 1: 2 peers");
}

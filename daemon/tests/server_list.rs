//! LIST with pagination over more than 1,000 online peers, each registered
//! from its own socket: ascending ids, every other peer exactly once with
//! its observed address, pages within 1200 bytes, `more` and `after`.

mod support;

use std::collections::HashMap;

use peerd_shared::wire::{self, Packet, MAX_DATAGRAM};
use peerd_shared::Seq;
use support::*;

const PEERS: usize = 1100;

#[test]
fn list_walks_every_online_peer_in_pages() {
    let server = Server::fresh(&[]);
    let mut peers = join_many(&server, PEERS);
    let expected: HashMap<u64, std::net::SocketAddr> = peers
        .iter()
        .map(|p| (p.id.get(), p.client.addr()))
        .collect();
    let ids: Vec<u64> = {
        let mut v: Vec<u64> = expected.keys().copied().collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        ids,
        (1..=PEERS as u64).collect::<Vec<_>>(),
        "dense ids from 1"
    );

    // Walk from peer 500's point of view.
    let asker = &mut peers[499];
    asker.client.drain();
    let mut after: Option<u64> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let extra = after.map_or(String::new(), |a| format!(r#","after":{a}"#));
        let text = asker.json("LIST", &extra);
        asker.client.send(text.as_bytes());
        let bytes = asker.client.recv_within(DEADLINE).expect("LIST_ACK");
        assert!(bytes.len() <= MAX_DATAGRAM, "page of {} bytes", bytes.len());
        let Ok(Packet::ListAck {
            peers: page, more, ..
        }) = wire::decode(&bytes)
        else {
            panic!("unexpected {:?}", String::from_utf8_lossy(&bytes));
        };
        pages += 1;
        for entry in &page {
            assert_eq!(
                Some(&entry.addr),
                expected.get(&entry.id.get()),
                "address of {}",
                entry.id
            );
            seen.push(entry.id.get());
        }
        if !more {
            break;
        }
        assert!(bytes.len() > MAX_DATAGRAM - 40, "a page with more is full");
        after = Some(page.last().expect("a page with more is not empty").id.get());
    }
    let want: Vec<u64> = (1..=PEERS as u64)
        .filter(|&i| i != asker.id.get())
        .collect();
    assert_eq!(seen, want, "every other peer once, ascending");
    assert!(pages > 10, "{pages} pages");
    let needle = format!("LIST from id {}: ", asker.id);
    server.wait_for_log(&needle);
}

#[test]
fn after_null_absent_and_past_the_end() {
    let server = Server::fresh(&[]);
    let mut peers: Vec<Peer> = (0..3).map(|_| Peer::join(&server)).collect();
    let ids = |p: Packet| match p {
        Packet::ListAck { peers, more, .. } => {
            (peers.iter().map(|e| e.id.get()).collect::<Vec<_>>(), more)
        }
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(ids(peers[0].call("LIST", "")), (vec![2, 3], false));
    assert_eq!(
        ids(peers[0].call("LIST", r#","after":null"#)),
        (vec![2, 3], false)
    );
    assert_eq!(
        ids(peers[0].call("LIST", r#","after":0"#)),
        (vec![2, 3], false)
    );
    assert_eq!(
        ids(peers[0].call("LIST", r#","after":2"#)),
        (vec![3], false)
    );
    assert_eq!(ids(peers[1].call("LIST", r#","after":3"#)), (vec![], false));
    assert_eq!(
        ids(peers[1].call("LIST", r#","after":9007199254740991"#)),
        (vec![], false)
    );
    let text = request_json("LIST", 77, peers[2].id, &peers[2].token, "");
    assert!(matches!(
        peers[2].client.call(&text),
        Packet::ListAck { seq: Seq(77), .. }
    ));
    server.wait_for_log("LIST from id 1: 2 peers");
}

//! `list` returns every other online peer, across as many LIST pages as the
//! server needs (here 80 raw registrations, more than one datagram holds).

mod support;

use std::collections::HashSet;

use peerd_shared::PeerId;
use support::{join_many, Daemon, Scratch};

const FAKE_PEERS: usize = 80;

#[test]
fn list_returns_every_page() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let ida = a.wait_registered();
    // Registered from sockets of their own, kept open.
    let fakes = join_many(&server, FAKE_PEERS);
    let want: HashSet<PeerId> = fakes.iter().map(|p| p.id).collect();

    let peers = a.list().expect("list");
    let got: Vec<PeerId> = peers.iter().map(|p| p.id).collect();
    assert_eq!(got.len(), FAKE_PEERS, "every page, no repeats: {peers:?}");
    assert_eq!(got.iter().copied().collect::<HashSet<_>>(), want);
    assert!(!got.contains(&ida), "not the asker itself");
    assert!(got.windows(2).all(|w| w[0] < w[1]), "ascending by id");
    assert!(peers.iter().all(|p| p.addr.starts_with("127.0.0.1:")));
    // Several pages: the server logs each one it serves (the last line may
    // still be on its way through the pipe when `list` has answered).
    server.wait_for_logs("LIST from", 2);
}

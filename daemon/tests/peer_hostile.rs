//! A stranger on the same machine (the same IP as the real peers) attacks
//! a daemon over UDP while two daemons talk: junk of every first byte,
//! forged TRANSPORT frames, HELLO handshakes with a valid mac1 from keys
//! nobody pinned, claiming the real peer's id and ids nobody has, and a
//! flood of them. Nothing is stored, no path moves, nothing is marked
//! delivered, the peers keep exchanging messages exactly once, and the
//! daemon's memory and `peers` table stay small.

mod support;

use std::net::{SocketAddr, UdpSocket};

use peerd_shared::control::{Command, PathKind, Response};
use peerd_shared::proto::handshake::{Identity, Initiator};
use peerd_shared::proto::{InitPayload, PublicKey, SecretKey};
use peerd_shared::PeerId;
use support::{poll, Daemon, Scratch};

/// The loopback address of a daemon's UDP socket.
fn udp_of(d: &Daemon) -> SocketAddr {
    let status = d.status().expect("status");
    let port = status
        .local_addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .expect("a port");
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn own_key(d: &Daemon) -> PublicKey {
    match d.request(Command::Id) {
        Ok(Response::Id { key: Some(key), .. }) => key.parse().expect("a key"),
        other => panic!("id: {other:?}"),
    }
}

/// Resident memory of `pid`, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// Pseudo-random bytes (xorshift): junk needs no cryptographic quality.
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// HELLO INITs to `target` with a valid mac1, each from a fresh key, each
/// claiming to come from `from(i)`.
fn hellos(target: &PublicKey, n: u32, from: impl Fn(u32) -> PeerId) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let me = Identity::new(SecretKey::generate().expect("a key"));
            let payload = InitPayload::Hello {
                timestamp: u64::from(i) + 1,
                from: from(i),
            };
            Initiator::start(&me, target, i, &payload, None, None)
                .expect("an INIT")
                .0
        })
        .collect()
}

/// Both ways, a message each, delivered direct, once.
fn still_talking(a: &Daemon, ida: PeerId, b: &Daemon, idb: PeerId, n: usize) {
    let to_b = format!("a to b #{n}");
    let sent = a.send(idb, &to_b, true).expect("a -> b delivered");
    assert_eq!(sent.path, Some(PathKind::Direct), "{sent:?}");
    let to_a = format!("b to a #{n}");
    let sent = b.send(ida, &to_a, true).expect("b -> a delivered");
    assert_eq!(sent.path, Some(PathKind::Direct), "{sent:?}");
    assert_eq!(b.texts_from(ida).iter().filter(|t| **t == to_b).count(), 1);
    assert_eq!(a.texts_from(idb).iter().filter(|t| **t == to_a).count(), 1);
}

#[test]
fn forged_datagrams_and_handshakes_from_a_stranger_change_nothing() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let b = Daemon::start(server.addr, &tmp.path("b"));
    let (ida, idb) = (a.wait_registered(), b.wait_registered());
    still_talking(&a, ida, &b, idb, 0);
    let (target, key_b) = (udp_of(&b), own_key(&b));
    let path_before = b.path_to(ida).expect("peers").expect("a path to a");
    let inbox_before = b.inbox(None).expect("inbox").len();

    let stranger = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut junk = Junk(0x9e37_79b9_7f4a_7c15);
    // Junk of every first byte and many lengths (a forged TRANSPORT frame
    // is `0xA4`, an INIT `0xA1`, ...).
    for first in 0..=255u8 {
        for len in [1, 5, 16, 33, 100, 148, 1046, 1200] {
            let mut d = junk.bytes(len);
            d[0] = first;
            let _ = stranger.send_to(&d, target);
        }
    }
    // HELLOs with a valid mac1 from keys nobody pinned: claiming to be A,
    // and claiming ids that do not exist.
    for init in hellos(&key_b, 30, |_| ida) {
        let _ = stranger.send_to(&init, target);
    }
    for init in hellos(&key_b, 30, |i| {
        PeerId::new(1000 + u64::from(i)).expect("id")
    }) {
        let _ = stranger.send_to(&init, target);
    }

    // The peers keep talking, directly, exactly once; nothing else came in.
    still_talking(&a, ida, &b, idb, 1);
    assert_eq!(b.inbox(None).expect("inbox").len(), inbox_before + 1);
    let path_after = b.path_to(ida).expect("peers").expect("a path to a");
    assert_eq!(path_after.addr, path_before.addr, "the path did not move");
    let peers = b.paths().expect("peers");
    assert!(
        peers.iter().all(|p| p.id == ida),
        "no entry for a stranger: {peers:?}"
    );
    for m in a.outbox().expect("outbox") {
        assert_eq!(m.status, peerd_shared::control::MsgStatus::Delivered);
    }
    // A is not taken for a peer whose key changed.
    let shown = b.peerctl(&["--json", "key", &ida.to_string()]).json();
    assert!(shown.get("offered").is_none(), "{shown}");
}

#[test]
fn a_flood_of_junk_leaves_the_peers_working_and_the_daemon_small() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let b = Daemon::start(server.addr, &tmp.path("b"));
    let (ida, idb) = (a.wait_registered(), b.wait_registered());
    still_talking(&a, ida, &b, idb, 0);
    let (target, key_b) = (udp_of(&b), own_key(&b));
    let pid = b.status().expect("status").pid.expect("pid");
    let rss_before = rss_kib(pid);

    // 1,000 distinct HELLOs (valid mac1, fresh keys, fresh claimed ids),
    // each sent 5 times from 8 sockets, and 50,000 forged TRANSPORT
    // frames: far more than the per-IP handshake limit lets through.
    let inits = hellos(&key_b, 1_000, |i| {
        PeerId::new(5_000 + u64::from(i)).expect("id")
    });
    let sockets: Vec<UdpSocket> = (0..8)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let mut junk = Junk(42);
    for round in 0..5 {
        for (i, init) in inits.iter().enumerate() {
            let _ = sockets[(i + round) % sockets.len()].send_to(init, target);
        }
        for i in 0..10_000 {
            let mut frame = junk.bytes(16 + 5 + (i % 64));
            frame[0] = 0xA4;
            let _ = sockets[i % sockets.len()].send_to(&frame, target);
        }
        // The peers talk during the flood.
        still_talking(&a, ida, &b, idb, round + 1);
    }

    let peers = poll("peers to answer", || b.paths().ok());
    assert!(
        peers.iter().all(|p| p.id == ida),
        "the flood made no entries: {} entries",
        peers.len()
    );
    let grown = rss_kib(pid).saturating_sub(rss_before);
    eprintln!("RSS of the attacked daemon: {rss_before} KiB before, grown by {grown} KiB");
    assert!(
        grown < 32 * 1024,
        "the daemon grew by {grown} KiB under the flood"
    );
    assert!(
        b.logs().len() < 2_000,
        "the log is not flooded: {} lines",
        b.logs().len()
    );
}

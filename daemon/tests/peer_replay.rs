//! Replays on the wire: a daemon talks to its server through a forwarder
//! that records every datagram (what anyone on the path could capture).
//! Replaying them to the server from another address (the REGISTER
//! handshake, the requests on the session, the RELAYs carrying messages)
//! moves nothing and delivers nothing twice: the server keeps the daemon's
//! address, the peer's inbox keeps one copy of each message.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use peerd_shared::PeerId;
use support::{poll, Daemon, Launch, Scratch};

/// Forwards between one daemon and the server, recording what the daemon
/// sends; stops on drop.
struct Forwarder {
    addr: SocketAddr,
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Forwarder {
    fn start(server: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let addr = socket.local_addr().expect("addr");
        let sent = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, done) = (sent.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut client = None;
            let mut buf = [0u8; 2048];
            while !done.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if from == server {
                    if let Some(c) = client {
                        let _ = socket.send_to(&buf[..n], c);
                    }
                } else {
                    client = Some(from);
                    log.lock().expect("log").push(buf[..n].to_vec());
                    let _ = socket.send_to(&buf[..n], server);
                }
            }
        });
        Self {
            addr,
            sent,
            stop,
            thread: Some(thread),
        }
    }

    fn captured(&self) -> Vec<Vec<u8>> {
        self.sent.lock().expect("log").clone()
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Where the server says `peer` is (B's LIST).
fn listed_at(lister: &Daemon, peer: PeerId) -> Option<String> {
    lister
        .list()
        .ok()?
        .into_iter()
        .find(|p| p.id == peer)
        .map(|p| p.addr.to_string())
}

#[test]
fn replayed_handshakes_requests_and_relays_move_nothing_and_deliver_nothing_twice() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let forwarder = Forwarder::start(server.addr);
    // A reaches the server only through the forwarder, and relays every
    // message (so each one crosses the forwarder inside a RELAY).
    let a = Launch::new(forwarder.addr, &tmp.path("a"))
        .args(&[
            "--relay",
            "always",
            "--server-key",
            &server.key().to_string(),
        ])
        .start();
    let b = Daemon::start(server.addr, &tmp.path("b"));
    let (ida, idb) = (a.wait_registered(), b.wait_registered());
    for i in 0..3 {
        a.send(idb, &format!("relayed {i}"), true)
            .expect("delivered through the relay");
    }
    let home = poll("B to list A", || listed_at(&b, ida));
    assert_eq!(
        home,
        forwarder.addr.to_string(),
        "A is where it registered from"
    );
    let captured = forwarder.captured();
    assert!(
        captured.iter().any(|d| d.first() == Some(&0xA1)),
        "an INIT was captured"
    );
    assert!(captured.iter().filter(|d| d.first() == Some(&0xA4)).count() >= 4);

    // Every captured datagram replayed from another address, twice.
    let attacker = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for _ in 0..2 {
        for d in &captured {
            attacker.send_to(d, server.addr).expect("send");
        }
    }
    // The server answered nothing that authenticates to the attacker, and
    // still has A where it was; B has each text once.
    let _ = attacker.set_read_timeout(Some(Duration::from_millis(300)));
    let mut buf = [0u8; 2048];
    while let Ok((n, _)) = attacker.recv_from(&mut buf) {
        assert!(
            buf[0] != 0xA2,
            "a replayed INIT was answered with a handshake: {:02x?}",
            &buf[..n.min(16)]
        );
    }
    a.send(idb, "after the replay", true)
        .expect("still delivered");
    assert_eq!(
        listed_at(&b, ida).as_deref(),
        Some(forwarder.addr.to_string().as_str()),
        "the replays did not move A"
    );
    let texts = b.texts_from(ida);
    for i in 0..3 {
        let text = format!("relayed {i}");
        assert_eq!(texts.iter().filter(|t| **t == text).count(), 1, "{texts:?}");
    }
    assert_eq!(texts.len(), 4, "{texts:?}");
}

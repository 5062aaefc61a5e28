//! Expiry with `--keepalive 2`: a registration not refreshed for 3 x
//! keepalive leaves LIST, CONNECT to it answers `peer_offline`; LIST does
//! not refresh, KEEPALIVE does; a new handshake brings the same id back.
//! (2 s rather than 1: the refreshing peer must never pause for 3
//! keepalives, even on a loaded machine.)

mod support;

use std::time::{Duration, Instant};

use peerd_shared::proto::{Body, ErrorCode};
use support::*;

#[test]
fn silent_peer_expires_after_three_keepalives_and_refreshing_peer_stays() {
    let server = Server::fresh(&["--keepalive", "2"]);
    let mut b = Peer::join(&server);
    // b's last refresh: the server takes it after this instant.
    let refreshed = Instant::now();
    let ack = b.call(Req::Keepalive);
    assert!(matches!(
        ack.body(),
        Body::KeepaliveAck { keepalive: 2, .. }
    ));
    let mut a = Peer::join(&server);
    let mut a_refreshed = Instant::now();
    assert_eq!(a.call(Req::List(0)).listed().0, [(b.id, b.client.addr())]);
    // b sends LIST (not KEEPALIVE): that does not refresh it.
    assert_eq!(b.call(Req::List(0)).listed().0, [(a.id, a.client.addr())]);

    // a refreshes every 500 ms and probes b until b is offline.
    let offline_after = poll_for("b to expire", Duration::from_secs(20), || {
        if a_refreshed.elapsed() > Duration::from_millis(500) {
            a_refreshed = Instant::now();
            assert!(matches!(
                a.call(Req::Keepalive).body(),
                Body::KeepaliveAck { .. }
            ));
        }
        let reply = a.call(Req::Connect(b.id));
        match reply.body() {
            Body::ConnectAck { .. } => None,
            Body::Error {
                code: ErrorCode::PeerOffline,
                ..
            } => Some(refreshed.elapsed()),
            other => panic!("unexpected {other:?}"),
        }
    });
    assert!(
        offline_after >= Duration::from_secs(6),
        "expired after {offline_after:?}, before 3 x keepalive"
    );
    assert_eq!(a.call(Req::List(0)).listed().0, [], "b left LIST");
    assert!(
        matches!(b.next().body(), Body::Intro { from, .. } if from == a.id),
        "b was introduced while online"
    );
    server.wait_for_log(&format!("id {} expired (no refresh for 6 s)", b.id));

    // a, refreshing, is still online; b comes back with its id.
    let id = b.id;
    b.register();
    assert_eq!((b.id, b.keepalive), (id, 2));
    assert_eq!(a.call(Req::List(0)).listed().0, [(b.id, b.client.addr())]);
    assert_eq!(b.call(Req::List(0)).listed().0, [(a.id, a.client.addr())]);
}

#[test]
fn an_expired_peer_gets_no_answer_on_its_session_and_a_handshake_brings_it_back() {
    let server = Server::fresh(&["--keepalive", "1"]);
    let mut b = Peer::join(&server);
    let id = b.id;
    server.wait_for_log(&format!("id {id} expired"));
    // docs/protocol.md 5.1: the server forgot the expired peer's sessions,
    // so a request on one gets no answer (not even an ERROR).
    let seq = b.seq();
    let frame = b.seal(&Peer::encode(&Body::List { seq, after: 0 }));
    b.client.send(&frame);
    b.expect_nothing(std::time::Duration::from_millis(500));
    // A new handshake brings it back with its id.
    b.register();
    assert_eq!(b.id, id, "the same key keeps its id");
    assert!(matches!(b.call(Req::List(0)).body(), Body::ListAck { .. }));
}

//! Idempotent retransmissions (docs/protocol.md 5.2): the same request (same
//! `seq`, same payload) in a new TRANSPORT frame within 30 s gets the same
//! reply and has no second effect. A retried CONNECT sends one INTRO, a
//! retried RELAY forwards once, a retried UNREGISTER is acknowledged
//! again, a retried target error is the same error; the INITs of one
//! REGISTER attempt of a new key give one id.

mod support;

use std::time::Duration;

use peerd_shared::proto::{Body, ErrorCode, Frame, RespPayload};
use peerd_shared::PeerId;
use support::*;

const QUIET: Duration = Duration::from_millis(300);

#[test]
fn retried_connect_sends_one_intro() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let mut b = Peer::join(&server);
    let connect = Body::Connect {
        seq: a.seq(),
        target: b.id,
    };
    let first = a.request(&connect);
    let again = a.request(&connect);
    assert!(matches!(first.body(), Body::ConnectAck { .. }));
    assert_eq!(first, again, "the same reply");
    assert!(matches!(b.next().body(), Body::Intro { from, .. } if from == a.id));
    b.expect_nothing(QUIET);
    server.wait_for_log("CONNECT from id 1 seq");
    server.wait_for_log("retry, same reply again");
    // A new request (a new seq) does introduce again.
    assert!(matches!(
        a.call(Req::Connect(b.id)).body(),
        Body::ConnectAck { .. }
    ));
    assert!(matches!(b.next().body(), Body::Intro { .. }));
}

#[test]
fn retried_relay_is_forwarded_once() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let mut b = Peer::join(&server);
    let relay = Body::Relay {
        seq: a.seq(),
        target: b.id,
        data: b"an encrypted frame for b",
    };
    for _ in 0..3 {
        assert!(matches!(a.request(&relay).body(), Body::RelayAck { .. }));
    }
    assert!(matches!(b.next().body(), Body::Relayed { from, .. } if from == a.id));
    b.expect_nothing(QUIET);
    // Another payload under the same seq is another request.
    let other = Body::Relay {
        seq: relay_seq(&relay),
        target: b.id,
        data: b"another frame",
    };
    assert!(matches!(a.request(&other).body(), Body::RelayAck { .. }));
    assert!(matches!(b.next().body(), Body::Relayed { data, .. } if data == b"another frame"));
}

fn relay_seq(body: &Body<'_>) -> peerd_shared::Seq {
    match body {
        Body::Relay { seq, .. } => *seq,
        other => panic!("not a RELAY: {other:?}"),
    }
}

#[test]
fn retried_unregister_is_acknowledged_again() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let seq = a.seq();
    for _ in 0..2 {
        let reply = a.request(&Body::Unregister { seq });
        assert_eq!(reply.body(), Body::UnregisterAck { seq });
    }
    // A new request after leaving is refused: the peer is offline.
    assert_eq!(a.call(Req::Unregister).code(), ErrorCode::Unauthorized);
}

#[test]
fn retried_target_errors_get_the_same_error() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let connect = Body::Connect {
        seq: a.seq(),
        target: PeerId::new(9).expect("id"),
    };
    let first = a.request(&connect);
    assert_eq!(first.code(), ErrorCode::UnknownPeer);
    assert_eq!(a.request(&connect), first);
    server.wait_for_log("retry, same reply again");
}

#[test]
fn the_inits_of_one_attempt_of_a_new_key_give_one_id() {
    let server = Server::fresh(&[]);
    let c = server.client();
    let mut keys = Keys::new(server.key());
    let inits: Vec<_> = (0..3).map(|_| keys.init()).collect();
    for (bytes, _) in &inits {
        c.send(bytes);
    }
    // The new id is stored first; INITs that come meanwhile replace the
    // one waiting, and each answer is to one of the three.
    let mut ids = Vec::new();
    let mut initiators: Vec<_> = inits.into_iter().map(|(_, i)| i).collect();
    for bytes in c.recv_burst(QUIET) {
        let Ok(Frame::Resp(resp)) = Frame::parse(&bytes) else {
            panic!("not a handshake response: {bytes:02x?}");
        };
        let at = initiators
            .iter()
            .position(|i| i.sender == resp.receiver)
            .expect("answers one of the INITs, once");
        let (_, payload) = initiators
            .swap_remove(at)
            .finish(&keys.identity, &resp)
            .expect("authenticates");
        let RespPayload::Registered { id, .. } = payload else {
            panic!("{payload:?}");
        };
        ids.push(id.get());
    }
    assert!(!ids.is_empty() && ids.iter().all(|&i| i == 1), "{ids:?}");
    let again = Peer::join_with(c, keys);
    assert_eq!(again.id.get(), 1);
    assert_eq!(Peer::join(&server).id.get(), 2, "no id was used twice");
}

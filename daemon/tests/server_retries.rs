//! Idempotent retries (protocol.md 2): an identical datagram from the same
//! address within 30 s gets the same reply and has no second effect. A
//! retried CONNECT sends one INTRO, a retried RELAY forwards once, a retried
//! UNREGISTER is acknowledged again, a retried REGISTER keeps one id.

mod support;

use std::time::Duration;

use peerd_shared::wire::{ErrorCode, Packet};
use support::*;

const QUIET: Duration = Duration::from_millis(300);

#[test]
fn retried_connect_sends_one_intro() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let b = Peer::join(&server);
    let text = a.json("CONNECT", &format!(r#","target":{}"#, b.id));
    let first = a.client.call(&text);
    let again = a.client.call(&text);
    assert!(matches!(first, Packet::ConnectAck { .. }));
    assert_eq!(format!("{first:?}"), format!("{again:?}"), "same reply");
    assert!(matches!(b.client.recv(), Packet::Intro { from, .. } if from == a.id));
    b.client.expect_silence(QUIET);
    server.wait_for_log("retry, same reply again");
    // A new request (new seq) does introduce again.
    assert!(matches!(
        a.call("CONNECT", &format!(r#","target":{}"#, b.id)),
        Packet::ConnectAck { .. }
    ));
    assert!(matches!(b.client.recv(), Packet::Intro { .. }));
}

#[test]
fn retried_relay_is_forwarded_once() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let b = Peer::join(&server);
    let data = format!(
        r#"{{"v":1,"type":"MESSAGE","from":{},"to":{},"msg":1,"text":"hi","ts":5}}"#,
        a.id, b.id
    );
    let text = a.json("RELAY", &format!(r#","target":{},"data":{data}"#, b.id));
    for _ in 0..3 {
        assert!(matches!(a.client.call(&text), Packet::RelayAck { .. }));
    }
    assert!(matches!(b.client.recv(), Packet::Relayed { from, .. } if from == a.id));
    b.client.expect_silence(QUIET);
}

#[test]
fn retried_unregister_is_acknowledged_again() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let text = a.json("UNREGISTER", "");
    let seq = a.next_seq_used();
    for _ in 0..2 {
        assert!(matches!(a.client.call(&text), Packet::UnregisterAck { seq: s } if s == seq));
    }
    // A new request after leaving is refused: the peer is offline.
    assert_eq!(code_of(&a.call("UNREGISTER", "")), ErrorCode::Unauthorized);
    // The same bytes from another address are not a retry.
    let other = server.client();
    assert_eq!(code_of(&other.call(&text)), ErrorCode::Unauthorized);
}

#[test]
fn retried_target_errors_get_the_same_error() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let text = a.json("CONNECT", r#","target":9"#);
    assert_eq!(code_of(&a.client.call(&text)), ErrorCode::UnknownPeer);
    assert_eq!(code_of(&a.client.call(&text)), ErrorCode::UnknownPeer);
}

#[test]
fn retried_register_of_a_new_token_gives_one_id_and_one_answer() {
    let server = Server::fresh(&[]);
    let c = server.client();
    let token = new_token();
    let text = register_json(1, &token);
    for _ in 0..3 {
        c.send(text.as_bytes());
    }
    let mut ids = Vec::new();
    // The first answer waits for the database (a new id is stored first).
    for bytes in c.recv_burst(QUIET) {
        match peerd_shared::wire::decode(&bytes) {
            Ok(Packet::RegisterAck { id, .. }) => ids.push(id.get()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(!ids.is_empty() && ids.iter().all(|&i| i == 1), "{ids:?}");
    // Once registered, a retry is answered again with the same id.
    assert!(matches!(c.call(&text), Packet::RegisterAck { id, .. } if id.get() == 1));
    let next = server.client().call(&register_json(1, &new_token()));
    assert!(matches!(next, Packet::RegisterAck { id, .. } if id.get() == 2));
}

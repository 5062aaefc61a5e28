//! CONNECT (CONNECT_ACK + INTRO), RELAY (RELAYED with `data` unchanged +
//! RELAY_ACK) and UNREGISTER against the real binary, with their target
//! errors: `bad_request` (target is the asker), `unknown_peer`, `peer_offline`.

mod support;

use std::time::Duration;

use peerd_shared::wire::{self, ErrorCode, Packet};
use peerd_shared::Seq;
use support::*;

#[test]
fn connect_answers_the_asker_and_introduces_the_target() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let b = Peer::join(&server);
    let text = a.json("CONNECT", &format!(r#","target":{}"#, b.id));
    let seq = a.next_seq_used();
    let reply = a.client.call(&text);
    assert!(
        matches!(reply, Packet::ConnectAck { seq: s, target, addr } if s == seq && target == b.id && addr == b.client.addr()),
        "{reply:?}"
    );
    let intro = b.client.recv();
    assert!(
        matches!(intro, Packet::Intro { from, addr } if from == a.id && addr == a.client.addr()),
        "{intro:?}"
    );
    server.wait_for_log(&format!("CONNECT id {} -> id {}", a.id, b.id));
}

#[test]
fn relay_forwards_data_byte_for_byte() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let b = Peer::join(&server);
    // Odd spacing, key order and escapes must survive unchanged.
    let data = format!(
        r#"{{ "text" : "h\u00e9 \"x\"",  "type":"MESSAGE","v":1,"from":{},"to":{},"msg":7,"ts":1 }}"#,
        a.id, b.id
    );
    let reply = a.call("RELAY", &format!(r#","target":{},"data":{data}"#, b.id));
    assert!(matches!(reply, Packet::RelayAck { .. }), "{reply:?}");
    let raw = b.client.recv_within(DEADLINE).expect("RELAYED");
    let text = String::from_utf8(raw.clone()).expect("utf-8");
    assert!(text.contains(&data), "data changed: {text}");
    match wire::decode(&raw) {
        Ok(Packet::Relayed { from, data: d }) => {
            assert_eq!(from, a.id);
            assert_eq!(d.get(), data);
        }
        other => panic!("unexpected {other:?}"),
    }
    server.wait_for_log(&format!("RELAY id {} -> id {}", a.id, b.id));
}

#[test]
fn target_errors_for_connect_and_relay() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let mut b = Peer::join(&server);
    let data = r#","data":{"v":1,"type":"MESSAGE_ACK","from":1,"to":2,"msg":1}"#;
    for kind in ["CONNECT", "RELAY"] {
        let extra = |target: u64| {
            format!(
                r#","target":{target}{}"#,
                if kind == "RELAY" { data } else { "" }
            )
        };
        assert_eq!(
            code_of(&a.call(kind, &extra(a.id.get()))),
            ErrorCode::BadRequest,
            "{kind} to self"
        );
        assert_eq!(
            code_of(&a.call(kind, &extra(3))),
            ErrorCode::UnknownPeer,
            "{kind} to a never registered id"
        );
        assert_eq!(
            code_of(&a.call(kind, &extra(9_007_199_254_740_991))),
            ErrorCode::UnknownPeer
        );
    }
    assert!(matches!(
        b.call("UNREGISTER", ""),
        Packet::UnregisterAck { .. }
    ));
    for kind in ["CONNECT", "RELAY"] {
        let extra = format!(
            r#","target":{}{}"#,
            b.id,
            if kind == "RELAY" { data } else { "" }
        );
        assert_eq!(
            code_of(&a.call(kind, &extra)),
            ErrorCode::PeerOffline,
            "{kind} to an unregistered peer"
        );
    }
    b.client.expect_silence(Duration::from_millis(200));
}

#[test]
fn unregister_leaves_now_and_keeps_the_id_reserved() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let mut b = Peer::join(&server);
    let text = b.json("UNREGISTER", "");
    let reply = b.client.call(&text);
    assert!(matches!(reply, Packet::UnregisterAck { seq } if seq == b.next_seq_used()));
    server.wait_for_log(&format!("UNREGISTER id {}", b.id));

    let Packet::ListAck { peers, .. } = a.call("LIST", "") else {
        panic!("LIST failed");
    };
    assert!(peers.is_empty(), "b left LIST: {peers:?}");
    // b is no longer online: its requests are refused until it registers.
    assert_eq!(code_of(&b.call("LIST", "")), ErrorCode::Unauthorized);
    // Registering again gives the same id.
    let again = b.client.call(&register_json(50, &b.token));
    assert!(matches!(again, Packet::RegisterAck { id, seq: Seq(50), .. } if id == b.id));
    assert!(matches!(b.call("LIST", ""), Packet::ListAck { .. }));
}

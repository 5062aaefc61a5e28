//! Every error code the server answers from the wire, and every hostile
//! input of issue 2: not JSON, JSON that is not an object, wrong types, huge
//! numbers, unknown types, wrong version, oversized datagrams, truncated or
//! lying STUN. Each gets the right ERROR (with the right `seq`, never more
//! than 200 bytes larger than the datagram) or silence, and the server keeps
//! serving afterwards. (`rate_limited`: server_rate_limit.rs; `internal`:
//! server_persistence.rs; `peer_offline`/`unknown_peer`: server_connect_relay.rs.)

mod support;

use std::time::Duration;

use peerd_shared::wire::{self, ErrorCode, Packet};
use peerd_shared::Seq;
use support::*;

const QUIET: Duration = Duration::from_millis(150);

/// Sends `bytes` from `c` and checks the single ERROR that comes back.
fn expect_error(c: &Client, bytes: &[u8], code: ErrorCode, seq: u32) {
    c.send(bytes);
    let reply = c
        .recv_within(DEADLINE)
        .unwrap_or_else(|| panic!("no answer to {:?}", String::from_utf8_lossy(bytes)));
    assert!(
        reply.len() <= bytes.len() + 200,
        "ERROR of {} bytes for a datagram of {}",
        reply.len(),
        bytes.len()
    );
    match wire::decode(&reply) {
        Ok(Packet::Error {
            seq: s, code: c, ..
        }) => assert_eq!(
            (c, s),
            (code, Seq(seq)),
            "for {:?}",
            String::from_utf8_lossy(bytes)
        ),
        other => panic!(
            "for {:?}: unexpected {other:?}",
            String::from_utf8_lossy(bytes)
        ),
    }
    c.expect_silence(Duration::from_millis(20));
}

fn expect_silence(c: &Client, bytes: &[u8]) {
    c.send(bytes);
    c.expect_silence(QUIET);
}

#[test]
fn malformed_json_gets_the_right_error_in_protocol_order() {
    let server = Server::fresh(&[]);
    let c = server.client();
    let t = new_token();
    let cases: Vec<(String, ErrorCode, u32)> = vec![
        ("not json".into(), ErrorCode::BadRequest, 0),
        ("x".into(), ErrorCode::BadRequest, 0),
        ("[1,2,3]".into(), ErrorCode::BadRequest, 0),
        ("\"REGISTER\"".into(), ErrorCode::BadRequest, 0),
        ("42".into(), ErrorCode::BadRequest, 0),
        ("null".into(), ErrorCode::BadRequest, 0),
        ("{}".into(), ErrorCode::BadRequest, 0),
        (r#"{"v":1,"type":"REGI"#.into(), ErrorCode::BadRequest, 0),
        ("[".repeat(1000), ErrorCode::BadRequest, 0),
        // v: missing, wrong type, other version (before type and seq).
        (
            r#"{"type":"LIST","seq":3}"#.into(),
            ErrorCode::BadRequest,
            3,
        ),
        (
            r#"{"v":"1","type":"LIST","seq":3}"#.into(),
            ErrorCode::BadRequest,
            3,
        ),
        (
            r#"{"v":1.5,"type":"LIST","seq":3}"#.into(),
            ErrorCode::BadRequest,
            3,
        ),
        (
            r#"{"v":2,"type":"LIST","seq":4}"#.into(),
            ErrorCode::UnsupportedVersion,
            4,
        ),
        (
            r#"{"v":0,"type":"NOPE"}"#.into(),
            ErrorCode::UnsupportedVersion,
            0,
        ),
        (
            r#"{"v":99999999999999999999999,"type":"LIST","seq":4}"#.into(),
            ErrorCode::BadRequest,
            4,
        ),
        // type: missing, wrong type, unknown, not served by the server.
        (r#"{"v":1,"seq":5}"#.into(), ErrorCode::BadRequest, 5),
        (
            r#"{"v":1,"type":7,"seq":5}"#.into(),
            ErrorCode::BadRequest,
            5,
        ),
        (
            r#"{"v":1,"type":"register","seq":5}"#.into(),
            ErrorCode::UnknownType,
            5,
        ),
        (
            r#"{"v":1,"type":"NOPE","seq":5}"#.into(),
            ErrorCode::UnknownType,
            5,
        ),
        (
            r#"{"v":1,"type":"REGISTER_ACK","seq":6}"#.into(),
            ErrorCode::UnknownType,
            6,
        ),
        (
            r#"{"v":1,"type":"LIST_ACK","seq":6,"peers":[],"more":false}"#.into(),
            ErrorCode::UnknownType,
            6,
        ),
        (
            r#"{"v":1,"type":"CONNECT_ACK","seq":"x"}"#.into(),
            ErrorCode::UnknownType,
            0,
        ),
        (
            r#"{"v":1,"type":"INTRO","from":1,"addr":"1.2.3.4:5"}"#.into(),
            ErrorCode::UnknownType,
            0,
        ),
        (
            r#"{"v":1,"type":"RELAYED","from":1,"data":{}}"#.into(),
            ErrorCode::UnknownType,
            0,
        ),
        (
            r#"{"v":1,"type":"PUNCH","from":1,"to":2,"nonce":3}"#.into(),
            ErrorCode::UnknownType,
            0,
        ),
        (
            r#"{"v":1,"type":"MESSAGE","from":1,"to":2,"msg":1,"text":"hi","ts":1}"#.into(),
            ErrorCode::UnknownType,
            0,
        ),
        (
            r#"{"v":1,"type":"MESSAGE_ACK","from":1,"to":2,"msg":1,"seq":9}"#.into(),
            ErrorCode::UnknownType,
            9,
        ),
        // seq: missing, wrong type, out of range, huge.
        (
            format!(r#"{{"v":1,"type":"REGISTER","token":"{t}"}}"#),
            ErrorCode::BadRequest,
            0,
        ),
        (
            format!(r#"{{"v":1,"type":"REGISTER","seq":"1","token":"{t}"}}"#),
            ErrorCode::BadRequest,
            0,
        ),
        (
            format!(r#"{{"v":1,"type":"REGISTER","seq":-1,"token":"{t}"}}"#),
            ErrorCode::BadRequest,
            0,
        ),
        (
            format!(r#"{{"v":1,"type":"REGISTER","seq":4294967296,"token":"{t}"}}"#),
            ErrorCode::BadRequest,
            0,
        ),
        (
            format!(r#"{{"v":1,"type":"REGISTER","seq":1e400,"token":"{t}"}}"#),
            ErrorCode::BadRequest,
            0,
        ),
        (
            format!(r#"{{"v":1,"type":"REGISTER","seq":2.5,"token":"{t}"}}"#),
            ErrorCode::BadRequest,
            0,
        ),
        // other fields: missing, wrong type, out of range, duplicated.
        (
            r#"{"v":1,"type":"REGISTER","seq":7}"#.into(),
            ErrorCode::BadRequest,
            7,
        ),
        (
            r#"{"v":1,"type":"REGISTER","seq":7,"token":12}"#.into(),
            ErrorCode::BadRequest,
            7,
        ),
        (
            format!(
                r#"{{"v":1,"type":"REGISTER","seq":7,"token":"{}"}}"#,
                t.to_uppercase()
            ),
            ErrorCode::BadRequest,
            7,
        ),
        (
            format!(r#"{{"v":1,"type":"REGISTER","seq":7,"token":"{t}0"}}"#),
            ErrorCode::BadRequest,
            7,
        ),
        (
            format!(r#"{{"v":1,"type":"LIST","seq":8,"token":"{t}"}}"#),
            ErrorCode::BadRequest,
            8,
        ),
        (
            format!(r#"{{"v":1,"type":"LIST","seq":8,"id":0,"token":"{t}"}}"#),
            ErrorCode::BadRequest,
            8,
        ),
        (
            format!(r#"{{"v":1,"type":"LIST","seq":8,"id":9007199254740992,"token":"{t}"}}"#),
            ErrorCode::BadRequest,
            8,
        ),
        (
            format!(
                r#"{{"v":1,"type":"LIST","seq":8,"id":99999999999999999999999,"token":"{t}"}}"#
            ),
            ErrorCode::BadRequest,
            8,
        ),
        (
            format!(r#"{{"v":1,"type":"LIST","seq":8,"id":"1","token":"{t}"}}"#),
            ErrorCode::BadRequest,
            8,
        ),
        (
            format!(r#"{{"v":1,"type":"LIST","seq":8,"id":1,"token":"{t}","after":-1}}"#),
            ErrorCode::BadRequest,
            8,
        ),
        (
            format!(r#"{{"v":1,"type":"LIST","seq":8,"id":1,"token":"{t}","after":"2"}}"#),
            ErrorCode::BadRequest,
            8,
        ),
        (
            format!(r#"{{"v":1,"type":"CONNECT","seq":9,"id":1,"token":"{t}"}}"#),
            ErrorCode::BadRequest,
            9,
        ),
        (
            format!(r#"{{"v":1,"type":"CONNECT","seq":9,"id":1,"token":"{t}","target":true}}"#),
            ErrorCode::BadRequest,
            9,
        ),
        (
            format!(
                r#"{{"v":1,"type":"RELAY","seq":9,"id":1,"token":"{t}","target":2,"data":"hi"}}"#
            ),
            ErrorCode::BadRequest,
            9,
        ),
        (
            format!(r#"{{"v":1,"type":"RELAY","seq":9,"id":1,"token":"{t}","target":2}}"#),
            ErrorCode::BadRequest,
            9,
        ),
        (
            format!(r#"{{"v":1,"type":"REGISTER","seq":9,"seq":10,"token":"{t}"}}"#),
            ErrorCode::BadRequest,
            10,
        ),
        // well-formed but not authenticated: unknown id.
        (
            format!(r#"{{"v":1,"type":"LIST","seq":11,"id":5,"token":"{t}"}}"#),
            ErrorCode::Unauthorized,
            11,
        ),
        (
            format!(r#"{{"v":1,"type":"UNREGISTER","seq":11,"id":5,"token":"{t}"}}"#),
            ErrorCode::Unauthorized,
            11,
        ),
    ];
    for (text, code, seq) in &cases {
        expect_error(&c, text.as_bytes(), *code, *seq);
    }
    // Invalid UTF-8 and control bytes.
    expect_error(
        &c,
        b"{\"v\":1,\"type\":\"\xff\xfe\",\"seq\":1}",
        ErrorCode::BadRequest,
        0,
    );
    expect_error(&c, b"\x7f\x00\x00", ErrorCode::BadRequest, 0);
    still_serves(&server);
}

#[test]
fn unauthorized_for_wrong_token_and_wrong_address() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let b = Peer::join(&server);
    let wrong_token = request_json("LIST", 3, a.id, &b.token, "");
    expect_error(
        &a.client,
        wrong_token.as_bytes(),
        ErrorCode::Unauthorized,
        3,
    );
    let other_socket = server.client();
    let right_creds = request_json(
        "CONNECT",
        4,
        a.id,
        &a.token,
        &format!(r#","target":{}"#, b.id),
    );
    expect_error(
        &other_socket,
        right_creds.as_bytes(),
        ErrorCode::Unauthorized,
        4,
    );
    b.client.expect_silence(QUIET);
    assert!(matches!(a.call("LIST", ""), Packet::ListAck { .. }));
}

#[test]
fn errors_are_never_answered() {
    let server = Server::fresh(&[]);
    let c = server.client();
    for text in [
        r#"{"v":1,"type":"ERROR","seq":1,"code":"bad_request","message":"x"}"#,
        r#"{"v":1,"type":"ERROR","seq":1}"#,
        r#"{"v":1,"type":"ERROR"}"#,
        r#"{"v":7,"type":"ERROR","seq":1,"code":"internal"}"#,
    ] {
        expect_silence(&c, text.as_bytes());
    }
    still_serves(&server);
}

#[test]
fn oversized_datagrams() {
    let server = Server::fresh(&[]);
    let c = server.client();
    let pad = "x".repeat(1300);
    let with_seq = format!(r#"{{"v":1,"type":"LIST","seq":12,"pad":"{pad}"}}"#);
    expect_error(&c, with_seq.as_bytes(), ErrorCode::TooLarge, 12);
    let wrong_version = format!(r#"{{"v":3,"type":"LIST","seq":13,"pad":"{pad}"}}"#);
    expect_error(&c, wrong_version.as_bytes(), ErrorCode::TooLarge, 13);
    // No readable seq, not an object, not JSON: dropped.
    expect_silence(
        &c,
        format!(r#"{{"v":1,"type":"LIST","pad":"{pad}"}}"#).as_bytes(),
    );
    expect_silence(&c, format!(r#"["{pad}"]"#).as_bytes());
    expect_silence(&c, pad.as_bytes());
    expect_silence(&c, &vec![b'{'; 60_000]);
    // Exactly at the limit is fine.
    let mut exact = r#"{"v":1,"type":"NOPE","seq":14,"p":""}"#.to_string();
    let fill = wire::MAX_DATAGRAM - exact.len();
    exact.insert_str(exact.len() - 2, &"y".repeat(fill));
    assert_eq!(exact.len(), wire::MAX_DATAGRAM);
    expect_error(&c, exact.as_bytes(), ErrorCode::UnknownType, 14);
    still_serves(&server);
}

#[test]
fn hostile_stun_is_dropped_and_the_server_keeps_serving() {
    let server = Server::fresh(&[]);
    let c = server.client();
    let good = peerd_shared::stun::binding_request([7; 12]);
    let mut lying_length = good;
    lying_length[3] = 200;
    let mut odd_length = good;
    odd_length[3] = 3;
    let mut response = good;
    response[0] = 0x01;
    response[1] = 0x01;
    let mut truncated_attr = good.to_vec();
    truncated_attr[3] = 8;
    truncated_attr.extend_from_slice(&[0x00, 0x20, 0x00, 0x40, 1, 2, 3, 4]);
    let mut oversized = good.to_vec();
    oversized.resize(1400, 0);
    oversized[2..4].copy_from_slice(&u16::try_from(1380).unwrap().to_be_bytes());
    for bytes in [
        &[0x00][..],
        &[0x01, 0x01][..],
        &good[..19],
        &lying_length[..],
        &odd_length[..],
        &response[..],
        &truncated_attr[..],
        &oversized[..],
    ] {
        expect_silence(&c, bytes);
    }
    // A correct one is still answered.
    c.send(&good);
    let answer = c.recv_within(DEADLINE).expect("STUN answer");
    let parsed = peerd_shared::stun::parse_binding_response(&answer).expect("a Binding response");
    assert_eq!(parsed.mapped, c.addr());
    still_serves(&server);
}

#[test]
fn empty_datagram_is_ignored() {
    let server = Server::fresh(&[]);
    let c = server.client();
    expect_silence(&c, b"");
    still_serves(&server);
}

fn still_serves(server: &Server) {
    let p = Peer::join(server);
    assert!(p.id.get() >= 1);
}

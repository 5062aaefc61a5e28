//! The error codes a peer gets from the wire (docs/protocol.md 5.3, 5.4),
//! each with the right `seq`: `bad_request` for malformed fields,
//! `unknown_type` for kinds the server does not serve, nothing at all for
//! reply kinds; and the one `unsupported_version` answer to protocol v1
//! JSON, byte for byte, never longer than what it answers. The server
//! keeps serving afterwards. (`bad_request` for a self-target,
//! `unknown_peer`, `peer_offline`, `unauthorized`:
//! server_connect_relay.rs; `rate_limited`: server_rate_limit.rs;
//! `internal`: server_persistence.rs. `too_large` cannot be provoked: a
//! RELAY that arrived always fits, section 5.3.)

mod support;

use std::time::Duration;

use peerd_shared::proto::{Body, ErrorCode};
use peerd_shared::Seq;
use support::*;

const QUIET: Duration = Duration::from_millis(300);

/// `kind ‖ seq ‖ rest`.
fn payload(kind: u8, seq: u32, rest: &[u8]) -> Vec<u8> {
    let mut p = vec![kind];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(rest);
    p
}

/// Sends `payload` and checks the ERROR answering it.
fn expect_error(p: &mut Peer, payload: &[u8], code: ErrorCode, seq: u32) {
    let reply = p.exchange(payload, Seq(seq));
    match reply.body() {
        Body::Error {
            code: c, message, ..
        } => {
            assert_eq!(c, code, "for {payload:02x?}");
            assert!(!message.is_empty() && message.len() <= 160, "{message:?}");
        }
        other => panic!("for {payload:02x?}: {other:?}"),
    }
}

#[test]
fn malformed_requests_get_bad_request_with_their_seq() {
    let server = Server::fresh(&[]);
    let mut p = Peer::join(&server);
    let id_max = ((1u64 << 53) - 1).to_be_bytes();
    let cases: Vec<(Vec<u8>, u32)> = vec![
        (vec![0x10], 0),
        (vec![0x10, 0, 0, 7], 0),
        (vec![0x13, 1], 0),
        (payload(0x11, 11, &[]), 11),
        (payload(0x11, 12, &[0; 7]), 12),
        (payload(0x12, 13, &[]), 13),
        (payload(0x12, 14, &0u64.to_be_bytes()), 14),
        (payload(0x12, 15, &(1u64 << 53).to_be_bytes()), 15),
        (payload(0x12, 16, &u64::MAX.to_be_bytes()), 16),
        (payload(0x14, 17, &2u64.to_be_bytes()), 17),
        (payload(0x14, 18, &0u64.to_be_bytes()), 18),
        (payload(0x14, 19, &id_max[..5]), 19),
    ];
    for (bytes, seq) in &cases {
        expect_error(&mut p, bytes, ErrorCode::BadRequest, *seq);
    }
    // Bytes after the last field are ignored.
    let reply = p.exchange(&payload(0x10, 20, b"trailing"), Seq(20));
    assert!(matches!(reply.body(), Body::KeepaliveAck { .. }));
    server.wait_for_log(&format!("request from id {}: bad_request", p.id));
}

#[test]
fn kinds_the_server_does_not_serve_get_unknown_type() {
    let server = Server::fresh(&[]);
    let mut p = Peer::join(&server);
    // Peer-to-peer kinds, handshake payload kinds, unknown kinds: `seq`
    // is bytes 1 .. 5 when the payload has them.
    for (i, kind) in [0x20, 0x21, 0x22, 0x23, 0x01, 0x02, 0x00, 0x15, 0x7F]
        .into_iter()
        .enumerate()
    {
        let seq = 100 + i as u32;
        expect_error(
            &mut p,
            &payload(kind, seq, &[0; 16]),
            ErrorCode::UnknownType,
            seq,
        );
    }
    expect_error(&mut p, &[0x7F, 1, 2, 3], ErrorCode::UnknownType, 0);
    server.wait_for_log("unknown_type: MESSAGE");
}

#[test]
fn a_peer_to_peer_kind_is_unknown_type_whatever_its_fields() {
    let server = Server::fresh(&[]);
    let mut p = Peer::join(&server);
    expect_error(&mut p, &[0x20], ErrorCode::UnknownType, 0);
    expect_error(&mut p, &payload(0x22, 5, &[]), ErrorCode::UnknownType, 5);
    expect_error(
        &mut p,
        &payload(0x20, 6, &[0; 16 + 1]),
        ErrorCode::UnknownType,
        6,
    );
}

#[test]
fn reply_kinds_are_never_answered() {
    let server = Server::fresh(&[]);
    let mut p = Peer::join(&server);
    for kind in [
        0x80, 0x81, 0x82, 0x90, 0x91, 0x92, 0x93, 0x94, 0x98, 0x99, 0x9F, 0xFF,
    ] {
        let frame = p.seal(&payload(kind, 1, &[0; 32]));
        p.client.send(&frame);
    }
    p.expect_nothing(QUIET);
    assert!(matches!(
        p.call(Req::Keepalive).body(),
        Body::KeepaliveAck { .. }
    ));
}

/// The server's answer to a v1 datagram whose `seq` reads as `seq`.
fn v1_answer(seq: u64) -> String {
    format!(
        "{{\"v\":1,\"type\":\"ERROR\",\"seq\":{seq},\"code\":\"unsupported_version\",\
         \"message\":\"this server speaks peerd protocol v2\"}}"
    )
}

#[test]
fn protocol_v1_json_gets_one_unsupported_version_answer() {
    let server = Server::fresh(&[]);
    let pad = format!(",\"pad\":\"{}\"", "x".repeat(120));
    let token = "00112233445566778899aabbccddeeff";
    let cases: Vec<(String, u64)> = vec![
        (
            format!(r#"{{"v":1,"type":"REGISTER","seq":7,"token":"{token}"{pad}}}"#),
            7,
        ),
        (format!(r#"{{"seq":4294967295{pad}}}"#), 4_294_967_295),
        (format!(r#"{{"seq":0{pad}}}"#), 0),
        (format!(r#"{{"seq":9,"seq":10{pad}}}"#), 10),
        (format!(r#"{{"seq":4294967296{pad}}}"#), 0),
        (format!(r#"{{"seq":-1{pad}}}"#), 0),
        (format!(r#"{{"seq":2.5{pad}}}"#), 0),
        (format!(r#"{{"seq":1e3{pad}}}"#), 0),
        (format!(r#"{{"seq":"5"{pad}}}"#), 0),
        (format!(r#"{{"x":{{"seq":5}}{pad}}}"#), 0),
        (format!(r#"{{"v":1,"type":"LIST"{pad}}}"#), 0),
        (format!(r#"{{not json{pad}"#), 0),
    ];
    for (text, seq) in &cases {
        // A fresh socket each: at most 10 answers per second per source.
        let c = server.client();
        c.send(text.as_bytes());
        let answer = String::from_utf8(c.recv()).expect("utf-8");
        assert_eq!(answer, v1_answer(*seq), "for {text}");
        assert!(answer.len() <= text.len());
        c.expect_silence(Duration::from_millis(50));
    }
    // Never longer than the datagram: exactly as long is answered, one
    // byte shorter is not.
    let exact = format!(
        r#"{{"seq":3,"p":"{}"}}"#,
        "y".repeat(v1_answer(3).len() - 16)
    );
    assert_eq!(exact.len(), v1_answer(3).len());
    let c = server.client();
    c.send(exact.as_bytes());
    assert_eq!(c.recv(), v1_answer(3).as_bytes());
    let short = server.client();
    short.send_unanswered(&exact.as_bytes()[1..], QUIET);
    short.send_unanswered(b"{}", QUIET);
    server.wait_for_log("unsupported_version");
    assert_eq!(Peer::join(&server).id.get(), 1, "still serving");
}

#[test]
fn an_oversized_v1_datagram_is_dropped() {
    let server = Server::fresh(&[]);
    let text = format!(r#"{{"v":1,"seq":4,"pad":"{}"}}"#, "x".repeat(1200));
    server.client().send_unanswered(text.as_bytes(), QUIET);
}

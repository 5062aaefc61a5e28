//! Unit tests of the protocol core on a fake clock: every row of
//! protocol.md 2.2 and the error paths, without sockets.

use super::*;
use std::time::Duration;

pub(super) const KEEPALIVE: Duration = Duration::from_secs(10);

pub(super) struct Harness {
    reg: Registry,
    epoch: Instant,
    out: ReplyBuffer,
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn token(n: u8) -> String {
    format!("{n:02x}").repeat(16)
}

fn id(n: u64) -> PeerId {
    PeerId::new(n).expect("valid id")
}

impl Harness {
    fn new() -> Self {
        Self::with(Limits {
            keepalive: KEEPALIVE,
            rate_per_source: 0,
            burst_per_source: 1,
            global_rate: 0,
            replay_capacity: 1024,
        })
    }

    pub(super) fn with(limits: Limits) -> Self {
        let epoch = Instant::now();
        Self {
            reg: Registry::new(limits, [], epoch),
            epoch,
            out: ReplyBuffer::new(),
        }
    }

    /// Sends `text` from port `from` at `secs`; returns the answers.
    pub(super) fn send(&mut self, from: u16, secs: f64, text: &str) -> Vec<(SocketAddr, Packet)> {
        self.out.clear();
        let now = self.epoch + Duration::from_secs_f64(secs);
        self.reg
            .handle(text.as_bytes(), addr(from), now, &mut self.out);
        self.drain()
    }

    fn drain(&mut self) -> Vec<(SocketAddr, Packet)> {
        self.out
            .datagrams()
            .map(|(to, b)| (to, wire::decode(b).expect("server output decodes")))
            .collect()
    }

    /// Stores pending ids (or fails them) and returns the answers.
    fn durable(&mut self, ok: bool) -> Vec<(SocketAddr, Packet)> {
        let ids: Vec<PeerId> = self.out.persist.iter().map(|(i, _)| *i).collect();
        self.out.clear();
        self.reg.on_durable(&ids, ok, &mut self.out);
        self.drain()
    }

    /// Registers a new token `n` from port `port` at time 0; returns its id.
    fn join(&mut self, n: u8, port: u16) -> PeerId {
        assert!(self.send(port, 0.0, &register(1, n)).is_empty());
        match self.durable(true).as_slice() {
            [(_, Packet::RegisterAck { id, .. })] => *id,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn register(seq: u32, n: u8) -> String {
    format!(
        r#"{{"v":1,"type":"REGISTER","seq":{seq},"token":"{}"}}"#,
        token(n)
    )
}

fn req(kind: &str, seq: u32, me: u64, n: u8, extra: &str) -> String {
    format!(
        r#"{{"v":1,"type":"{kind}","seq":{seq},"id":{me},"token":"{}"{extra}}}"#,
        token(n)
    )
}

pub(super) fn error_code(replies: &[(SocketAddr, Packet)]) -> (ErrorCode, Seq) {
    match replies {
        [(_, Packet::Error { code, seq, .. })] => (*code, *seq),
        other => panic!("expected one ERROR, got {other:?}"),
    }
}

#[test]
fn new_tokens_get_dense_ids_once_durable_and_refresh_is_immediate() {
    let mut h = Harness::new();
    assert_eq!(h.join(1, 1001), id(1));
    assert_eq!(h.join(2, 1002), id(2));
    match h.send(1003, 1.0, &register(9, 1)).as_slice() {
        [(
            to,
            Packet::RegisterAck {
                seq,
                id: i,
                addr: a,
                keepalive,
            },
        )] => {
            assert_eq!(
                (*to, *seq, *i, *a, *keepalive),
                (addr(1003), Seq(9), id(1), addr(1003), 10)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_retried_pending_register_is_answered_only_when_durable() {
    let mut h = Harness::new();
    assert!(h.send(7, 0.0, &register(1, 5)).is_empty());
    assert!(h.send(7, 0.1, &register(1, 5)).is_empty());
    assert_eq!(
        h.out.persist.len(),
        0,
        "the retry must not store a second id"
    );
    h.out.persist.push((id(1), Token([5; 16])));
    let acks = h.durable(true);
    assert_eq!(acks.len(), 1, "same source and seq answered once: {acks:?}");
    assert!(matches!(acks[0].1, Packet::RegisterAck { id: i, .. } if i == id(1)));
}

#[test]
fn a_failed_commit_answers_internal_and_burns_the_id() {
    let mut h = Harness::new();
    h.send(7, 0.0, &register(3, 5));
    assert_eq!(error_code(&h.durable(false)), (ErrorCode::Internal, Seq(3)));
    assert_eq!(h.join(5, 7), id(2));
    let r = h.send(7, 0.0, &req("CONNECT", 1, 2, 5, r#","target":1"#));
    assert_eq!(error_code(&r).0, ErrorCode::UnknownPeer);
}

#[test]
fn list_pages_ascending_without_the_asker() {
    let mut h = Harness::new();
    for n in 1..=120u8 {
        h.join(n, 2000 + u16::from(n));
    }
    let mut after = 0u64;
    let mut seen = vec![];
    loop {
        let r = h.send(
            2001,
            1.0,
            &req("LIST", 5, 1, 1, &format!(r#","after":{after}"#)),
        );
        let [(_, Packet::ListAck { seq, peers, more })] = r.as_slice() else {
            panic!("unexpected {r:?}");
        };
        assert_eq!(*seq, Seq(5));
        seen.extend(peers.iter().map(|p| p.id.get()));
        if !more {
            break;
        }
        after = peers
            .last()
            .expect("a page with more is not empty")
            .id
            .get();
    }
    assert_eq!(seen, (2..=120).collect::<Vec<_>>());
}

#[test]
fn connect_introduces_both_sides_once() {
    let mut h = Harness::new();
    h.join(1, 11);
    h.join(2, 12);
    let c = req("CONNECT", 8, 1, 1, r#","target":2"#);
    let r = h.send(11, 1.0, &c);
    assert_eq!(r.len(), 2);
    assert!(
        matches!(r[0], (to, Packet::ConnectAck { seq: Seq(8), target, addr: a }) if to == addr(11) && target == id(2) && a == addr(12))
    );
    assert!(
        matches!(r[1], (to, Packet::Intro { from, addr: a }) if to == addr(12) && from == id(1) && a == addr(11))
    );
    let again = h.send(11, 2.0, &c);
    assert_eq!(again.len(), 1, "a retry gets the ack only: {again:?}");
    assert!(matches!(again[0].1, Packet::ConnectAck { seq: Seq(8), .. }));
}

#[test]
fn authentication_and_target_checks_in_order() {
    let mut h = Harness::new();
    h.join(1, 11);
    h.join(2, 12);
    let wrong_token = req("LIST", 1, 1, 2, "");
    assert_eq!(
        error_code(&h.send(11, 1.0, &wrong_token)).0,
        ErrorCode::Unauthorized
    );
    let wrong_addr = req("LIST", 2, 1, 1, "");
    assert_eq!(
        error_code(&h.send(99, 1.0, &wrong_addr)).0,
        ErrorCode::Unauthorized
    );
    let unknown_id = req("LIST", 3, 7, 1, "");
    assert_eq!(
        error_code(&h.send(11, 1.0, &unknown_id)).0,
        ErrorCode::Unauthorized
    );
    let to_self = req("CONNECT", 4, 1, 1, r#","target":1"#);
    assert_eq!(
        error_code(&h.send(11, 1.0, &to_self)),
        (ErrorCode::BadRequest, Seq(4))
    );
    let unknown = req("CONNECT", 5, 1, 1, r#","target":3"#);
    assert_eq!(
        error_code(&h.send(11, 1.0, &unknown)).0,
        ErrorCode::UnknownPeer
    );
    // Authentication comes before the target.
    let both_bad = req("CONNECT", 6, 1, 2, r#","target":3"#);
    assert_eq!(
        error_code(&h.send(11, 1.0, &both_bad)).0,
        ErrorCode::Unauthorized
    );
    let bye = req("UNREGISTER", 7, 2, 2, "");
    assert!(matches!(
        h.send(12, 1.0, &bye)[0].1,
        Packet::UnregisterAck { seq: Seq(7) }
    ));
    assert!(matches!(
        h.send(12, 2.0, &bye)[0].1,
        Packet::UnregisterAck { seq: Seq(7) }
    ));
    let offline = req("CONNECT", 8, 1, 1, r#","target":2"#);
    assert_eq!(
        error_code(&h.send(11, 1.0, &offline)).0,
        ErrorCode::PeerOffline
    );
    let after_bye = req("LIST", 9, 2, 2, "");
    assert_eq!(
        error_code(&h.send(12, 3.0, &after_bye)).0,
        ErrorCode::Unauthorized
    );
}

#[test]
fn expiry_after_three_keepalives_since_the_last_register() {
    let mut h = Harness::new();
    h.join(1, 11);
    h.join(2, 12);
    h.send(12, 5.0, &register(2, 2));
    let c = |seq| req("CONNECT", seq, 1, 1, r#","target":2"#);
    h.send(11, 29.0, &register(3, 1));
    assert_eq!(
        h.send(11, 34.9, &c(1)).len(),
        2,
        "still online just before 35 s"
    );
    assert_eq!(
        error_code(&h.send(11, 35.0, &c(2))).0,
        ErrorCode::PeerOffline
    );
    h.reg.sweep(h.epoch + Duration::from_secs(35));
    assert_eq!(h.reg.online_count(), 1);
    assert!(h.reg.peers.is_registered(id(2)), "the id stays reserved");
}

#[test]
fn relay_forwards_data_unchanged_or_refuses_oversize() {
    let mut h = Harness::new();
    h.join(1, 11);
    h.join(2, 12);
    let data = r#"{"v":1,"type":"MESSAGE_ACK","from":1,"to":2,"msg":3}"#;
    let r = h.send(
        11,
        1.0,
        &req("RELAY", 4, 1, 1, &format!(r#","target":2,"data":{data}"#)),
    );
    match r.as_slice() {
        [(to, Packet::Relayed { from, data: d }), (_, Packet::RelayAck { seq: Seq(4) })] => {
            assert_eq!((*to, *from, d.get()), (addr(12), id(1), data));
        }
        other => panic!("unexpected {other:?}"),
    }
    // RELAYED is always shorter than the RELAY carrying it, so the only
    // reachable too_large is an oversized RELAY.
    let big = format!(r#","target":2,"data":{{"pad":"{}"}}"#, "x".repeat(1200));
    let r = h.send(11, 1.0, &req("RELAY", 5, 1, 1, &big));
    assert_eq!(error_code(&r), (ErrorCode::TooLarge, Seq(5)));
}

#[test]
fn replies_and_peer_messages_are_unknown_type_and_errors_are_never_answered() {
    let mut h = Harness::new();
    let ack = r#"{"v":1,"type":"RELAY_ACK","seq":12}"#;
    assert_eq!(
        error_code(&h.send(1, 0.0, ack)),
        (ErrorCode::UnknownType, Seq(12))
    );
    let broken_ack = r#"{"v":1,"type":"REGISTER_ACK","seq":13}"#;
    assert_eq!(
        error_code(&h.send(1, 0.0, broken_ack)),
        (ErrorCode::UnknownType, Seq(13))
    );
    let punch = r#"{"v":1,"type":"PUNCH","from":1,"to":2,"nonce":3}"#;
    assert_eq!(
        error_code(&h.send(1, 0.0, punch)),
        (ErrorCode::UnknownType, Seq(0))
    );
    assert!(h
        .send(
            1,
            0.0,
            r#"{"v":1,"type":"ERROR","seq":1,"code":"x","message":""}"#
        )
        .is_empty());
    assert!(h.send(1, 0.0, r#"{"v":1,"type":"ERROR"}"#).is_empty());
    assert!(h
        .send(1, 0.0, r#"{"v":2,"type":"ERROR","seq":1}"#)
        .is_empty());
    let v2 = r#"{"v":2,"type":"RELAY_ACK","seq":3}"#;
    assert_eq!(
        error_code(&h.send(1, 0.0, v2)),
        (ErrorCode::UnsupportedVersion, Seq(3))
    );
}

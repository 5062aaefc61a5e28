//! The requests of docs/protocol.md 5.2 and their errors, the replay cache,
//! replayed frames and what the server does not serve (expiry, roaming,
//! forged frames, session age and rate limiting are in `sessions.rs`).

use super::*;
use peerd_shared::proto::frame::MAX_PAYLOAD;
use peerd_shared::proto::ErrorCode;

#[test]
fn keepalive_refreshes_and_reports_the_observed_address() {
    let mut h = Harness::new();
    let mut a = h.join(1, 5001, 0.0);
    let ex = a.ask(&mut h, 1.0, &Body::Keepalive { seq: seq(9) });
    assert_eq!(
        ex.reply(),
        &Body::KeepaliveAck {
            seq: seq(9),
            keepalive: 10,
            addr: addr(5001)
        }
    );
}

#[test]
fn list_pages_every_online_peer_but_the_asker() {
    let mut h = Harness::new();
    let mut a = h.join(1, 5001, 0.0);
    for n in 2..=120u8 {
        h.join(n, 5000 + u16::from(n), 0.0);
    }
    let mut seen = Vec::new();
    let mut after = 0;
    for round in 0.. {
        assert!(round < 10, "paging ends");
        let ex = a.ask(
            &mut h,
            1.0,
            &Body::List {
                seq: seq(round),
                after,
            },
        );
        let Body::ListAck { peers, more, .. } = ex.reply().clone() else {
            panic!()
        };
        assert!(!peers.is_empty() || !more, "no empty page with more");
        seen.extend(peers.iter().map(|(i, _)| i.get()));
        match (more, peers.last()) {
            (true, Some((last, _))) => after = last.get(),
            _ => break,
        }
    }
    assert_eq!(seen, (2..=120).collect::<Vec<_>>());
    // A page fills its frame: 2..120 takes more than one.
    let ex = a.ask(
        &mut h,
        1.0,
        &Body::List {
            seq: seq(99),
            after: 0,
        },
    );
    let Body::ListAck { peers, more, .. } = ex.reply() else {
        panic!()
    };
    assert!(*more && peers.len() * 15 + 8 > MAX_PAYLOAD - 15);
}

#[test]
fn connect_gives_key_and_address_and_introduces_the_asker_once() {
    let mut h = Harness::new();
    let mut a = h.join(1, 5001, 0.0);
    let mut b = h.join(2, 5002, 0.0);
    let frame = a.frame(&Body::Connect {
        seq: seq(3),
        target: id(2),
    });
    let ex = a.deliver(&mut h, 1.0, &frame);
    assert_eq!(
        ex.reply(),
        &Body::ConnectAck {
            seq: seq(3),
            target: id(2),
            key: b.identity.public,
            addr: addr(5002)
        }
    );
    let [(to, intro)] = ex.others.as_slice() else {
        panic!("{:?}", ex.others)
    };
    assert_eq!(*to, addr(5002));
    assert_eq!(
        b.open(intro),
        Some(Body::Intro {
            from: id(1),
            key: a.identity.public,
            addr: addr(5001)
        })
    );
    // A retransmission (same seq and payload, new frame): same reply, no
    // second INTRO. The same frame again: a replay, dropped.
    let retry = a.ask(
        &mut h,
        2.0,
        &Body::Connect {
            seq: seq(3),
            target: id(2),
        },
    );
    assert!(matches!(retry.reply(), Body::ConnectAck { .. }));
    assert!(retry.others.is_empty());
    assert!(h.send(5001, 2.0, &frame).is_empty());
}

#[test]
fn connect_and_relay_target_errors() {
    let mut h = Harness::new();
    let mut a = h.join(1, 5001, 0.0);
    let mut b = h.join(2, 5002, 0.0);
    b.ask(&mut h, 0.5, &Body::Unregister { seq: seq(1) });
    let cases = [
        (id(1), ErrorCode::BadRequest),
        (id(9), ErrorCode::UnknownPeer),
        (id(2), ErrorCode::PeerOffline),
    ];
    for (i, (target, code)) in cases.into_iter().enumerate() {
        let ex = a.ask(
            &mut h,
            1.0,
            &Body::Connect {
                seq: seq(10 + i as u32),
                target,
            },
        );
        assert_eq!(error_code(ex.reply()), Some(code), "CONNECT {target}");
        let ex = a.ask(
            &mut h,
            1.0,
            &Body::Relay {
                seq: seq(20 + i as u32),
                target,
                data: b"x",
            },
        );
        assert_eq!(error_code(ex.reply()), Some(code), "RELAY {target}");
        assert!(ex.others.is_empty());
    }
}

#[test]
fn relay_forwards_the_bytes_once_even_the_largest() {
    let mut h = Harness::new();
    let mut a = h.join(1, 5001, 0.0);
    let mut b = h.join(2, 5002, 0.0);
    let data = vec![0xA4; 1000];
    let body = Body::Relay {
        seq: seq(4),
        target: id(2),
        data: &data,
    };
    let ex = a.ask(&mut h, 1.0, &body);
    assert_eq!(ex.reply(), &Body::RelayAck { seq: seq(4) });
    let [(to, relayed)] = ex.others.as_slice() else {
        panic!()
    };
    assert_eq!(*to, addr(5002));
    assert_eq!(
        b.open(relayed),
        Some(Body::Relayed {
            from: id(1),
            data: Box::leak(data.clone().into_boxed_slice())
        })
    );
    let retry = a.ask(&mut h, 1.5, &body);
    assert_eq!(retry.reply(), &Body::RelayAck { seq: seq(4) });
    assert!(
        retry.others.is_empty(),
        "a retransmitted RELAY is not forwarded twice"
    );
    // The largest RELAY fits its frame, and RELAYED is 4 bytes shorter:
    // it always fits (the too_large check can never fire).
    let big = vec![0u8; MAX_PAYLOAD - 13];
    let ex = a.ask(
        &mut h,
        2.0,
        &Body::Relay {
            seq: seq(5),
            target: id(2),
            data: &big,
        },
    );
    assert_eq!(ex.reply(), &Body::RelayAck { seq: seq(5) });
    assert_eq!(ex.others[0].1.len(), peerd_shared::proto::MAX_DATAGRAM - 4);
}

#[test]
fn unregister_is_acknowledged_again_and_keepalive_comes_back() {
    let mut h = Harness::new();
    let mut a = h.join(1, 5001, 0.0);
    let mut b = h.join(2, 5002, 0.0);
    let body = Body::Unregister { seq: seq(7) };
    assert_eq!(
        b.ask(&mut h, 1.0, &body).reply(),
        &Body::UnregisterAck { seq: seq(7) }
    );
    assert_eq!(
        b.ask(&mut h, 1.2, &body).reply(),
        &Body::UnregisterAck { seq: seq(7) }
    );
    let ex = b.ask(
        &mut h,
        1.5,
        &Body::List {
            seq: seq(8),
            after: 0,
        },
    );
    assert_eq!(error_code(ex.reply()), Some(ErrorCode::Unauthorized));
    let ex = a.ask(
        &mut h,
        1.5,
        &Body::List {
            seq: seq(1),
            after: 0,
        },
    );
    assert!(matches!(ex.reply(), Body::ListAck { peers, .. } if peers.is_empty()));
    b.ask(&mut h, 2.0, &Body::Keepalive { seq: seq(9) });
    let ex = a.ask(
        &mut h,
        2.5,
        &Body::List {
            seq: seq(2),
            after: 0,
        },
    );
    assert!(matches!(ex.reply(), Body::ListAck { peers, .. } if peers.len() == 1));
    // The id stays reserved for the key.
    assert_eq!(h.reg.peers.id_of(&b.identity.public), Some(id(2)));
}

#[test]
fn what_the_server_does_not_serve_is_refused_and_errors_never_answered() {
    let mut h = Harness::new();
    let mut a = h.join(1, 5001, 0.0);
    let ex = a.ask(
        &mut h,
        1.0,
        &Body::Message {
            msg: peerd_shared::MsgId(1),
            ts: 0,
            text: "hi",
        },
    );
    assert_eq!(error_code(ex.reply()), Some(ErrorCode::UnknownType));
    let ex = a.ask(
        &mut h,
        1.0,
        &Body::Error {
            seq: seq(1),
            code: ErrorCode::Internal,
            message: "x",
        },
    );
    assert!(ex.mine.is_empty());
    let mut raw = |payload: &[u8]| {
        let mut out = Vec::new();
        a.session.as_mut().unwrap().seal(payload, &mut out).unwrap();
        a.deliver(&mut h, 1.0, &out)
    };
    let ex = raw(&[0x12, 0, 0, 0, 5, 1]);
    assert_eq!(
        ex.reply(),
        &Body::Error {
            seq: seq(5),
            code: ErrorCode::BadRequest,
            message: "malformed request"
        }
    );
    let ex = raw(&[0x5A, 0, 0, 0, 6]);
    assert_eq!(
        ex.reply(),
        &Body::Error {
            seq: seq(6),
            code: ErrorCode::UnknownType,
            message: "unknown request kind"
        }
    );
    for reply_kind in [0x90u8, 0x99, 0xC7, 0xFF] {
        assert!(
            raw(&[reply_kind, 0, 0, 0, 7]).mine.is_empty(),
            "kind {reply_kind:#x}"
        );
    }
}

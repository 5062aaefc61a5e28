//! Registration by handshake (docs/protocol.md 3, 5.1), the checks of
//! section 3.3 in order, cookies under load, KEY_REQUEST and protocol v1.

use super::*;
use peerd_shared::proto::cookie::open_reply;
use peerd_shared::proto::frame::{key_request, KEY_REPLY_LEN};
use peerd_shared::proto::ErrorCode;

#[test]
fn new_keys_get_ids_from_one_once_stored_and_the_same_key_keeps_its_id() {
    let mut h = Harness::new();
    let mut a = Client::new(1, 5001, h.server);
    let (init, hs) = a.init(None);
    assert!(
        h.send(5001, 0.0, &init).is_empty(),
        "a new key waits for the disk"
    );
    assert_eq!(h.new_ids(), [id(1)]);
    let answers = h.durable(true, 0.1);
    let [(to, resp)] = answers.as_slice() else {
        panic!("{answers:?}")
    };
    assert_eq!(*to, addr(5001));
    assert_eq!(
        a.finish(hs, resp),
        RespPayload::Registered {
            id: id(1),
            keepalive: 10,
            addr: addr(5001)
        }
    );
    let b = h.join(2, 5002, 0.2);
    assert_eq!(b.id, Some(id(2)));
    // The same key again (a restarted daemon, another port): same id, at once.
    let mut a2 = Client::new(1, 6001, h.server);
    a2.ts = a.ts;
    let again = a2.register(&mut h, 0.3);
    assert!(
        matches!(again, RespPayload::Registered { id: i, addr: at, .. } if i == id(1) && at == addr(6001))
    );
    assert_eq!(h.reg.online_count(), 2);
}

#[test]
fn a_failed_commit_refuses_with_internal_and_burns_the_id() {
    let mut h = Harness::new();
    let mut a = Client::new(1, 5001, h.server);
    let (init, hs) = a.init(None);
    assert!(h.send(5001, 0.0, &init).is_empty());
    let answers = h.durable(false, 0.1);
    let [(_, resp)] = answers.as_slice() else {
        panic!("{answers:?}")
    };
    assert!(matches!(
        a.finish(hs, resp),
        RespPayload::Refused {
            code: ErrorCode::Internal,
            ..
        }
    ));
    assert!(a.session.is_none());
    assert!(resp.len() <= init.len(), "no amplification");
    assert_eq!(
        a.register(&mut h, 1.0),
        RespPayload::Registered {
            id: id(2),
            keepalive: 10,
            addr: addr(5001)
        }
    );
}

#[test]
fn a_replayed_or_older_handshake_has_no_effect() {
    let mut h = Harness::new();
    let mut a = Client::new(1, 5001, h.server);
    a.register(&mut h, 0.0);
    let (init, hs) = a.init(None);
    let answers = h.send(5001, 1.0, &init);
    let [(_, resp)] = answers.as_slice() else {
        panic!()
    };
    a.finish(hs, resp);
    // The captured INIT again, from an attacker's address: nothing.
    assert!(h.send(7777, 2.0, &init).is_empty());
    assert_eq!(h.reg.peers.online(id(1)).map(|p| p.addr), Some(addr(5001)));
    // An older timestamp: nothing either.
    a.ts -= 5;
    let (old, _) = a.init(None);
    assert!(h.send(5001, 3.0, &old).is_empty());
    // The session still works.
    let ex = a.ask(&mut h, 4.0, &Body::Keepalive { seq: seq(1) });
    assert!(matches!(ex.reply(), Body::KeepaliveAck { .. }));
}

#[test]
fn junk_and_bad_mac1_create_no_state_and_get_no_answer() {
    let mut h = Harness::new();
    let mut a = Client::new(1, 5001, h.server);
    let (mut init, _) = a.init(None);
    let n = init.len();
    init[n - 20] ^= 1; // inside mac1
    assert!(h.send(5001, 0.0, &init).is_empty());
    let (mut init, _) = a.init(None);
    init[40] ^= 1; // inside the Noise message, mac1 recomputed by nobody
    assert!(h.send(5001, 0.0, &init).is_empty());
    for junk in [
        &[0xA1u8; 142][..],
        &[0xA4; 60],
        &[0xA2; 100],
        &[0xFF; 50],
        &[0xA3; 61],
    ] {
        assert!(h.send(5001, 0.0, junk).is_empty());
    }
    assert!(h.new_ids().is_empty());
    assert_eq!(h.reg.pending.len(), 0);
    assert_eq!(h.reg.peers.assigned(), 0);
}

#[test]
fn a_retry_while_the_new_id_is_stored_is_answered_and_its_timestamp_kept() {
    let mut h = Harness::new();
    let mut a = Client::new(1, 5001, h.server);
    let (first, _) = a.init(None);
    assert!(h.send(5001, 0.0, &first).is_empty());
    assert_eq!(h.new_ids(), [id(1)]);
    let (retry, hs) = a.init(None);
    assert!(
        h.send(5001, 0.1, &retry).is_empty(),
        "still waiting for the disk"
    );
    // The row being stored holds the first try's timestamp: the retry's
    // goes to disk too, or a replay of it would pass after a restart.
    assert_eq!(
        h.out.persist,
        [Persist::Timestamp {
            id: id(1),
            ts: a.ts
        }]
    );
    h.out.clear();
    let now = h.at(0.2);
    h.reg.on_durable(&[id(1)], true, now, &mut h.out);
    let answers = h.drain();
    let [(_, resp)] = answers.as_slice() else {
        panic!("{answers:?}")
    };
    assert!(matches!(a.finish(hs, resp), RespPayload::Registered { .. }));
}

#[test]
fn under_load_a_cookie_is_demanded_and_then_accepted() {
    let mut h = Harness::with(Limits {
        cookie_threshold: 1,
        ..limits()
    });
    let mut a = h.join(1, 5001, 0.0);
    let mut b = Client::new(2, 5002, h.server);
    let (init, hs) = b.init(None);
    let answers = h.send(5002, 0.5, &init);
    let [(to, reply)] = answers.as_slice() else {
        panic!("{answers:?}")
    };
    assert_eq!(*to, addr(5002));
    assert!(
        reply.len() < init.len(),
        "a cookie reply is smaller than the INIT"
    );
    assert!(h.new_ids().is_empty(), "no state, no Diffie-Hellman");
    let Ok(Frame::Cookie(c)) = Frame::parse(reply) else {
        panic!("not a cookie reply")
    };
    assert_eq!(c.receiver, hs.sender);
    let cookie = open_reply(&h.server, &c, &hs.mac1).expect("the cookie opens");
    let (init, hs) = b.init(Some(&cookie));
    assert!(h.send(5002, 0.6, &init).is_empty());
    let answers = h.durable(true, 0.6);
    let [(_, resp)] = answers.as_slice() else {
        panic!()
    };
    assert!(matches!(b.finish(hs, resp), RespPayload::Registered { .. }));
    // The cookie is bound to its source: from another port it is refused.
    let mut b2 = Client::new(2, 5003, h.server);
    b2.ts = b.ts;
    let (init, _) = b2.init(Some(&cookie));
    let answers = h.send(5003, 0.7, &init);
    assert!(matches!(Frame::parse(&answers[0].1), Ok(Frame::Cookie(_))));
    // Established peers keep working under load.
    let ex = a.ask(&mut h, 0.8, &Body::Keepalive { seq: seq(1) });
    assert!(matches!(ex.reply(), Body::KeepaliveAck { .. }));
}

#[test]
fn handshakes_are_limited_per_source_ip() {
    let mut h = Harness::with(Limits {
        handshake_rate: 2,
        ..limits()
    });
    let mut answered = 0;
    for n in 1..=10u8 {
        let mut c = Client::new(n, 5000 + u16::from(n), h.server);
        let (init, _) = c.init(None);
        h.send(5000 + u16::from(n), 0.0, &init);
        answered += h.new_ids().len();
    }
    assert_eq!(answered, 4, "a burst of twice the rate, from one IP");
}

#[test]
fn key_requests_get_the_key_and_short_ones_nothing() {
    let mut h = Harness::new();
    let answers = h.send(5001, 0.0, &key_request());
    let [(_, reply)] = answers.as_slice() else {
        panic!()
    };
    assert_eq!(reply.len(), KEY_REPLY_LEN);
    assert!(matches!(Frame::parse(reply), Ok(Frame::KeyReply(k)) if k == h.server));
    assert!(h.send(5001, 0.0, &key_request()[..63]).is_empty());
}

#[test]
fn protocol_v1_gets_one_small_unsupported_version_or_nothing() {
    let mut h = Harness::new();
    let v1 = br#"{"v":1,"type":"REGISTER","seq":77,"token":"00112233445566778899aabbccddeeff","pad":"xxxxxxxxxxxxxxxxxxxxxxxx"}"#;
    let answers = h.send(5001, 0.0, v1);
    let [(_, reply)] = answers.as_slice() else {
        panic!("{answers:?}")
    };
    assert!(reply.len() <= v1.len());
    let v: serde_json::Value = serde_json::from_slice(reply).unwrap();
    assert_eq!(v["code"], "unsupported_version");
    assert_eq!(v["seq"], 77);
    assert!(
        h.send(5001, 0.0, br#"{"v":1}"#).is_empty(),
        "too short to answer"
    );
    for _ in 0..20 {
        h.send(5001, 0.0, v1);
    }
    assert!(
        h.send(5001, 0.0, v1).is_empty(),
        "at most 10 answers a second"
    );
}

#[test]
fn stun_is_still_answered_on_the_same_port() {
    let mut h = Harness::new();
    let mut req = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    req.extend_from_slice(&[7; 12]);
    let answers = h.send(5001, 0.0, &req);
    let [(_, reply)] = answers.as_slice() else {
        panic!()
    };
    assert_eq!(&reply[..2], &[0x01, 0x01], "a Binding Success Response");
    assert_eq!(&reply[8..20], &[7; 12]);
}

#[test]
fn a_register_answered_twice_keeps_intro_on_the_session_the_daemon_kept() {
    let mut h = Harness::new();
    let mut a = h.join(1, 5001, 0.0);
    let mut b = h.join(2, 5002, 0.0);
    // B's first REGISTER answer is slow; B retries; both get answered, and
    // B keeps the first one it reads (docs/protocol.md 3).
    let (first, hs1) = b.init(None);
    let (second, _hs2) = b.init(None);
    let r1 = h.send(5002, 1.0, &first);
    let _late = h.send(5002, 1.1, &second);
    b.finish(hs1, &r1[0].1);
    // B confirms the session it kept, at once.
    let ex = b.ask(&mut h, 1.2, &Body::Keepalive { seq: seq(1) });
    assert!(matches!(ex.reply(), Body::KeepaliveAck { .. }));
    // An INTRO for B goes on that session.
    let ex = a.ask(
        &mut h,
        1.3,
        &Body::Connect {
            seq: seq(2),
            target: id(2),
        },
    );
    let [(_, intro)] = ex.others.as_slice() else {
        panic!("{:?}", ex.others)
    };
    assert!(
        matches!(b.open(intro), Some(Body::Intro { .. })),
        "B can read its INTRO"
    );
    // The second answer's session, never confirmed, is forgotten in time.
    h.sweep(20.0);
    let ex = a.ask(
        &mut h,
        20.5,
        &Body::Connect {
            seq: seq(3),
            target: id(2),
        },
    );
    assert!(matches!(b.open(&ex.others[0].1), Some(Body::Intro { .. })));
}

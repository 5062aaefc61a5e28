//! Sessions of online peers over time: expiry, roaming (and forged frames
//! that must not move an address), session age, rate limiting.

use super::*;
use peerd_shared::proto::ErrorCode;

#[test]
fn silent_peers_expire_after_three_keepalives_and_lose_their_session() {
    let mut h = Harness::new();
    let mut a = h.join(1, 5001, 0.0);
    let mut b = h.join(2, 5002, 0.0);
    b.ask(&mut h, 20.0, &Body::Keepalive { seq: seq(1) });
    let ex = a.ask(
        &mut h,
        29.9,
        &Body::Connect {
            seq: seq(1),
            target: id(2),
        },
    );
    assert!(matches!(ex.reply(), Body::ConnectAck { .. }));
    h.sweep(30.0);
    assert!(h.reg.peers.online(id(1)).is_none(), "a expired at 30 s");
    assert!(
        h.send(5001, 30.5, &a.frame(&Body::Keepalive { seq: seq(2) }))
            .is_empty(),
        "its session is gone"
    );
    let ex = b.ask(
        &mut h,
        31.0,
        &Body::Connect {
            seq: seq(2),
            target: id(1),
        },
    );
    assert_eq!(error_code(ex.reply()), Some(ErrorCode::PeerOffline));
    a.register(&mut h, 32.0);
    let ex = b.ask(
        &mut h,
        33.0,
        &Body::Connect {
            seq: seq(3),
            target: id(1),
        },
    );
    assert!(matches!(ex.reply(), Body::ConnectAck { .. }));
}

#[test]
fn authenticated_frames_move_the_address_and_forged_ones_do_not() {
    let mut h = Harness::new();
    let mut a = h.join(1, 5001, 0.0);
    let frame = a.frame(&Body::Keepalive { seq: seq(1) });
    let mut forged = frame.clone();
    forged[20] ^= 1;
    assert!(h.send(6666, 1.0, &forged).is_empty());
    assert_eq!(h.reg.peers.online(id(1)).map(|p| p.addr), Some(addr(5001)));
    a.port = 5999; // the NAT gave a new port
    let ex = a.deliver(&mut h, 1.0, &frame);
    assert_eq!(
        ex.reply(),
        &Body::KeepaliveAck {
            seq: seq(1),
            keepalive: 10,
            addr: addr(5999)
        }
    );
    assert!(
        h.send(6666, 1.1, &frame).is_empty(),
        "a replay from elsewhere moves nothing"
    );
    assert_eq!(h.reg.peers.online(id(1)).map(|p| p.addr), Some(addr(5999)));
}

#[test]
fn sessions_older_than_reject_after_are_refused() {
    let mut h = Harness::with(Limits {
        keepalive: Duration::from_secs(3600),
        ..limits()
    });
    let mut a = h.join(1, 5001, 0.0);
    let ex = a.ask(&mut h, 899.0, &Body::Keepalive { seq: seq(1) });
    assert!(matches!(ex.reply(), Body::KeepaliveAck { .. }));
    assert!(h
        .send(5001, 900.0, &a.frame(&Body::Keepalive { seq: seq(2) }))
        .is_empty());
    a.register(&mut h, 901.0);
    let ex = a.ask(&mut h, 902.0, &Body::Keepalive { seq: seq(3) });
    assert!(matches!(ex.reply(), Body::KeepaliveAck { .. }));
}

#[test]
fn authenticated_floods_get_rate_limited_replies() {
    let mut h = Harness::with(Limits {
        rate_per_source: 5,
        burst_per_source: 5,
        ..limits()
    });
    let mut a = h.join(1, 5001, 0.0);
    let codes: Vec<_> = (0..8)
        .map(|i| {
            let ex = a.ask(&mut h, 1.0, &Body::Keepalive { seq: seq(i) });
            ex.mine.first().map(error_code)
        })
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == Some(None)).count(),
        5,
        "the burst: {codes:?}"
    );
    assert!(codes.contains(&Some(Some(ErrorCode::RateLimited))));
}

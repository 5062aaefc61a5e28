//! CONNECT (CONNECT_ACK with the target's key and address, INTRO with the
//! asker's), RELAY (RELAYED with `data` unchanged, RELAY_ACK) and
//! UNREGISTER against the real binary, with their target errors:
//! `bad_request` (the target is the asker), `unknown_peer`, `peer_offline`,
//! and `unauthorized` for an unregistered asker.

mod support;

use std::time::Duration;

use peerd_shared::proto::frame::{MAX_PAYLOAD, TRANSPORT_OVERHEAD};
use peerd_shared::proto::{Body, ErrorCode, MAX_DATAGRAM};
use peerd_shared::PeerId;
use support::*;

const QUIET: Duration = Duration::from_millis(300);

#[test]
fn connect_answers_the_asker_and_introduces_the_target() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let mut b = Peer::join(&server);
    let seq = a.seq();
    let reply = a.request(&Body::Connect { seq, target: b.id });
    assert_eq!(
        reply.body(),
        Body::ConnectAck {
            seq,
            target: b.id,
            key: b.keys.public(),
            addr: b.client.addr()
        }
    );
    assert_eq!(
        b.next().body(),
        Body::Intro {
            from: a.id,
            key: a.keys.public(),
            addr: a.client.addr()
        }
    );
    server.wait_for_log(&format!("CONNECT id {} -> id {}", a.id, b.id));
}

#[test]
fn relay_forwards_data_byte_for_byte() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let mut b = Peer::join(&server);
    // The server cannot read relayed frames and does not look at them:
    // any bytes, up to the largest RELAY a frame holds.
    let largest = MAX_PAYLOAD - (1 + 4 + 8);
    for data in [
        vec![0u8],
        (0..=255u8).collect::<Vec<u8>>(),
        vec![0xA4; largest],
    ] {
        let reply = a.call(Req::Relay(b.id, &data));
        assert!(
            matches!(reply.body(), Body::RelayAck { .. }),
            "{:?}",
            reply.body()
        );
        let relayed = b.next();
        assert!(relayed.0.len() + TRANSPORT_OVERHEAD <= MAX_DATAGRAM);
        assert_eq!(
            relayed.body(),
            Body::Relayed {
                from: a.id,
                data: &data
            }
        );
    }
    server.wait_for_log(&format!(
        "RELAY id {} -> id {}: {largest} bytes",
        a.id, b.id
    ));
}

#[test]
fn target_errors_for_connect_and_relay() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let mut b = Peer::join(&server);
    let never = PeerId::new(3).expect("id");
    let largest = PeerId::new((1 << 53) - 1).expect("the largest id");
    let reqs = |target| [Req::Connect(target), Req::Relay(target, b"frame")];
    for req in reqs(a.id) {
        assert_eq!(a.call(req).code(), ErrorCode::BadRequest, "{req:?} to self");
    }
    for req in reqs(never).into_iter().chain(reqs(largest)) {
        assert_eq!(a.call(req).code(), ErrorCode::UnknownPeer, "{req:?}");
    }
    assert!(matches!(
        b.call(Req::Unregister).body(),
        Body::UnregisterAck { .. }
    ));
    for req in reqs(b.id) {
        assert_eq!(a.call(req).code(), ErrorCode::PeerOffline, "{req:?}");
    }
    b.expect_nothing(QUIET);
    server.wait_for_log(&format!("CONNECT id {} -> id {}: peer_offline", a.id, b.id));
}

#[test]
fn unregister_leaves_now_and_keeps_the_id_reserved() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let mut b = Peer::join(&server);
    let seq = b.seq();
    let reply = b.request(&Body::Unregister { seq });
    assert_eq!(reply.body(), Body::UnregisterAck { seq });
    server.wait_for_log(&format!("UNREGISTER id {}", b.id));

    assert_eq!(
        a.call(Req::List(0)).listed(),
        (vec![], false),
        "b left LIST"
    );
    // Offline, b may only KEEPALIVE (or handshake) its way back.
    for req in [
        Req::List(0),
        Req::Connect(a.id),
        Req::Relay(a.id, b"x"),
        Req::Unregister,
    ] {
        assert_eq!(b.call(req).code(), ErrorCode::Unauthorized, "{req:?}");
    }
    a.expect_nothing(QUIET);
    assert!(matches!(
        b.call(Req::Keepalive).body(),
        Body::KeepaliveAck { .. }
    ));
    assert_eq!(a.call(Req::List(0)).listed().0, [(b.id, b.client.addr())]);

    // Unregistered again, a new handshake brings back the same id.
    b.call(Req::Unregister);
    let id = b.id;
    b.register();
    assert_eq!(b.id, id);
    assert_eq!(a.call(Req::List(0)).listed().0, [(b.id, b.client.addr())]);
}

//! IPv6: a server on `[::1]` serves REGISTER handshakes, KEEPALIVE, LIST,
//! CONNECT (with INTRO), RELAY, KEY_REQUEST and STUN with IPv6 addresses
//! (`ADDR` family 6), and a forged or replayed frame from another IPv6
//! socket neither answers nor moves anyone; a dual-stack server on `[::]`
//! serves IPv4 and IPv6 clients together, writes an IPv4 client's address
//! as family 4 (never `::ffff:a.b.c.d`) and introduces and relays across
//! the two families. Each test is skipped, with a line on stderr, on a
//! machine without an IPv6 loopback.

mod support;

use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use peerd_shared::proto::frame::key_request;
use peerd_shared::proto::{Body, Frame};
use support::*;

const QUIET: Duration = Duration::from_millis(300);

/// The family byte of the `ADDR` in a KEEPALIVE_ACK payload (kind, seq,
/// keepalive, then `ADDR`), checked against the payload's length.
fn ack_family(ack: &Payload) -> u8 {
    assert!(matches!(ack.body(), Body::KeepaliveAck { .. }));
    let family = ack.0[7];
    let len = match family {
        4 => 1 + 4 + 2 + 7,
        6 => 1 + 4 + 2 + 19,
        other => panic!("family {other}"),
    };
    assert_eq!(ack.0.len(), len);
    family
}

#[test]
fn server_on_ipv6_loopback() {
    if !ipv6_loopback_or_skip("server_on_ipv6_loopback") {
        return;
    }
    let server = Server::fresh_at("[::1]:0", "info", &[]);
    assert!(server.addr.is_ipv6(), "listening on {}", server.addr);
    let mut a = Peer::join(&server);
    let mut b = Peer::join(&server);
    assert!(a.client.addr().is_ipv6());
    assert_eq!(a.seen_as, a.client.addr(), "REGISTERED carries [::1]:port");
    let ack = a.call(Req::Keepalive);
    assert_eq!(ack_family(&ack), 6);
    assert!(matches!(ack.body(), Body::KeepaliveAck { addr, .. } if addr == a.client.addr()));
    server.wait_for_log(&format!("REGISTER from {} -> id {}", a.client.addr(), a.id));

    assert_eq!(
        a.call(Req::List(0)).listed(),
        (vec![(b.id, b.client.addr())], false)
    );
    let reply = a.call(Req::Connect(b.id));
    assert!(
        matches!(reply.body(), Body::ConnectAck { addr, key, .. } if addr == b.client.addr() && key == b.keys.public()),
        "{:?}",
        reply.body()
    );
    assert_eq!(
        b.next().body(),
        Body::Intro {
            from: a.id,
            key: a.keys.public(),
            addr: a.client.addr()
        }
    );
    assert!(matches!(
        a.call(Req::Relay(b.id, b"over IPv6")).body(),
        Body::RelayAck { .. }
    ));
    assert_eq!(
        b.next().body(),
        Body::Relayed {
            from: a.id,
            data: b"over IPv6"
        }
    );

    let raw = server.client();
    raw.send(&key_request());
    assert!(matches!(Frame::parse(&raw.recv()), Ok(Frame::KeyReply(k)) if k == server.key()));
    raw.send(&peerd_shared::stun::binding_request([3; 12]));
    let parsed = peerd_shared::stun::parse_binding_response(&raw.recv()).expect("binding response");
    assert_eq!(parsed.mapped, raw.addr());

    // From another IPv6 socket: b's frame with a flipped tag bit, and a
    // genuine frame of b's replayed. Neither is answered; b stays where it
    // is.
    let seq = b.seq();
    let genuine = b.seal(&Peer::encode(&Body::Keepalive { seq }));
    b.client.send(&genuine);
    let mut forged = genuine.clone();
    *forged.last_mut().expect("a frame") ^= 1;
    raw.send_unanswered(&forged, QUIET);
    raw.send_unanswered(&genuine, QUIET);
    assert_eq!(
        a.call(Req::List(0)).listed().0,
        [(b.id, b.client.addr())],
        "b was not moved"
    );
    assert!(
        matches!(b.call(Req::Keepalive).body(), Body::KeepaliveAck { addr, .. } if addr == b.client.addr())
    );
}

#[test]
fn dual_stack_server_serves_both_families_and_writes_ipv4_as_ipv4() {
    if !ipv6_loopback_or_skip("dual_stack_server_serves_both_families_and_writes_ipv4_as_ipv4") {
        return;
    }
    let server = Server::fresh_at("[::]:0", "info", &[]);
    let port = server.addr.port();
    let key = server.key();
    let v4 = Client::new(SocketAddr::from(([127, 0, 0, 1], port)));
    let v6 = Client::new(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
    let mut p4 = Peer::join_with(v4, Keys::new(key));
    let mut p6 = Peer::join_with(v6, Keys::new(key));
    assert!(p4.seen_as.is_ipv4(), "{}", p4.seen_as);
    assert_eq!(p4.seen_as, p4.client.addr());
    assert_eq!(p6.seen_as, p6.client.addr());
    assert_eq!(ack_family(&p4.call(Req::Keepalive)), 4, "never ::ffff:");
    assert_eq!(ack_family(&p6.call(Req::Keepalive)), 6);
    server.wait_for_log(&format!(
        "REGISTER from {} -> id {}",
        p4.client.addr(),
        p4.id
    ));
    assert!(
        !server.logs().join("\n").contains("::ffff:"),
        "IPv4 sources are logged as IPv4"
    );

    assert_eq!(
        p6.call(Req::List(0)).listed().0,
        [(p4.id, p4.client.addr())]
    );
    assert_eq!(
        p4.call(Req::List(0)).listed().0,
        [(p6.id, p6.client.addr())]
    );

    // Introductions and the relay across the families.
    let reply = p6.call(Req::Connect(p4.id));
    assert!(
        matches!(reply.body(), Body::ConnectAck { addr, .. } if addr == p4.client.addr()),
        "{:?}",
        reply.body()
    );
    assert!(
        matches!(p4.next().body(), Body::Intro { from, addr, .. } if from == p6.id && addr == p6.client.addr())
    );
    assert!(matches!(
        p4.call(Req::Relay(p6.id, b"v4 to v6")).body(),
        Body::RelayAck { .. }
    ));
    assert_eq!(
        p6.next().body(),
        Body::Relayed {
            from: p4.id,
            data: b"v4 to v6"
        }
    );

    // STUN over IPv4 on the dual-stack socket maps to the IPv4 address.
    let stun = Client::new(SocketAddr::from(([127, 0, 0, 1], port)));
    stun.send(&peerd_shared::stun::binding_request([4; 12]));
    let parsed =
        peerd_shared::stun::parse_binding_response(&stun.recv()).expect("binding response");
    assert_eq!(parsed.mapped, stun.addr());
}

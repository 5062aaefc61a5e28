//! IPv6: a server on `[::1]` serves REGISTER/LIST/CONNECT/STUN with IPv6
//! addresses written `[ip]:port`; a dual-stack server on `[::]` answers
//! IPv4 clients with their address as plain IPv4 (never `::ffff:`).

mod support;

use std::net::SocketAddr;

use peerd_shared::wire::Packet;
use support::*;

#[test]
fn server_on_ipv6_loopback() {
    let server = Server::fresh_at("[::1]:0", "info", &[]);
    assert!(server.addr.is_ipv6(), "listening on {}", server.addr);
    let mut a = Peer::join(&server);
    let b = Peer::join(&server);
    assert!(a.client.addr().is_ipv6());
    let raw_ack = {
        let c = &b.client;
        c.send(register_json(4, &b.token).as_bytes());
        String::from_utf8(c.recv_within(DEADLINE).expect("ack")).expect("utf-8")
    };
    assert!(
        raw_ack.contains(&format!("\"addr\":\"[::1]:{}\"", b.client.addr().port())),
        "{raw_ack}"
    );

    let Packet::ListAck { peers, .. } = a.call("LIST", "") else {
        panic!("LIST failed");
    };
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].addr, b.client.addr());
    let reply = a.call("CONNECT", &format!(r#","target":{}"#, b.id));
    assert!(matches!(reply, Packet::ConnectAck { addr, .. } if addr == b.client.addr()));
    assert!(matches!(b.client.recv(), Packet::Intro { addr, .. } if addr == a.client.addr()));

    let stun = server.client();
    stun.send(&peerd_shared::stun::binding_request([3; 12]));
    let answer = stun.recv_within(DEADLINE).expect("STUN answer");
    let parsed = peerd_shared::stun::parse_binding_response(&answer).expect("binding response");
    assert_eq!(parsed.mapped, stun.addr());
}

#[test]
fn dual_stack_server_writes_ipv4_clients_as_ipv4() {
    let server = Server::fresh_at("[::]:0", "info", &[]);
    let v4 = Client::new(SocketAddr::from(([127, 0, 0, 1], server.addr.port())));
    let token = new_token();
    v4.send(register_json(1, &token).as_bytes());
    let raw =
        String::from_utf8(v4.recv_within(DEADLINE).expect("an answer over IPv4")).expect("utf-8");
    assert!(
        raw.contains(&format!("\"addr\":\"{}\"", v4.addr())),
        "{raw}"
    );
    assert!(!raw.contains("ffff"), "{raw}");
    let v6 = Client::new(SocketAddr::from((
        std::net::Ipv6Addr::LOCALHOST,
        server.addr.port(),
    )));
    let peer6 = Peer::join_with(v6, new_token());
    let list = request_json("LIST", 2, peer6.id, &peer6.token, "");
    let Packet::ListAck { peers, .. } = peer6.client.call(&list) else {
        panic!("LIST failed");
    };
    assert_eq!(peers[0].addr, v4.addr(), "the IPv4 peer is listed as IPv4");
    // STUN over IPv4 on the dual-stack socket maps to the IPv4 address.
    v4.send(&peerd_shared::stun::binding_request([4; 12]));
    let answer = v4.recv_within(DEADLINE).expect("STUN answer");
    let parsed = peerd_shared::stun::parse_binding_response(&answer).expect("binding response");
    assert_eq!(parsed.mapped, v4.addr());
}

//! Hole punching by hand across the lab's NATs: raw sockets speak protocol
//! v2 (docs/protocol.md 3, 5 and 6) through the real `peerd server`:
//! REGISTER handshake, CONNECT -> CONNECT_ACK + INTRO (each side learns the
//! other's key and public address), then each side sends a new HELLO
//! HANDSHAKE_INIT to that address every 200 ms for at most 3 s, answers the
//! other's HELLOs with HELLO_ACK, confirms a session it initiated with a
//! PROBE, and answers PROBEs. A side has a direct path once a
//! HANDSHAKE_RESP to its own INIT or an authenticated TRANSPORT frame
//! arrived from the peer directly (a received INIT proves nothing).
//!
//! This pins down what issue 4's matrix may expect from the lab,
//! independently of the daemon: a direct path for public-public,
//! public-cone, public-symmetric and cone-cone; none for cone-symmetric
//! and symmetric-symmetric; and no hairpinning behind one router (two
//! hosts there reach each other only on their private addresses).

mod lab;
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lab::{lab_or_skip, Host, Kind, Lab};
use peerd_shared::proto::frame::{Init, Resp, Transport};
use peerd_shared::proto::handshake::accept;
use peerd_shared::proto::{
    Body, Frame, InitPayload, Initiator, PublicKey, RespPayload, Session, PEER_WINDOW_WORDS,
};
use peerd_shared::PeerId;
use support::{Peer, Req};

/// HELLO period and punch window of protocol.md 6.
const PUNCH_EVERY: Duration = Duration::from_millis(200);
const PUNCH_WINDOW: Duration = Duration::from_secs(3);

type PeerSession = Session<PEER_WINDOW_WORDS>;

/// One side of a punch: a registered raw peer, the peer it was introduced
/// to, and the handshakes and sessions between them.
struct Side {
    me: Peer,
    other: PeerId,
    other_key: PublicKey,
    /// The address the server introduced.
    target: SocketAddr,
    /// HELLOs sent and not yet answered.
    pending: Vec<Initiator>,
    sessions: Vec<PeerSession>,
    /// The newest HELLO timestamp accepted from the other side.
    last_hello: u64,
    /// The last session index used (each side numbers its own).
    next_index: u32,
    /// Where an authenticated frame of the peer came from directly, once
    /// one did: the direct path.
    heard: Option<SocketAddr>,
}

impl Side {
    fn new(me: Peer, other: PeerId, other_key: PublicKey, target: SocketAddr) -> Self {
        Self {
            me,
            other,
            other_key,
            target,
            pending: Vec::new(),
            sessions: Vec::new(),
            last_hello: 0,
            next_index: 0,
            heard: None,
        }
    }

    fn send(&self, bytes: &[u8], to: SocketAddr) {
        self.me.client.socket.send_to(bytes, to).expect("send");
    }

    fn index(&mut self) -> u32 {
        self.next_index += 1;
        self.next_index
    }

    /// One punch: a new HELLO to the introduced address.
    fn punch(&mut self) {
        let hello = InitPayload::Hello {
            timestamp: self.me.keys.timestamp(),
            from: self.me.id,
        };
        let index = self.index();
        let (bytes, init) = Initiator::start(
            &self.me.keys.identity,
            &self.other_key,
            index,
            &hello,
            None,
            None,
        )
        .expect("a HELLO fits a datagram");
        self.pending.push(init);
        self.send(&bytes, self.target);
    }

    /// Handles what arrives within `wait` from anyone but the server.
    fn poll(&mut self, wait: Duration) {
        let server = self.me.client.server;
        let got = lab::recv_matching(&self.me.client.socket, wait, |buf, src| {
            (src != server).then(|| (buf.to_vec(), src))
        });
        let Ok((bytes, src)) = got else { return };
        match Frame::parse(&bytes) {
            Ok(Frame::Init(init)) => self.answer(&init, src),
            Ok(Frame::Resp(resp)) => self.answered(&resp, src),
            Ok(Frame::Transport(t)) => self.transport(&t, src),
            _ => {}
        }
    }

    /// A HELLO: answered with HELLO_ACK when it is the introduced peer's
    /// key and a new timestamp. It records no path (protocol.md 6).
    fn answer(&mut self, init: &Init<'_>, src: SocketAddr) {
        let Ok(accepted) = accept(&self.me.keys.identity, init) else {
            return;
        };
        let InitPayload::Hello { timestamp, from } = accepted.payload else {
            return;
        };
        if from != self.other || accepted.initiator != self.other_key {
            return;
        }
        if timestamp <= self.last_hello {
            return;
        }
        self.last_hello = timestamp;
        let (local, remote) = (self.index(), accepted.initiator_index);
        let ack = RespPayload::HelloAck { from: self.me.id };
        let (bytes, keys) = accepted.respond(local, &ack).expect("a HELLO_ACK");
        self.sessions.push(Session::new(keys, local, remote));
        self.send(&bytes, src);
    }

    /// A HELLO_ACK to one of our HELLOs: a session, confirmed at once with
    /// a PROBE, and a direct path to where it came from.
    fn answered(&mut self, resp: &Resp<'_>, src: SocketAddr) {
        let Some(at) = self.pending.iter().position(|i| i.sender == resp.receiver) else {
            return;
        };
        let init = self.pending.swap_remove(at);
        let local = init.sender;
        let Ok((keys, RespPayload::HelloAck { from })) = init.finish(&self.me.keys.identity, resp)
        else {
            return;
        };
        if from != self.other {
            return;
        }
        let mut session = Session::new(keys, local, resp.sender);
        let probe = encode(&Body::Probe { nonce: 1 });
        let mut frame = Vec::new();
        session.seal(&probe, &mut frame).expect("a PROBE fits");
        self.sessions.push(session);
        self.send(&frame, src);
        self.record(src);
    }

    /// A TRANSPORT frame on one of our sessions: a direct path once it
    /// authenticates; a PROBE is answered.
    fn transport(&mut self, t: &Transport<'_>, src: SocketAddr) {
        let Some(session) = self.sessions.iter_mut().find(|s| s.local == t.receiver) else {
            return;
        };
        let mut buf = Vec::new();
        let Ok(plain) = session.open(t, &mut buf) else {
            return;
        };
        if let Ok(Body::Probe { nonce }) = Body::decode(plain) {
            let mut frame = Vec::new();
            let ack = encode(&Body::ProbeAck { nonce });
            session.seal(&ack, &mut frame).expect("a PROBE_ACK fits");
            self.send(&frame, src);
        }
        self.record(src);
    }

    fn record(&mut self, src: SocketAddr) {
        self.heard.get_or_insert(src);
    }
}

fn encode(body: &Body<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    body.encode(&mut out);
    out
}

/// Registers a new key from a socket of `host`.
fn registered(lab: &Lab, host: &Host) -> Peer {
    let key = lab.server_key().expect("server key");
    lab::join(host.bind_udp(0).expect("bind"), lab.server_addr(), key)
}

/// A punches B through the lab's server: CONNECT from A, INTRO at B, then
/// both punch. Returns how long until both had a direct path and where A
/// heard B from, or `None` when the punch window passed without one.
fn punch(lab: &Lab, a: &Host, b: &Host) -> Option<(Duration, SocketAddr)> {
    let mut pa = registered(lab, a);
    let mut pb = registered(lab, b);
    let (ida, idb) = (pa.id, pb.id);
    let (key_b, b_addr) = match pa.call(Req::Connect(idb)).body() {
        Body::ConnectAck { key, addr, .. } => (key, addr),
        other => panic!("CONNECT answered {other:?}"),
    };
    assert_eq!(key_b, pb.keys.public(), "CONNECT_ACK carries b's key");
    let (key_a, a_addr) = match pb.next().body() {
        Body::Intro { from, key, addr } if from == ida => (key, addr),
        other => panic!("b expected an INTRO from {ida}, got {other:?}"),
    };
    assert_eq!(key_a, pa.keys.public(), "INTRO carries a's key");
    let start = Instant::now();
    let mut sides = [
        Side::new(pa, idb, key_b, b_addr),
        Side::new(pb, ida, key_a, a_addr),
    ];
    while start.elapsed() < PUNCH_WINDOW {
        for side in &mut sides {
            if side.heard.is_none() {
                side.punch();
            }
        }
        let round = Instant::now() + PUNCH_EVERY;
        while Instant::now() < round {
            for side in &mut sides {
                side.poll(Duration::from_millis(10));
            }
            if let [Side {
                heard: Some(b_seen),
                ..
            }, Side { heard: Some(_), .. }] = &sides
            {
                return Some((start.elapsed(), *b_seen));
            }
        }
    }
    None
}

/// Builds a lab with hosts of kinds `a` and `b` and punches between them.
fn pair(a: Kind, b: Kind, direct: bool) {
    let name = format!("punch_{a:?}_{b:?}").to_lowercase();
    let Some(lab) = lab_or_skip(&name) else {
        return;
    };
    lab.start_server(None).expect("peerd server");
    let (ha, hb) = (
        lab.add_host(a).expect("host a"),
        lab.add_host(b).expect("host b"),
    );
    let result = punch(&lab, &ha, &hb);
    eprintln!("punch {a:?} -> {b:?}: {result:?}");
    if direct {
        assert!(
            result.is_some(),
            "{a:?}-{b:?}: no direct path within {PUNCH_WINDOW:?}"
        );
    } else {
        assert!(result.is_none(), "{a:?}-{b:?}: unexpectedly direct");
    }
}

#[test]
fn punch_public_public() {
    pair(Kind::Public, Kind::Public, true);
}

#[test]
fn punch_public_cone() {
    pair(Kind::Public, Kind::Cone, true);
    pair(Kind::Cone, Kind::Public, true);
}

#[test]
fn punch_public_symmetric() {
    pair(Kind::Public, Kind::Symmetric, true);
    pair(Kind::Symmetric, Kind::Public, true);
}

#[test]
fn punch_cone_cone() {
    pair(Kind::Cone, Kind::Cone, true);
}

#[test]
fn punch_cone_symmetric_fails() {
    pair(Kind::Cone, Kind::Symmetric, false);
}

#[test]
fn punch_symmetric_symmetric_fails() {
    pair(Kind::Symmetric, Kind::Symmetric, false);
}

#[test]
fn same_router_no_hairpin_but_private_addresses_work() {
    // Routers do not hairpin unless asked (see the next test).
    let Some(lab) = lab_or_skip("same_router_no_hairpin_but_private_addresses_work") else {
        return;
    };
    lab.start_server(None).expect("peerd server");
    let a = lab.add_host(Kind::Cone).expect("a");
    let b = lab.add_host_behind(a.router().expect("router")).expect("b");
    let result = punch(&lab, &a, &b);
    eprintln!("punch behind one router via public addresses: {result:?}");
    assert!(result.is_none(), "the lab's routers do not hairpin");
    let sa = a.bind_udp(0).expect("bind");
    let sb = b.bind_udp(0).expect("bind");
    let b_private = sb.local_addr().expect("local_addr");
    sa.send_to(b"over the home network", b_private)
        .expect("send");
    let from = lab::recv_matching(&sb, Duration::from_secs(3), |buf, src| {
        (buf == b"over the home network").then_some(src)
    });
    assert_eq!(from.expect("private path").ip(), a.ip());
}

#[test]
fn same_router_with_hairpin_punches_via_public_addresses() {
    let Some(lab) = lab_or_skip("same_router_with_hairpin_punches_via_public_addresses") else {
        return;
    };
    let server = lab.start_server(None).expect("peerd server");
    let a = lab.add_host(Kind::Cone).expect("a");
    let router = a.router().expect("router").clone();
    lab.enable_hairpin(&router).expect("hairpin");
    let b = lab.add_host_behind(&router).expect("b");
    let (took, b_seen) = punch(&lab, &a, &b).expect("hairpinned punch");
    eprintln!("hairpin punch: direct after {took:?}, a sees b as {b_seen}");
    assert_eq!(
        b_seen.ip(),
        router.wan_ip(),
        "b is seen by its public mapping"
    );
    // The hairpin keeps the router's filtering: an unsolicited datagram
    // from a to b's public mapping is dropped.
    let sb = b.bind_udp(0).expect("bind");
    let b_public = lab::mapped_address(&sb, server).expect("STUN");
    let sa = a.bind_udp(0).expect("bind");
    sa.send_to(b"unsolicited", b_public).expect("send");
    sb.send_to(b"open", lab::mapped_address(&sa, server).expect("STUN"))
        .expect("send");
    sa.send_to(b"solicited", b_public).expect("send");
    let mut got = Vec::new();
    lab::recv_matching(&sb, Duration::from_secs(3), |buf, _| {
        got.push(String::from_utf8_lossy(buf).into_owned());
        (buf == b"solicited").then_some(())
    })
    .expect("the solicited datagram arrives");
    assert_eq!(got, ["solicited"], "filtering holds on the hairpin");
}

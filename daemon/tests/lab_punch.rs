//! Hole punching by hand across the lab's NATs: raw sockets register and
//! ask CONNECT (CONNECT_ACK + INTRO) in protocol v2 through the real
//! `peerd server` (the harness's v2 client), then punch with plain probes
//! (`PUNCH` / `PUNCH_ACK` text datagrams) every 200 ms for at most 3 s.
//! This pins down what issue 4's matrix may expect from
//! the lab, independently of the daemon: a direct path for public-public,
//! public-cone, public-symmetric and cone-cone; none for cone-symmetric
//! and symmetric-symmetric; and no hairpinning behind one router (two
//! hosts there reach each other only on their private addresses).

mod lab;
mod support;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use lab::{lab_or_skip, Host, Kind};
use peerd_shared::proto::Body;
use peerd_shared::PeerId;
use support::{Peer, Req};

/// Punching period and window of docs/protocol.md 6.
const PUNCH_EVERY: Duration = Duration::from_millis(200);
const PUNCH_WINDOW: Duration = Duration::from_secs(3);

/// One side of a punch: its socket, id and the address it was introduced to.
struct Side {
    sock: UdpSocket,
    id: PeerId,
    peer: PeerId,
    target: SocketAddr,
    nonce: u64,
    /// Where a PUNCH or PUNCH_ACK of the peer came from, once one did.
    heard: Option<SocketAddr>,
}

/// A probe between the two sides: `PUNCH` or `PUNCH_ACK`, from, to, nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Probe {
    ack: bool,
    from: u64,
    to: u64,
    nonce: u64,
}

impl Probe {
    fn encode(&self) -> Vec<u8> {
        let word = if self.ack { "PUNCH_ACK" } else { "PUNCH" };
        format!("{word} {} {} {}", self.from, self.to, self.nonce).into_bytes()
    }

    fn decode(buf: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(buf).ok()?;
        let mut words = text.split(' ');
        let ack = match words.next()? {
            "PUNCH" => false,
            "PUNCH_ACK" => true,
            _ => return None,
        };
        let mut num = || words.next()?.parse::<u64>().ok();
        Some(Self {
            ack,
            from: num()?,
            to: num()?,
            nonce: num()?,
        })
    }
}

impl Side {
    fn send(&self, probe: Probe, to: SocketAddr) {
        self.sock.send_to(&probe.encode(), to).expect("send");
    }

    fn punch(&self) {
        let p = Probe {
            ack: false,
            from: self.id.get(),
            to: self.peer.get(),
            nonce: self.nonce,
        };
        self.send(p, self.target);
    }

    /// Handles one datagram arriving within `wait`: answers PUNCH, records
    /// PUNCH and PUNCH_ACK whose source IP is the introduced IP.
    fn poll(&mut self, wait: Duration) {
        let got = lab::recv_matching(&self.sock, wait, |buf, src| {
            Some((Probe::decode(buf)?, src))
        });
        let Ok((p, src)) = got else {
            return;
        };
        if p.from != self.peer.get() || p.to != self.id.get() {
            return;
        }
        if !p.ack {
            let ack = Probe {
                ack: true,
                from: self.id.get(),
                to: self.peer.get(),
                nonce: p.nonce,
            };
            self.send(ack, src);
            self.record(src);
        } else if p.nonce == self.nonce {
            self.record(src);
        }
    }

    fn record(&mut self, src: SocketAddr) {
        if src.ip() == self.target.ip() && self.heard.is_none() {
            self.heard = Some(src);
        }
    }
}

/// Registers a socket of `host`; returns it with its v2 client.
fn registered(host: &Host, server: SocketAddr) -> (UdpSocket, Peer) {
    let sock = host.bind_udp(0).expect("bind");
    let peer = lab::register(&sock, server).expect("REGISTER");
    (sock, peer)
}

/// A punches B through `server`: CONNECT from A, INTRO at B, then both
/// punch. Returns how long until both heard each other and where A heard
/// B from, or `None`.
fn punch(a: &Host, b: &Host, server: SocketAddr) -> Option<(Duration, SocketAddr)> {
    let (sa, mut pa) = registered(a, server);
    let (sb, mut pb) = registered(b, server);
    let (ida, idb) = (pa.id, pb.id);
    let b_addr = match pa.call(Req::Connect(idb)).body() {
        Body::ConnectAck { addr, .. } => addr,
        other => panic!("CONNECT answered {other:?}"),
    };
    let a_addr = match pb.next().body() {
        Body::Intro { from, addr, .. } if from == ida => addr,
        other => panic!("b got {other:?} instead of INTRO"),
    };
    let start = Instant::now();
    let mut sides = [
        Side {
            sock: sa,
            id: ida,
            peer: idb,
            target: b_addr,
            nonce: 1,
            heard: None,
        },
        Side {
            sock: sb,
            id: idb,
            peer: ida,
            target: a_addr,
            nonce: 2,
            heard: None,
        },
    ];
    while start.elapsed() < PUNCH_WINDOW {
        for side in &sides {
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
    let server = lab.start_server(None).expect("peerd server");
    let (ha, hb) = (
        lab.add_host(a).expect("host a"),
        lab.add_host(b).expect("host b"),
    );
    let result = punch(&ha, &hb, server);
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
    let server = lab.start_server(None).expect("peerd server");
    let a = lab.add_host(Kind::Cone).expect("a");
    let b = lab.add_host_behind(a.router().expect("router")).expect("b");
    let result = punch(&a, &b, server);
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
    let (took, b_seen) = punch(&a, &b, server).expect("hairpinned punch");
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

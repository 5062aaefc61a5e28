//! The lab's NATs behave as their kind says (issue 4), measured with the
//! real `peerd server` (STUN, and protocol v2 through the harness's client)
//! from raw sockets inside the lab: a cone router maps
//! endpoint-independently and filters by address and port, a symmetric
//! router maps per destination, loss injection drops the configured
//! fraction, a conntrack flush rebinds (and the server follows the peer to
//! its new mapping), an idle mapping expires.
//!
//! Needs root, `ip`, `iptables` and `conntrack`; without them the tests
//! print a skip line, except under `CI=true` where they fail.

mod lab;
mod support;

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use lab::{lab_or_skip, mapped_address, start_server, Kind, Lab};
use peerd_shared::proto::{Body, RespPayload};
use support::{poll_for, Req, Server};
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(3);

/// Receives datagrams on `sock` until `last` arrives from `from`; returns
/// every payload received on the way (as text), `last` included.
fn collect_until(sock: &UdpSocket, from: SocketAddr, last: &str) -> Vec<String> {
    let mut seen = Vec::new();
    lab::recv_matching(sock, WAIT, |buf, src| {
        let text = String::from_utf8_lossy(buf).into_owned();
        let done = src == from && text == last;
        seen.push(format!("{text} from {src}"));
        done.then_some(())
    })
    .unwrap_or_else(|e| panic!("waiting for {last:?} from {from}: {e}; got {seen:?}"));
    seen
}

/// Three real `peerd server`s answering STUN: the server host on two
/// ports, and another public host (another address).
fn three_servers(lab: &Lab) -> (Vec<Server>, TempDir, Vec<SocketAddr>) {
    let other = lab.add_host(Kind::Public).expect("second public host");
    let dbs = tempfile::tempdir().expect("temp dir");
    let first = lab.start_server(None).expect("peerd server");
    let servers = vec![
        start_server(lab.server_host(), 8081, &dbs.path().join("b.db"), None)
            .expect("second peerd server"),
        start_server(&other, 8080, &dbs.path().join("c.db"), None).expect("third peerd server"),
    ];
    let mut addrs = vec![first];
    addrs.extend(servers.iter().map(|s| s.addr));
    (servers, dbs, addrs)
}

#[test]
fn cone_mapping_is_endpoint_independent() {
    let Some(lab) = lab_or_skip("cone_mapping_is_endpoint_independent") else {
        return;
    };
    let host = lab.add_host(Kind::Cone).expect("cone host");
    let wan = host.router().expect("router").wan_ip();
    let (_servers, _dbs, addrs) = three_servers(&lab);
    let sock = host.bind_udp(0).expect("bind");
    let local = sock.local_addr().expect("local_addr");
    let mapped: Vec<SocketAddr> = addrs
        .iter()
        .map(|s| mapped_address(&sock, *s).expect("STUN"))
        .collect();
    eprintln!("cone: local {local}, mapped {mapped:?} towards {addrs:?}");
    assert!(
        mapped.iter().all(|m| *m == mapped[0]),
        "one mapping for all: {mapped:?}"
    );
    assert_eq!(mapped[0].ip(), wan);
    assert_ne!(
        mapped[0].port(),
        local.port(),
        "the router picks the public port"
    );
    // A second socket of the same host gets its own mapping.
    let other = host.bind_udp(0).expect("bind");
    let other_mapped = mapped_address(&other, addrs[0]).expect("STUN");
    assert_ne!(other_mapped, mapped[0]);
}

#[test]
fn symmetric_mapping_depends_on_the_destination() {
    let Some(lab) = lab_or_skip("symmetric_mapping_depends_on_the_destination") else {
        return;
    };
    let host = lab.add_host(Kind::Symmetric).expect("symmetric host");
    let wan = host.router().expect("router").wan_ip();
    let (_servers, _dbs, addrs) = three_servers(&lab);
    let sock = host.bind_udp(0).expect("bind");
    let mapped: Vec<SocketAddr> = addrs
        .iter()
        .map(|s| mapped_address(&sock, *s).expect("STUN"))
        .collect();
    eprintln!("symmetric: mapped {mapped:?} towards {addrs:?}");
    assert!(mapped.iter().all(|m| m.ip() == wan));
    let ports: BTreeSet<u16> = mapped.iter().map(SocketAddr::port).collect();
    assert_eq!(ports.len(), 3, "a new port per destination: {mapped:?}");
    // Asking the same destination again keeps that destination's mapping.
    assert_eq!(mapped_address(&sock, addrs[0]).expect("STUN"), mapped[0]);
}

#[test]
fn cone_filters_by_address_and_port() {
    let Some(lab) = lab_or_skip("cone_filters_by_address_and_port") else {
        return;
    };
    let host = lab.add_host(Kind::Cone).expect("cone host");
    let router = host.router().expect("router").clone();
    let third = lab.add_host(Kind::Public).expect("third host");
    let server = lab.start_server(None).expect("peerd server");
    let inside = host.bind_udp(0).expect("bind");
    let mapped = mapped_address(&inside, server).expect("STUN");
    // t: another address; u: the server's address, another port.
    let t = third.bind_udp(4000).expect("bind");
    let u = lab.server_host().bind_udp(3479).expect("bind");
    let (t_addr, u_addr) = (third.addr(4000), lab.server_host().addr(3479));
    let before = router.filter_drops().expect("counters");

    for _ in 0..3 {
        t.send_to(b"t-early", mapped).expect("send");
        u.send_to(b"u-early", mapped).expect("send");
    }
    // The inside host opens towards t only: same public mapping, seen by t.
    inside.send_to(b"hello t", t_addr).expect("send");
    let seen_as = lab::recv_matching(&t, WAIT, |buf, src| (buf == b"hello t").then_some(src));
    assert_eq!(
        seen_as.expect("t hears the inside host"),
        mapped,
        "endpoint-independent"
    );
    for _ in 0..3 {
        u.send_to(b"u-mid", mapped).expect("send");
    }
    t.send_to(b"t-late", mapped).expect("send");
    let first = collect_until(&inside, t_addr, "t-late");
    inside.send_to(b"hello u", u_addr).expect("send");
    lab::recv_matching(&u, WAIT, |buf, _| (buf == b"hello u").then_some(())).expect("u hears");
    u.send_to(b"u-late", mapped).expect("send");
    let second = collect_until(&inside, u_addr, "u-late");
    eprintln!("inside host received {first:?} then {second:?}");
    assert_eq!(
        first,
        [format!("t-late from {t_addr}")],
        "only t's answer after opening to t"
    );
    assert_eq!(
        second,
        [format!("u-late from {u_addr}")],
        "u-mid stayed filtered"
    );
    let dropped = router.filter_drops().expect("counters") - before;
    assert!(
        dropped >= 9,
        "the firewall dropped the 9 unsolicited datagrams: {dropped}"
    );
}

/// Sends `count` numbered datagrams from `from` to `to` (paced: a short
/// pause every 100 so no queue on the way overflows), then, with the loss
/// already removed by `after_burst`, an end marker until it arrives.
/// Returns how many numbered datagrams arrived.
fn burst(
    from: &UdpSocket,
    to: &UdpSocket,
    dest: SocketAddr,
    count: u32,
    after_burst: impl FnOnce(),
) -> u32 {
    for i in 0..count {
        from.send_to(&i.to_be_bytes(), dest).expect("send");
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(2)); // pacing, not synchronisation
        }
    }
    after_burst();
    let mut got = BTreeSet::new();
    for _ in 0..20 {
        from.send_to(b"end", dest).expect("send end");
        let done = lab::recv_matching(to, Duration::from_millis(250), |buf, _| {
            if buf == b"end" {
                return Some(());
            }
            if let Ok(n) = <[u8; 4]>::try_from(buf) {
                got.insert(u32::from_be_bytes(n));
            }
            None
        });
        if done.is_ok() {
            return u32::try_from(got.len()).expect("count fits");
        }
    }
    panic!("the end marker never arrived (loss still on?)");
}

#[test]
fn loss_injection_drops_the_configured_fraction() {
    let Some(lab) = lab_or_skip("loss_injection_drops_the_configured_fraction") else {
        return;
    };
    const COUNT: u32 = 2000;
    let host = lab.add_host(Kind::Cone).expect("cone host");
    let router = host.router().expect("router").clone();
    let public = lab.add_host(Kind::Public).expect("public host");
    let inside = host.bind_udp(0).expect("bind");
    let outside = public.bind_udp(5000).expect("bind");
    for s in [&inside, &outside] {
        lab::force_recv_buffer(s, 8 << 20).expect("receive buffer");
    }
    // Open the mapping (no loss yet) so the outside can answer.
    inside.send_to(b"open", public.addr(5000)).expect("send");
    let mapped = lab::recv_matching(&outside, WAIT, |buf, src| (buf == b"open").then_some(src))
        .expect("mapping open");

    router.set_loss(0.2).expect("set loss");
    let mut rule_drops = 0;
    let out_arrived = burst(&inside, &outside, public.addr(5000), COUNT, || {
        rule_drops = router.loss_drops().expect("counters");
        router.set_loss(0.0).expect("clear loss");
    });
    let out_lost = COUNT - out_arrived;
    assert_eq!(
        u64::from(out_lost),
        rule_drops,
        "every loss is the rule's doing"
    );

    router.set_loss(0.2).expect("set loss");
    let in_arrived = burst(&outside, &inside, mapped, COUNT, || {
        rule_drops = router.loss_drops().expect("counters");
        router.set_loss(0.0).expect("clear loss");
    });
    let in_lost = COUNT - in_arrived;
    assert_eq!(
        u64::from(in_lost),
        rule_drops,
        "every loss is the rule's doing"
    );
    eprintln!(
        "loss p=0.2 over {COUNT} datagrams: {out_lost} lost outbound, {in_lost} lost inbound"
    );
    for lost in [out_lost, in_lost] {
        assert!(
            (300..=500).contains(&lost),
            "lost {lost} of {COUNT} at p=0.2"
        );
    }
}

#[test]
fn conntrack_flush_rebinds_the_cone_mapping() {
    let Some(lab) = lab_or_skip("conntrack_flush_rebinds_the_cone_mapping") else {
        return;
    };
    let host = lab.add_host(Kind::Cone).expect("cone host");
    let router = host.router().expect("router").clone();
    let server = lab.start_server(None).expect("peerd server");
    let key = lab.server_key().expect("server key");
    let u = lab.server_host().bind_udp(3479).expect("bind");
    let u_addr = lab.server_host().addr(3479);
    let observer = lab.add_host(Kind::Public).expect("public host");
    let mut watcher = lab::join(observer.bind_udp(0).expect("bind"), server, key);

    let mut peer = lab::join(host.bind_udp(0).expect("bind"), server, key);
    let (id, m1) = (peer.id, peer.seen_as);
    assert_eq!(m1.ip(), router.wan_ip(), "REGISTERED names the router");
    assert_eq!(
        mapped_address(&peer.client.socket, server).expect("STUN"),
        m1,
        "STUN agrees"
    );
    peer.client.socket.send_to(b"before", u_addr).expect("send");
    let seen = lab::recv_matching(&u, WAIT, |buf, src| (buf == b"before").then_some(src));
    assert_eq!(seen.expect("u hears"), m1, "one mapping towards both ports");

    router.flush_conntrack().expect("conntrack -F");
    u.send_to(b"stale", m1).expect("send");
    // The next authenticated frame comes from a new mapping: the server
    // takes its source as the peer's address (protocol.md 4, roaming) and
    // says so in KEEPALIVE_ACK, which is how a daemon notices a rebinding.
    let m2 = match peer.call(Req::Keepalive).body() {
        Body::KeepaliveAck { addr, .. } => addr,
        other => panic!("KEEPALIVE from the rebound address answered {other:?}"),
    };
    eprintln!("rebinding: {m1} -> {m2} after conntrack -F");
    assert_ne!(m2, m1, "a new mapping after the flush");
    assert_eq!(m2.ip(), router.wan_ip());
    // Other peers now find it there.
    let (listed, _) = watcher.call(Req::List(0)).listed();
    assert_eq!(listed, [(id, m2)], "LIST shows the new address");
    // A new REGISTER handshake from the same key keeps the id.
    match peer.register() {
        RespPayload::Registered {
            id: again, addr, ..
        } => {
            assert_eq!((again, addr), (id, m2), "same key, same id, same mapping");
        }
        other => panic!("REGISTER again answered {other:?}"),
    }
    peer.client.socket.send_to(b"after", u_addr).expect("send");
    let seen = lab::recv_matching(&u, WAIT, |buf, src| (buf == b"after").then_some(src));
    assert_eq!(seen.expect("u hears"), m2, "the peer sees the new mapping");
    u.send_to(b"fresh", m2).expect("send");
    let got = collect_until(&peer.client.socket, u_addr, "fresh");
    assert_eq!(
        got,
        [format!("fresh from {u_addr}")],
        "the old mapping is dead"
    );
}

#[test]
fn idle_cone_mapping_expires() {
    let Some(lab) = lab_or_skip("idle_cone_mapping_expires") else {
        return;
    };
    let host = lab.add_host(Kind::Cone).expect("cone host");
    let router = host.router().expect("router").clone();
    router.set_mapping_timeout(1, 2).expect("sysctl");
    let server = lab.start_server(None).expect("peerd server");
    let inside = host.bind_udp(0).expect("bind");
    let m1 = mapped_address(&inside, server).expect("STUN");
    assert_eq!(router.udp_mappings().expect("conntrack"), 1);
    let idle = std::time::Instant::now();
    poll_for("the mapping to expire", Duration::from_secs(10), || {
        (router.udp_mappings().expect("conntrack") == 0).then_some(())
    });
    let m2 = mapped_address(&inside, server).expect("STUN");
    eprintln!(
        "idle mapping {m1} expired after {:.1} s; new mapping {m2}",
        idle.elapsed().as_secs_f64()
    );
    assert_ne!(m2, m1, "an expired mapping is not reused");
}

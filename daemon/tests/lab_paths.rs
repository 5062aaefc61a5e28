//! Paths across the lab's NATs beyond the matrix (issue 4, "Behaviour"):
//! keepalives hold an idle direct path open through routers whose mappings
//! expire quickly; a relayed path in use becomes direct once a later punch
//! succeeds; `--relay always` and `--relay never` do what they say, with
//! `peers` naming why; `ping` works over either path.

mod lab;
mod support;

use std::time::{Duration, Instant};

use lab::{lab_or_skip, Host, Kind, Lab, PeerDaemon};
use peerd_shared::control::{MsgStatus, PathKind, PathWord, PeerPathInfo};
use peerd_shared::PeerId;
use support::wait_until;

const KEEPALIVE: u64 = 5;

fn daemon(lab: &Lab, host: &Host, name: &str, extra: &[&str]) -> PeerDaemon {
    PeerDaemon::start(host, lab.server_addr(), name, extra)
        .unwrap_or_else(|e| panic!("cannot start daemon {name}: {e}"))
}

/// Polls `daemon`'s `peers` entry for `peer` until `ok` holds (30 s).
fn wait_info(
    daemon: &PeerDaemon,
    peer: PeerId,
    what: &str,
    ok: impl Fn(&PeerPathInfo) -> bool,
) -> PeerPathInfo {
    let mut last = None;
    let found = wait_until(what, Duration::from_secs(30), || {
        let info = daemon.path_to(peer).ok().flatten();
        last = info.clone();
        info.filter(|i| ok(i))
    });
    found.unwrap_or_else(|_| panic!("{}: {what}: last {last:?}", daemon.name()))
}

#[test]
fn keepalives_hold_an_idle_direct_path_open() {
    let Some(lab) = lab_or_skip("keepalives_hold_an_idle_direct_path_open") else {
        return;
    };
    lab.start_server(Some(KEEPALIVE)).expect("peerd server");
    let (ha, hb) = (
        lab.add_host(Kind::Cone).expect("a"),
        lab.add_host(Kind::Cone).expect("b"),
    );
    // Mappings idle for 2 s are forgotten (Linux: 30 s / 120 s): without
    // keepalives each router would drop the other's next datagram.
    for h in [&ha, &hb] {
        h.router()
            .expect("router")
            .set_mapping_timeout(2, 2)
            .expect("short mapping timeout");
    }
    let fast = ["--path-keepalive", "1"];
    let (da, db) = (daemon(&lab, &ha, "a", &fast), daemon(&lab, &hb, "b", &fast));
    let (ida, idb) = (da.id().expect("id a"), db.id().expect("id b"));
    let hello = da.send(idb, "hello", true).expect("first message");
    assert_eq!(hello.path, Some(PathKind::Direct));
    let seen = da
        .path_to(idb)
        .expect("peers")
        .expect("listed")
        .last_seen_ms
        .expect("seen");

    // a keeps the path alive: the PROBE_ACKs answering its keepalive
    // PROBEs keep arriving for three times the mapping timeout.
    let info = wait_info(&da, idb, "keepalive answers keep arriving", |i| {
        i.path == PathWord::Direct && i.last_seen_ms.is_some_and(|t| t >= seen + 6000)
    });
    eprintln!("after 6 s idle: {info:?}");
    // b, which sent nothing yet, reaches a directly: a's router still holds
    // the mapping open towards b, so neither firewall drops a datagram of
    // theirs as unsolicited. (Counting b's attempts would prove less: on a
    // loaded machine an acknowledgement can come after the first
    // retransmission timeout, and b sends again although nothing was lost.)
    let routers = [ha.router().expect("router"), hb.router().expect("router")];
    let drops = || -> Vec<u64> {
        routers
            .iter()
            .map(|r| r.filter_drops().expect("firewall counters"))
            .collect()
    };
    let before = drops();
    let back = db.send(ida, "after the pause", true).expect("b -> a");
    assert_eq!(back.path, Some(PathKind::Direct), "{back:?}");
    assert_eq!(drops(), before, "nothing dropped as unsolicited");
    let outbox = db.outbox().expect("outbox");
    let sent = outbox.iter().find(|m| m.msg == back.msg).expect("listed");
    assert_eq!(
        (sent.status, sent.path),
        (MsgStatus::Delivered, Some(PathKind::Direct)),
        "the outbox agrees with send: {sent:?}"
    );
}

#[test]
fn relay_policies_always_and_never() {
    let Some(lab) = lab_or_skip("relay_policies_always_and_never") else {
        return;
    };
    lab.start_server(Some(KEEPALIVE)).expect("peerd server");
    let ha = lab.add_host(Kind::Cone).expect("a");
    let hb = lab.add_host(Kind::Cone).expect("b");
    let hc = lab.add_host(Kind::Symmetric).expect("c");
    let da = daemon(&lab, &ha, "a", &["--relay", "always"]);
    let db = daemon(&lab, &hb, "b", &[]);
    let dc = daemon(&lab, &hc, "c", &["--relay", "never"]);
    let (ida, idb, idc) = (
        da.id().expect("id a"),
        db.id().expect("id b"),
        dc.id().expect("id c"),
    );

    // `always`: relayed although cone-cone could go direct, both ways (a
    // neither punches nor answers a direct PROBE, so a's router drops b's
    // HELLOs as unsolicited and b falls back after its punch window).
    let out = da.send(idb, "forced", true).expect("a -> b");
    assert_eq!(out.path, Some(PathKind::Relayed), "{out:?}");
    let info = da.path_to(idb).expect("peers").expect("listed");
    assert_eq!(info.path, PathWord::Relayed);
    assert!(
        info.reason
            .as_deref()
            .is_some_and(|r| r.contains("--relay always")),
        "{info:?}"
    );
    let back = db.send(ida, "back", true).expect("b -> a");
    assert_eq!(back.path, Some(PathKind::Relayed), "{back:?}");
    let pong = da.ping(idb).expect("ping over the relay");
    assert_eq!(pong.path, PathKind::Relayed);
    eprintln!("relayed ping: {:.2} ms", pong.rtt_ms);

    // `never`: c behind a symmetric NAT cannot punch through to b behind
    // a cone, and will not relay: the message stays queued, `peers` says why.
    let queued = dc.send(idb, "direct or nothing", false).expect("c -> b");
    assert_eq!(queued.status, MsgStatus::Queued);
    let info = wait_info(&dc, idb, "the punch gives up without relay", |i| {
        i.reason
            .as_deref()
            .is_some_and(|r| r.contains("relay disabled"))
    });
    assert_eq!(info.path, PathWord::None, "{info:?}");
    assert!(info.queued >= 1, "{info:?}");
    let inbox = db.inbox(Some(idc)).expect("b's inbox");
    assert!(inbox.is_empty(), "never relayed: {inbox:?}");
    let pinged = dc.ping(idb);
    assert!(pinged.is_err(), "no path, no pong: {pinged:?}");
}

#[test]
fn a_relayed_path_becomes_direct_when_a_later_punch_succeeds() {
    let name = "a_relayed_path_becomes_direct_when_a_later_punch_succeeds";
    let Some(lab) = lab_or_skip(name) else {
        return;
    };
    lab.start_server(Some(KEEPALIVE)).expect("peerd server");
    let ha = lab.add_host(Kind::Cone).expect("a");
    let router = ha.router().expect("router").clone();
    let hb = lab
        .add_host_behind(&router)
        .expect("b behind the same router");
    // Keepalive 1 s: a relayed path in use tries a punch every 2 s.
    let fast = ["--path-keepalive", "1"];
    let (da, db) = (daemon(&lab, &ha, "a", &fast), daemon(&lab, &hb, "b", &fast));
    let (ida, idb) = (da.id().expect("id a"), db.id().expect("id b"));
    let first = da.send(idb, "m 0", true).expect("first message");
    assert_eq!(first.path, Some(PathKind::Relayed), "no hairpin yet: relay");

    // The router learns to hairpin: a later punch can succeed. (Unanswered
    // conntrack entries live 1 s, so the entries of the failed punches,
    // which Linux delivered locally without NAT, do not outlive them and
    // pin the next punch to the old, non-hairpin handling.)
    router.set_mapping_timeout(1, 120).expect("mapping timeout");
    lab.enable_hairpin(&router).expect("hairpin");
    let start = Instant::now();
    let mut sent = 1;
    loop {
        da.send(idb, &format!("m {sent}"), false).expect("queued");
        sent += 1;
        if matches!(da.path_to(idb), Ok(Some(i)) if i.path == PathWord::Direct) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still not direct: {:?}",
            da.path_to(idb)
        );
        std::thread::sleep(Duration::from_millis(300)); // pacing: keeps the path in use
    }
    eprintln!(
        "upgraded to direct {:.1} s after hairpin",
        start.elapsed().as_secs_f64()
    );
    let last = da.send(idb, &format!("m {sent}"), true).expect("last");
    sent += 1;
    assert_eq!(last.path, Some(PathKind::Direct), "{last:?}");
    let got = db
        .wait_inbox(ida, sent, Duration::from_secs(30))
        .expect("everything arrives");
    let mut msgs: Vec<u64> = got.iter().map(|m| m.msg.0).collect();
    msgs.dedup();
    assert_eq!(msgs.len(), sent, "each exactly once, in msg order");
}

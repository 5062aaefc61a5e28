//! Paths across the lab's NATs beyond the matrix (issue 4, "Behaviour"):
//! keepalives hold an idle direct path open through routers whose mappings
//! expire quickly; `--relay always` and `--relay never` do what they say,
//! with `peers` naming why; `ping` works over either path.

mod lab;

use std::time::{Duration, Instant};

use lab::{lab_or_skip, Host, Kind, Lab, PeerDaemon};
use peerd_shared::control::{
    Command as Ctl, MsgStatus, PathKind, PathWord, PeerPathInfo, Response,
};
use peerd_shared::PeerId;

const KEEPALIVE: u64 = 5;
const POLL: Duration = Duration::from_millis(100);

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
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = daemon.path_to(peer);
        if let Ok(info) = &info {
            if ok(info) {
                return info.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{}: {what}: last {info:?}",
            daemon.name()
        );
        std::thread::sleep(POLL);
    }
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
    let seen = da.path_to(idb).expect("peers").last_seen_ms.expect("seen");

    // a keeps the path alive: the PUNCH_ACKs to its keepalives keep
    // arriving for three times the mapping timeout.
    let info = wait_info(&da, idb, "keepalive answers keep arriving", |i| {
        i.path == PathWord::Direct && i.last_seen_ms.is_some_and(|t| t >= seen + 6000)
    });
    eprintln!("after 6 s idle: {info:?}");
    // b, which sent nothing yet, reaches a directly at the first try: a's
    // router still holds the mapping open towards b.
    let back = db.send(ida, "after the pause", true).expect("b -> a");
    assert_eq!(back.path, Some(PathKind::Direct), "{back:?}");
    let outbox = match db.control(Ctl::Outbox { limit: None }).expect("outbox") {
        Response::Outbox { messages } => messages,
        other => panic!("outbox answered {other:?}"),
    };
    let sent = outbox.iter().find(|m| m.msg == back.msg).expect("listed");
    assert_eq!(sent.attempts, 1, "delivered at the first try: {sent:?}");
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
    // does not answer b's PUNCH, so b falls back after its punch window).
    let out = da.send(idb, "forced", true).expect("a -> b");
    assert_eq!(out.path, Some(PathKind::Relayed), "{out:?}");
    let info = da.path_to(idb).expect("peers");
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

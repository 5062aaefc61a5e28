//! The lab harness itself (issue 4): it builds a connected internet, and
//! tears everything down (namespaces, processes) when dropped, when the
//! test panics, and, for a test process killed outright, at the next run.
//!
//! Needs root, `ip`, `iptables` and `conntrack`; without them the tests
//! print a skip line, except under `CI=true` where they fail.

mod lab;
mod support;

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;

use lab::{lab_or_skip, mapped_address, Kind, Lab, Reflector};

const WAIT: Duration = Duration::from_secs(3);

/// Names of every namespace on the machine that are `tag` or start with
/// `tag-`.
fn namespaces_with(tag: &str) -> Vec<String> {
    let prefix = format!("{tag}-");
    lab::list_namespaces()
        .expect("ip netns list")
        .into_iter()
        .filter(|n| n == tag || n.starts_with(&prefix))
        .collect()
}

#[test]
fn lab_builds_connects_and_tears_down() {
    let Some(lab) = lab_or_skip("lab_builds_connects_and_tears_down") else {
        return;
    };
    let tag = lab.tag().to_owned();
    let public = lab.add_host(Kind::Public).expect("public host");
    let cone = lab.add_host(Kind::Cone).expect("cone host");
    let router = cone.router().expect("cone host has a router").clone();
    let neighbour = lab
        .add_host_behind(&router)
        .expect("second host behind the cone");
    let sym = lab.add_host(Kind::Symmetric).expect("symmetric host");
    let names = lab.namespace_names();
    assert_eq!(
        names.len(),
        8,
        "core, server, public, 2 routers, 3 homes: {names:?}"
    );
    assert_eq!(namespaces_with(&tag).len(), names.len());

    // Every host reaches the server host, and is seen as its public face.
    let stun = Reflector::start(lab.server_host(), 3478).expect("reflector");
    for (host, face) in [
        (&public, public.ip()),
        (&cone, router.wan_ip()),
        (&neighbour, router.wan_ip()),
        (&sym, sym.router().expect("router").wan_ip()),
    ] {
        let sock = host.bind_udp(0).expect("bind");
        let mapped = mapped_address(&sock, stun.addr()).expect("STUN through the lab");
        assert_eq!(mapped.ip(), face, "{:?} host seen as", host.kind());
    }
    // Hosts behind the same router reach each other on the home network.
    let a = cone.bind_udp(0).expect("bind");
    let b = neighbour.bind_udp(0).expect("bind");
    let b_addr = b.local_addr().expect("local_addr");
    a.send_to(b"neighbour", b_addr).expect("send");
    let got = lab::recv_matching(&b, WAIT, |buf, src| (buf == b"neighbour").then_some(src));
    assert_eq!(got.expect("LAN datagram").ip(), cone.ip());

    // The lab is sealed: nothing routes beyond its own networks (probed
    // with a documentation address, TEST-NET-1).
    let outside = std::net::SocketAddr::from(([192, 0, 2, 1], 53));
    for host in [&public, lab.server_host()] {
        let sock = host.bind_udp(0).expect("bind");
        let err = sock
            .send_to(b"out", outside)
            .expect_err("no route out of the lab");
        assert_eq!(err.kind(), std::io::ErrorKind::NetworkUnreachable, "{err}");
    }
    let routes = router
        .ns()
        .ip(&["route", "show", "table", "all"])
        .expect("routes");
    assert!(
        !routes.contains("default"),
        "a router has a default route: {routes}"
    );

    // A process started in a namespace dies with the lab, guard or not.
    let mut orphan = cone
        .command("sleep")
        .arg("600")
        .spawn()
        .expect("spawn sleep in the cone host");
    let guarded = public
        .spawn("sleep", &["600"])
        .expect("spawn guarded sleep");
    let guarded_pid = guarded.pid();
    drop((stun, a, b));
    drop(lab);
    let status = orphan.try_wait().expect("try_wait");
    assert!(
        status.is_some(),
        "a process in a lab namespace survived the lab"
    );
    assert!(
        std::fs::read_to_string(format!("/proc/{guarded_pid}/stat"))
            .map_or(true, |s| s.contains(") Z ")),
        "the guarded process survived the lab"
    );
    drop(guarded);
    assert_eq!(
        namespaces_with(&tag),
        Vec::<String>::new(),
        "namespaces left"
    );
}

#[test]
fn lab_is_removed_when_the_test_panics() {
    // Skips (or fails under CI) like every lab test; the probe lab itself
    // is dropped at once.
    let Some(probe) = lab_or_skip("lab_is_removed_when_the_test_panics") else {
        return;
    };
    drop(probe);
    let tag = Mutex::new(String::new());
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let lab = Lab::new().expect("lab");
        *tag.lock().expect("lock") = lab.tag().to_owned();
        let host = lab.add_host(Kind::Cone).expect("cone host");
        let _sleeper = host.spawn("sleep", &["600"]).expect("spawn");
        panic!("deliberate panic inside a lab test (expected in this test's output)");
    }));
    assert!(outcome.is_err(), "the closure panics");
    let tag = tag.into_inner().expect("lock");
    assert!(!tag.is_empty());
    assert_eq!(
        namespaces_with(&tag),
        Vec::<String>::new(),
        "namespaces left after a panic"
    );
}

#[test]
fn labs_of_killed_test_processes_are_swept() {
    let Some(probe) = lab_or_skip("labs_of_killed_test_processes_are_swept") else {
        return;
    };
    drop(probe);
    // A namespace named like a lab of a process that no longer exists, as
    // a test killed by SIGKILL leaves behind.
    let mut gone = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let dead_pid = gone.id();
    gone.wait().expect("reap");
    let stale = format!("peerdlab-{dead_pid}-0-core");
    let out = std::process::Command::new("ip")
        .args(["netns", "add", &stale])
        .status()
        .expect("ip netns add");
    assert!(out.success());
    let lab = Lab::new().expect("lab");
    assert_eq!(
        namespaces_with(&stale),
        Vec::<String>::new(),
        "stale lab swept"
    );
    assert!(!namespaces_with(lab.tag()).is_empty(), "the new lab stands");
}

//! End to end: `peerctl peers` shows how each peer is reached and
//! `peerctl ping ID` measures the round trip over that path, as text and
//! with `--json`, over a direct path (loopback) and a relayed one
//! (`--relay always`), with the errors of a never-registered id.

mod support;

use support::{Daemon, Launch, Scratch};

#[test]
fn peers_and_ping_over_a_direct_path() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let d1 = Daemon::start(server.addr, &tmp.path("peer1"));
    let d2 = Daemon::start(server.addr, &tmp.path("peer2"));
    assert_eq!(
        (d1.wait_registered().get(), d2.wait_registered().get()),
        (1, 2)
    );

    let empty = d1.peerctl(&["peers"]).ok();
    assert!(empty.starts_with("no known peers"), "{empty}");
    let empty = d1.peerctl(&["--json", "peers"]).json();
    assert_eq!(empty["kind"], "peers", "{empty}");
    assert_eq!(empty["peers"].as_array().map(Vec::len), Some(0), "{empty}");

    let sent = d1.peerctl(&["send", "2", "hello"]).ok();
    assert!(sent.starts_with("delivered to 2 (direct, "), "{sent}");
    let table = d1.peerctl(&["peers"]).ok();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID  PATH"), "{table}");
    assert!(lines[1].starts_with("2 "), "{table}");
    assert!(lines[1].contains("direct 127.0.0.1:"), "{table}");
    assert!(lines[1].contains(" s ago"), "{table}");
    let json = d1.peerctl(&["--json", "peers"]).json();
    let entry = &json["peers"][0];
    assert_eq!(entry["id"], 2, "{json}");
    assert_eq!(entry["path"], "direct", "{json}");
    assert!(entry["addr"]
        .as_str()
        .is_some_and(|a| a.starts_with("127.0.0.1:")));
    assert!(entry["last_seen_ms"].as_u64().is_some(), "{json}");
    assert_eq!(entry["queued"], 0, "{json}");
    // The receiver knows the sender too (it was introduced and punched).
    let back = d2.peerctl(&["--json", "peers"]).json();
    assert_eq!(back["peers"][0]["id"], 1, "{back}");
    assert_eq!(back["peers"][0]["path"], "direct", "{back}");

    let pong = d1.peerctl(&["ping", "2"]).ok();
    assert!(pong.starts_with("pong from 2: "), "{pong}");
    assert!(pong.contains("(direct 127.0.0.1:"), "{pong}");
    let pong = d2.peerctl(&["--json", "ping", "1"]).json();
    assert_eq!(pong["kind"], "ping", "{pong}");
    assert_eq!(pong["path"], "direct", "{pong}");
    assert!(pong["rtt_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{pong}");
    let rtt = d2.peerctl(&["--json", "peers"]).json();
    assert!(rtt["peers"][0]["rtt_ms"].as_f64().is_some(), "{rtt}");

    let unknown = d1.peerctl(&["--json", "ping", "42"]);
    assert_eq!(unknown.code, Some(1), "{unknown:?}");
    assert_eq!(
        unknown.json()["error"]["code"],
        "unknown_peer",
        "{unknown:?}"
    );
    let own = d1.peerctl(&["ping", "1"]);
    assert_eq!(own.code, Some(1), "{own:?}");
    assert!(own.stderr.contains("this daemon itself"), "{own:?}");
    let usage = d1.peerctl(&["ping"]);
    assert_eq!(usage.code, Some(2), "missing id: {usage:?}");
}

#[test]
fn peers_and_ping_over_the_relay() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let relay = ["--relay", "always"];
    let d1 = Launch::new(server.addr, &tmp.path("peer1"))
        .args(&relay)
        .start();
    let d2 = Launch::new(server.addr, &tmp.path("peer2"))
        .args(&relay)
        .start();
    assert_eq!(
        (d1.wait_registered().get(), d2.wait_registered().get()),
        (1, 2)
    );
    d1.peerctl(&["send", "2", "through the server"]).ok();

    let table = d1.peerctl(&["peers"]).ok();
    assert!(table.contains("relayed"), "{table}");
    assert!(table.contains("relay forced (--relay always)"), "{table}");
    let json = d1.peerctl(&["--json", "peers"]).json();
    assert_eq!(json["peers"][0]["path"], "relayed", "{json}");
    assert!(json["peers"][0].get("addr").is_none(), "{json}");

    let pong = d1.peerctl(&["ping", "2"]).ok();
    assert!(
        pong.trim_end().ends_with("(relayed through the server)"),
        "{pong}"
    );
    let pong = d1.peerctl(&["--json", "ping", "2"]).json();
    assert_eq!(pong["path"], "relayed", "{pong}");
}

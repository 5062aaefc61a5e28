//! `peerd server --metrics ADDR`: the exposition passes `promtool check
//! metrics`, its counters follow the traffic the test sends (protocol v2
//! peers, a v1 datagram and STUN over UDP, on the registry thread and a
//! STUN thread), `/healthz` answers, and clients that hold connections open or send oversized
//! requests neither stall the UDP side nor lock other scrapers out for good.

mod ops_support;
mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ops_support::{command, have, http_get, stun_answered, udp_client, Proc, DEADLINE, POLL};
use peerd_shared::proto::{Body, ErrorCode};
use peerd_shared::Seq;
use support::{server_key_in, Client, Keys, Peer, Req};

fn start(dir: &std::path::Path, extra: &[&str]) -> Proc {
    let mut cmd = command(dir);
    cmd.args([
        "server",
        "--listen",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--db",
    ])
    .arg(dir.join("registry.sqlite3"))
    .args(extra);
    Proc::spawn(cmd, &dir.join("server.log"))
}

/// The samples of an exposition: `name{labels}` -> value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let (status, head, body) = http_get(addr, "/metrics");
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    samples(&body)
}

/// Scrapes until `ok` holds for the samples (counters are published once
/// per loop wake-up, gauges once a second).
fn scrape_until(
    addr: SocketAddr,
    what: &str,
    ok: impl Fn(&HashMap<String, f64>) -> bool,
) -> HashMap<String, f64> {
    let end = Instant::now() + DEADLINE;
    loop {
        let s = scrape(addr);
        if ok(&s) {
            return s;
        }
        assert!(
            Instant::now() < end,
            "{what}: not reached in time; last scrape: {s:#?}"
        );
        std::thread::sleep(POLL);
    }
}

fn get(s: &HashMap<String, f64>, key: &str) -> f64 {
    *s.get(key).unwrap_or_else(|| panic!("no sample {key}"))
}

#[test]
fn exposition_is_valid_and_counters_follow_the_traffic() {
    assert!(
        have("promtool"),
        "promtool is needed (Debian package prometheus; bash .ci/test installs it)"
    );
    assert!(have("curl"), "curl is needed (bash .ci/test installs it)");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(
        dir.path(),
        &["--threads", "2", "--rate-limit", "5", "--rate-burst", "5"],
    );
    let udp = server.udp_addr();
    let http = server.metrics_addr();

    // Fresh: all zero, and valid for promtool, fetched by a real client.
    let body = curl(http, "/metrics");
    promtool_accepts(&body);
    let s = samples(&body);
    assert_eq!(get(&s, "peerd_server_handshakes_total"), 0.0);
    assert_eq!(get(&s, "peerd_server_online_peers"), 0.0);

    // Two peers register by handshake; A lists; A relays to B.
    let key = server_key_in(&server.wait_line("server key ")).expect("the server's key");
    let join = || Peer::join_with(Client::new(udp), Keys::new(key));
    let (mut a, mut b) = (join(), join());
    let (listed, _) = a.call(Req::List(0)).listed();
    let ids: Vec<_> = listed.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [b.id], "LIST names the others");
    let ack = a.call(Req::Relay(b.id, b"hello b"));
    assert!(matches!(ack.body(), Body::RelayAck { .. }), "{ack:?}");
    let relayed = b.next();
    let Body::Relayed { data, .. } = relayed.body() else {
        panic!("RELAYED to B")
    };
    assert_eq!(data, b"hello b");
    // Errors: a kind the server does not serve (unknown_type), a v1
    // datagram (unsupported_version), a frame that does not authenticate
    // (dropped, counted only as a datagram).
    let probe = Peer::encode(&Body::Probe { nonce: 7 });
    assert_eq!(b.exchange(&probe, Seq(0)).code(), ErrorCode::UnknownType);
    let v1 = Client::new(udp);
    // (Answered only when the answer is not longer than the datagram.)
    let legacy = format!(
        r#"{{"v":1,"type":"LIST","seq":4,"id":1,"token":"{}","pad":"{}"}}"#,
        "0".repeat(32),
        "x".repeat(64)
    );
    v1.send(legacy.as_bytes());
    let answer = String::from_utf8(v1.recv()).expect("a JSON answer");
    assert!(answer.contains("unsupported_version"), "{answer}");
    let mut forged = a.seal(b"\x10\x00\x00\x00\x09");
    let last = forged.len() - 1;
    forged[last] ^= 1;
    v1.send(&forged);
    // STUN, from a third client.
    let c = udp_client();
    for id in 1..=3 {
        assert!(stun_answered(&c, udp, id));
    }
    // A burst of keepalives over the per-source limit (5 per second,
    // bucket of 5) from a third peer: some answered, some refused with
    // rate_limited, the rest dropped.
    let mut d = join();
    let before = scrape(http);
    let keepalives = |s: &HashMap<String, f64>| {
        get(s, r#"peerd_server_requests_total{type="keepalive"}"#)
            + get(s, "peerd_server_rate_limited_dropped_total")
    };
    // Counted before answered: the three peers' confirming KEEPALIVEs
    // were answered, so they are in this scrape (published after the
    // answers, d's could be missing here and the burst below counted
    // one short of its own traffic).
    assert!(keepalives(&before) >= 3.0, "{before:#?}");
    let burst = 20.0;
    for _ in 0..20 {
        let seq = d.seq();
        let frame = d.seal(&Peer::encode(&Body::Keepalive { seq }));
        d.client.send(&frame);
    }
    let s = scrape_until(http, "every datagram of the burst accounted for", |s| {
        keepalives(s) - keepalives(&before) == burst
            && get(s, r#"peerd_server_errors_total{code="rate_limited"}"#) >= 1.0
    });
    assert!(get(&s, "peerd_server_rate_limited_dropped_total") >= 1.0);
    assert!(get(&s, r#"peerd_server_requests_total{type="list"}"#) >= 1.0);
    assert!(get(&s, r#"peerd_server_requests_total{type="relay"}"#) >= 1.0);
    // The PROBE may have been sent again on a loaded machine: each one is
    // an `other` request answered unknown_type.
    let other = get(&s, r#"peerd_server_requests_total{type="other"}"#);
    assert!(other >= 1.0);
    assert_eq!(
        get(&s, r#"peerd_server_errors_total{code="unknown_type"}"#),
        other
    );
    assert_eq!(
        get(
            &s,
            r#"peerd_server_errors_total{code="unsupported_version"}"#
        ),
        1.0
    );
    assert_eq!(get(&s, "peerd_server_relayed_datagrams_total"), 1.0);
    assert_eq!(
        get(&s, "peerd_server_relayed_bytes_total"),
        7.0,
        "the data alone"
    );
    assert_eq!(get(&s, "peerd_server_stun_answers_total"), 3.0);
    assert_eq!(get(&s, "peerd_server_registrations_total"), 3.0);
    assert!(get(&s, "peerd_server_handshakes_total") >= 3.0);
    let received = get(&s, r#"peerd_server_datagrams_total{direction="received"}"#);
    let sent = get(&s, r#"peerd_server_datagrams_total{direction="sent"}"#);
    // At least: 3 INITs, 3 confirming KEEPALIVEs, LIST, RELAY, the PROBE,
    // the v1 datagram, the forgery, 3 STUN and the burst; fewer answers
    // than that (the forgery and the dropped part of the burst have none).
    assert!(received >= 14.0 + burst, "received {received}");
    assert!(sent >= 12.0 && sent < received, "sent {sent} of {received}");
    let s = scrape_until(http, "3 peers online", |s| {
        get(s, "peerd_server_online_peers") == 3.0
    });
    assert_eq!(get(&s, "peerd_server_known_ids"), 3.0);

    let body = curl(http, "/metrics");
    promtool_accepts(&body);
    let (status, _, body) = http_get(http, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    assert_eq!(http_get(http, "/nope").0, 404);
}

fn curl(addr: SocketAddr, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "10"])
        .arg(format!("http://{addr}{path}"))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\n{text}"
    );
}

#[test]
fn hostile_http_clients_do_not_stall_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(dir.path(), &["--threads", "1"]);
    let udp = server.udp_addr();
    let http = server.metrics_addr();

    // More idle connections than are served at once, and one that sends
    // a header without end.
    let idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(http).expect("connect"))
        .collect();
    let mut slow = TcpStream::connect(http).expect("connect");
    slow.write_all(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        .expect("write");

    // The UDP side does not notice.
    let key = server_key_in(&server.wait_line("server key ")).expect("the server's key");
    let mut peer = Peer::join_with(Client::new(udp), Keys::new(key));
    for _ in 1..=20 {
        let ack = peer.call(Req::Keepalive);
        assert!(matches!(ack.body(), Body::KeepaliveAck { .. }), "{ack:?}");
    }
    let client = udp_client();
    assert!(stun_answered(&client, udp, 1));

    // A request larger than the server buffers is refused, not buffered.
    let mut big = TcpStream::connect(http).expect("connect");
    big.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let _ = big.write_all(huge.as_bytes());
    let mut answer = Vec::new();
    let _ = big.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        !answer.contains(" 200 "),
        "an oversized request was served: {answer}"
    );

    // The stalled connections are closed by the server (header deadline),
    // after which a scrape gets through again.
    for mut s in idle.into_iter().chain([slow]) {
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let mut sink = Vec::new();
        let start = Instant::now();
        let _ = s.read_to_end(&mut sink);
        assert!(
            start.elapsed() < DEADLINE,
            "a stalled connection was kept open"
        );
    }
    let end = Instant::now() + DEADLINE;
    loop {
        let ok = TcpStream::connect(http).is_ok_and(|_| http_get(http, "/healthz").0 == 200);
        if ok {
            break;
        }
        assert!(
            Instant::now() < end,
            "no scrape after the stalled clients went away"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        server.child.try_wait().expect("try_wait").is_none(),
        "{}",
        server.text()
    );
}

#[test]
fn metrics_are_off_by_default_and_a_busy_address_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = command(dir.path());
    cmd.args(["server", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("a.sqlite3"));
    let mut server = Proc::spawn(cmd, &dir.path().join("a.log"));
    server.udp_addr();
    assert!(!server.text().contains("metrics on"), "{}", server.text());

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let out = command(dir.path())
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--metrics",
            &addr.to_string(),
            "--db",
        ])
        .arg(dir.path().join("b.sqlite3"))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("cannot serve metrics on TCP {addr}")),
        "{stderr}"
    );
}

/// The address in a daemon's `metrics on http://ADDR/metrics` log line.
fn daemon_metrics_addr(daemon: &support::Daemon) -> SocketAddr {
    let end = Instant::now() + DEADLINE;
    loop {
        let found = daemon.logs().iter().find_map(|line| {
            let rest = line.split("metrics on http://").nth(1)?;
            rest.split("/metrics").next()?.trim().parse().ok()
        });
        if let Some(addr) = found {
            return addr;
        }
        assert!(Instant::now() < end, "no metrics line: {:?}", daemon.logs());
        std::thread::sleep(POLL);
    }
}

#[test]
fn the_daemon_counts_its_messages_paths_and_delivery_times() {
    let tmp = support::Scratch::new();
    let server = tmp.server();
    let a = support::Launch::new(server.addr, &tmp.path("a"))
        .args(&["--metrics", "127.0.0.1:0"])
        .start();
    let mut b = support::Daemon::start(server.addr, &tmp.path("b"));
    let (ida, idb) = (a.wait_registered(), b.wait_registered());
    assert_ne!(ida, idb);
    let http = daemon_metrics_addr(&a);
    let s = scrape(http);
    assert_eq!(get(&s, "peerd_messages_queued_total"), 0.0);
    assert_eq!(get(&s, r#"peerd_paths{path="direct"}"#), 0.0);

    for i in 0..3 {
        let sent = a.send(idb, &format!("m{i}"), true).expect("delivered");
        assert_eq!(sent.path, Some(peerd_shared::control::PathKind::Direct));
    }
    let s = scrape_until(http, "three delivered, one direct path", |s| {
        get(s, r#"peerd_messages_delivered_total{path="direct"}"#) == 3.0
            && get(s, r#"peerd_paths{path="direct"}"#) == 1.0
    });
    assert_eq!(get(&s, "peerd_messages_queued_total"), 3.0);
    assert_eq!(get(&s, "peerd_delivery_seconds_count"), 3.0);
    assert!(get(&s, "peerd_punches_total") >= 1.0);
    assert!(get(&s, "peerd_direct_paths_established_total") >= 1.0);
    assert_eq!(get(&s, "peerd_messages_failed_total"), 0.0);

    // B goes away; a message with a 1 s ttl fails.
    assert!(b.stop().success());
    let failed = a.send_ttl(idb, "too late", Some(1), true);
    assert!(failed.is_err(), "{failed:?}");
    let s = scrape_until(http, "one failed", |s| {
        get(s, "peerd_messages_failed_total") == 1.0
    });
    assert_eq!(get(&s, "peerd_messages_queued_total"), 4.0);
    promtool_accepts(&curl(http, "/metrics"));
    let (status, _, body) = http_get(http, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
}

#[test]
fn daemon_metrics_are_off_by_default() {
    let tmp = support::Scratch::new();
    let server = tmp.server();
    let a = support::Daemon::start(server.addr, &tmp.path("a"));
    a.wait_registered();
    assert!(
        !a.logs().iter().any(|l| l.contains("metrics on")),
        "{:?}",
        a.logs()
    );
}

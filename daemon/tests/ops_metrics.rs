//! `peerd server --metrics ADDR`: the exposition passes `promtool check
//! metrics`, its counters follow the traffic the test sends (raw v1 JSON
//! and STUN over UDP, on the registry thread and a STUN thread), `/healthz`
//! answers, and clients that hold connections open or send oversized
//! requests neither stall the UDP side nor lock other scrapers out for good.

mod ops_support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ops_support::{
    ask, command, have, http_get, stun_answered, token, udp_client, Proc, DEADLINE, POLL,
};

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
    assert_eq!(
        get(&s, r#"peerd_server_requests_total{type="register"}"#),
        0.0
    );
    assert_eq!(get(&s, "peerd_server_online_peers"), 0.0);

    // Two peers register; A lists; A relays to B.
    let (a, b) = (udp_client(), udp_client());
    let reg = |c, t| {
        ask(
            c,
            udp,
            &format!(
                r#"{{"v":1,"type":"REGISTER","seq":1,"token":"{}"}}"#,
                token(t)
            ),
        )
    };
    let id_a = reg(&a, 0xa1)["id"].as_u64().expect("id");
    let id_b = reg(&b, 0xb2)["id"].as_u64().expect("id");
    let list = ask(
        &a,
        udp,
        &format!(
            r#"{{"v":1,"type":"LIST","seq":2,"id":{id_a},"token":"{}"}}"#,
            token(0xa1)
        ),
    );
    assert_eq!(list["type"], "LIST_ACK", "{list}");
    let relay = format!(
        r#"{{"v":1,"type":"RELAY","seq":3,"id":{id_a},"token":"{}","target":{id_b},"data":{{"hello":"b"}}}}"#,
        token(0xa1)
    );
    assert_eq!(ask(&a, udp, &relay)["type"], "RELAY_ACK");
    let mut buf = [0u8; 2048];
    let (n, _) = b.recv_from(&mut buf).expect("RELAYED in time");
    let relayed = n as f64;
    // Errors: a forged LIST (unauthorized), garbage (bad_request).
    let forged = ask(
        &b,
        udp,
        &format!(
            r#"{{"v":1,"type":"LIST","seq":4,"id":{id_a},"token":"{}"}}"#,
            token(0xb2)
        ),
    );
    assert_eq!(forged["code"], "unauthorized", "{forged}");
    assert_eq!(ask(&b, udp, "not json")["code"], "bad_request");
    // STUN, from a third client.
    let c = udp_client();
    for id in 1..=3 {
        assert!(stun_answered(&c, udp, id));
    }
    // A burst over the per-source limit (5 per second, bucket of 5).
    let d = udp_client();
    let burst = format!(
        r#"{{"v":1,"type":"REGISTER","seq":9,"token":"{}"}}"#,
        token(0xd4)
    );
    for _ in 0..20 {
        d.send_to(burst.as_bytes(), udp).expect("send");
    }

    let s = scrape_until(http, "every datagram of the burst accounted for", |s| {
        let register = get(s, r#"peerd_server_requests_total{type="register"}"#);
        let limited = get(s, r#"peerd_server_errors_total{code="rate_limited"}"#);
        let dropped = get(s, "peerd_server_rate_limited_dropped_total");
        // The third new id is counted once the database has it.
        let registrations = get(s, "peerd_server_registrations_total");
        register - 2.0 + limited + dropped == 20.0 && registrations == 3.0
    });
    assert!(get(&s, r#"peerd_server_errors_total{code="rate_limited"}"#) >= 1.0);
    assert!(get(&s, "peerd_server_rate_limited_dropped_total") >= 1.0);
    assert_eq!(get(&s, r#"peerd_server_requests_total{type="list"}"#), 2.0);
    assert_eq!(get(&s, r#"peerd_server_requests_total{type="relay"}"#), 1.0);
    assert_eq!(
        get(&s, r#"peerd_server_requests_total{type="invalid"}"#),
        1.0
    );
    assert_eq!(
        get(&s, r#"peerd_server_errors_total{code="unauthorized"}"#),
        1.0
    );
    assert_eq!(
        get(&s, r#"peerd_server_errors_total{code="bad_request"}"#),
        1.0
    );
    assert_eq!(get(&s, "peerd_server_relayed_datagrams_total"), 1.0);
    assert_eq!(get(&s, "peerd_server_relayed_bytes_total"), relayed);
    assert_eq!(get(&s, "peerd_server_stun_answers_total"), 3.0);
    assert_eq!(get(&s, "peerd_server_registrations_total"), 3.0);
    // In: 2 REGISTER, 2 LIST, RELAY, garbage, 3 STUN, the burst of 20.
    // Out: 2 REGISTER_ACK, LIST_ACK, RELAY_ACK, RELAYED, 2 ERROR, 3 STUN,
    // then for the burst: the rate_limited ERRORs and REGISTER_ACKs (the
    // burst's REGISTERs that come while its new id is being stored share
    // one answer, so at most one per accepted REGISTER).
    assert_eq!(
        get(&s, r#"peerd_server_datagrams_total{direction="received"}"#),
        29.0
    );
    let sent = get(&s, r#"peerd_server_datagrams_total{direction="sent"}"#);
    let limited = get(&s, r#"peerd_server_errors_total{code="rate_limited"}"#);
    let accepted = get(&s, r#"peerd_server_requests_total{type="register"}"#) - 2.0;
    assert!(
        sent >= 10.0 + limited + 1.0 && sent <= 10.0 + limited + accepted,
        "sent {sent}"
    );
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
    let client = udp_client();
    for seq in 1..=20 {
        let r = ask(
            &client,
            udp,
            &format!(
                r#"{{"v":1,"type":"REGISTER","seq":{seq},"token":"{}"}}"#,
                token(7)
            ),
        );
        assert_eq!(r["type"], "REGISTER_ACK", "{r}");
    }
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

//! Smoke run of every peerbench mode against the real `peerd server`: a
//! few peers for a fraction of a second each, asserting that every request
//! sent in the measured interval was settled and answered correctly (no
//! ERROR, no loss, no invalid reply), cookies and junk included. The real
//! benchmark is `benches/compare.sh`; this only proves the instruments and
//! the server agree on the protocol. No speed is asserted.

mod support;

use std::time::Duration;

use peerbench::{JunkConfig, JunkKind, LoadConfig, MixWeights, Mode, PopulateConfig, Report};
use peerd_shared::proto::PublicKey;
use support::{peerctl_bin, peerd_bin, Engines, Server, CONVERGE};

/// Starts the server on a free port with the limits meant for real
/// networks off (the smoke load is many handshakes and requests from one
/// IP, far above a real peer's rate), and cookies demanded above
/// `cookie_threshold` handshakes per second (0: never).
fn start_server(cookie_threshold: u32) -> Server {
    // The start-up lines, not one line per request.
    let log = "warn,peerd::server=info,peerd::server::requests=warn,peerd::server::handshakes=warn";
    let threshold = cookie_threshold.to_string();
    Server::fresh_at(
        "127.0.0.1:0",
        log,
        &[
            "--rate-limit",
            "0",
            "--global-rate-limit",
            "0",
            "--handshake-limit",
            "0",
            "--keepalive",
            "3600",
            "--cookie-threshold",
            &threshold,
        ],
    )
}

/// A short run; the server's key is given (`None`: asked with KEY_REQUEST).
fn config(mode: Mode, server: &Server, key: Option<PublicKey>) -> LoadConfig {
    LoadConfig {
        mode,
        server: server.addr,
        server_key: key,
        peers: 8,
        window: 2,
        duration: Duration::from_millis(300),
        warmup: Duration::from_millis(100),
        // Generous: a debug server on a loaded machine; a run waits this
        // long only for a request that is really lost.
        timeout: Duration::from_secs(5),
        threads: 2,
        batch: true,
        server_pid: None,
        prepare: 16,
    }
}

fn assert_clean(r: &Report) {
    assert!(r.ok > 0, "{}: no request answered\n{r}", r.mode);
    assert_eq!(r.errors, 0, "{}: ERROR replies\n{r}", r.mode);
    assert_eq!(r.lost, 0, "{}: lost requests\n{r}", r.mode);
    assert_eq!(
        r.invalid, 0,
        "{}: replies not matching their request\n{r}",
        r.mode
    );
    assert_eq!(r.garbage, 0, "{}: undecodable datagrams\n{r}", r.mode);
    assert_eq!(
        r.unsent, 0,
        "{}: requests no window could take\n{r}",
        r.mode
    );
    assert_eq!(
        r.sent, r.ok,
        "{}: every request sent was settled as answered\n{r}",
        r.mode
    );
}

fn run(cfg: &LoadConfig) -> Report {
    let report = peerbench::run(cfg).expect("benchmark runs");
    assert_clean(&report);
    report
}

#[test]
fn every_mode_runs_clean_against_the_real_server() {
    let server = start_server(0);
    let key = Some(server.key());
    run(&config(Mode::Stun, &server, None));
    run(&config(Mode::Keepalive, &server, key));
    let mix = Mode::Mix(MixWeights {
        keepalive: 2,
        list: 1,
        connect: 1,
    });
    // The key asked with KEY_REQUEST.
    let report = run(&config(mix, &server, None));
    assert!(
        report.pushes > 0,
        "CONNECT made the server send INTRO\n{report}"
    );
    let report = run(&config(Mode::Register, &server, key));
    assert_eq!(report.retries, 0, "cookies are off\n{report}");
    // Without batching too: the plain send/recv path must agree.
    for mode in [Mode::Stun, Mode::Keepalive] {
        let mut plain = config(mode, &server, key);
        plain.batch = false;
        run(&plain);
    }
}

#[test]
fn registrations_answer_cookie_replies_under_load() {
    // Every handshake past the first of each second finds the server under load.
    let server = start_server(1);
    let report = run(&config(Mode::Register, &server, Some(server.key())));
    assert!(
        report.retries > 0,
        "the server asked for cookies and got handshakes with mac2\n{report}"
    );
    // The setup of the session loads registers through cookies as well.
    run(&config(Mode::Keepalive, &server, Some(server.key())));
}

#[test]
fn keepalives_are_answered_under_junk_handshakes() {
    let server = start_server(1);
    for kind in [JunkKind::BadMac1, JunkKind::Mac1] {
        let mode = Mode::Junk {
            rate: 400.0,
            junk: JunkConfig {
                kind,
                rate: 2_000.0,
                sources: 4,
            },
        };
        let report = run(&config(mode, &server, Some(server.key())));
        let junk = report.junk.as_ref().expect("junk figures");
        assert!(junk.sent > 0, "{report}");
        match kind {
            // Under load, a good mac1 without mac2 gets a COOKIE_REPLY.
            JunkKind::Mac1 => assert!(junk.answers > 0, "{report}"),
            JunkKind::BadMac1 => assert_eq!(junk.answers, 0, "{report}"),
        }
    }
}

#[test]
fn populate_registers_every_peer_and_walks_them_all() {
    // Under load too: each new source pays a cookie round trip.
    let server = start_server(1);
    let report = peerbench::populate(&PopulateConfig {
        server: server.addr,
        server_key: None,
        peers: 300,
        batch: 128,
        threads: 2,
        timeout: Duration::from_secs(5),
    })
    .expect("populate runs");
    assert_eq!(report.registered, 300);
    // The walker sees everyone but itself.
    assert_eq!(report.list_peers, 300);
    assert_eq!(report.list_lost, 0);
    assert!(report.list_pages >= 2, "300 peers need several pages");
    assert!(report.cookies > 0, "new sources under load pay a cookie");
}

/// The daemon benchmarks' binaries: this build's `peerd` and `peerctl`.
fn daemon_bins() -> peerbench::daemon::Bins {
    peerbench::daemon::Bins {
        peerd: peerd_bin(),
        peerctl: peerctl_bin(),
    }
}

#[test]
fn daemon_throughput_delivers_every_message_once() {
    let r = peerbench::daemon::throughput(
        &daemon_bins(),
        None,
        300,
        Duration::from_millis(5),
        Duration::from_secs(60),
    )
    .expect("daemon-throughput runs");
    assert_eq!(r.messages, 300);
    assert_eq!(
        (r.errors, r.lost, r.duplicates, r.outbox_failed),
        (0, 0, 0, 0),
        "{r}"
    );
    assert!(r.msgs_per_s > 0.0, "{r}");
}

#[test]
fn daemon_latency_sees_every_message_once() {
    let r =
        peerbench::daemon::latency(&daemon_bins(), None, 30, 100.0).expect("daemon-latency runs");
    assert_eq!(
        (r.received, r.errors, r.lost, r.duplicates),
        (30, 0, 0, 0),
        "{r}"
    );
    assert!(
        r.p50_us > 0.0 && r.p50_us <= r.p99_us && r.p99_us <= r.max_us,
        "{r}"
    );
}

#[test]
fn daemon_startup_registers_and_answers_id() {
    let r = peerbench::daemon::startup(&daemon_bins(), None, 2, 5).expect("daemon-startup runs");
    assert_eq!((r.starts, r.ids, r.errors), (2, 5, 0), "{r}");
    assert!(
        r.start_to_registered_ms > 0.0 && r.peerctl_id_ms > 0.0,
        "{r}"
    );
}

#[test]
fn cluster_connect_times_both_targets_of_a_real_cluster() {
    let engines = Engines::start();
    let a = engines.node("a", &[]);
    let b = engines.node("b", &[]);
    let report = peerbench::cluster::cluster_connect(&peerbench::cluster::ConnectConfig {
        near: a.addr,
        far: b.addr,
        // Asked with KEY_REQUEST.
        server_key: None,
        requests: 20,
        gap: Duration::ZERO,
        timeout: Duration::from_secs(5),
        converge: CONVERGE,
    })
    .expect("cluster-connect runs");
    for side in [&report.same_node, &report.cross_node] {
        assert_eq!(side.requests, 20, "{report}");
        assert_eq!(side.intro_lost, 0, "every CONNECT made an INTRO\n{report}");
        assert_eq!(side.ack_lost, 0, "every CONNECT was acknowledged\n{report}");
        assert!(side.intro_p50_us >= 1.0, "{report}");
    }
}

//! Smoke run of every peerbench mode against the real `peerd server`: a
//! few peers for a fraction of a second each, asserting that every request
//! was answered correctly (no ERROR, no loss, no invalid reply). The real
//! benchmark is `benches/compare.sh`; this only proves the instruments and
//! the server agree on the protocol.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use peerbench::{LoadConfig, MixWeights, Mode, PopulateConfig, Report};
use support::{peerctl_bin, peerd_bin, Server};

/// Starts the server on a free port with the rate limits off (the smoke
/// load is one source per peer far above a real peer's rate).
fn start_server() -> Server {
    Server::fresh(&[
        "--rate-limit",
        "0",
        "--global-rate-limit",
        "0",
        "--keepalive",
        "3600",
    ])
}

fn config(mode: Mode, server: SocketAddr) -> LoadConfig {
    LoadConfig {
        mode,
        server,
        peers: 8,
        window: 2,
        duration: Duration::from_millis(300),
        warmup: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
        threads: 2,
        batch: true,
        server_pid: None,
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
}

#[test]
fn every_mode_runs_clean_against_the_real_server() {
    let server = start_server();
    let modes = [
        Mode::Stun,
        Mode::Keepalive,
        Mode::Mix(MixWeights {
            register: 2,
            list: 1,
            connect: 1,
        }),
        Mode::Register,
    ];
    for mode in modes {
        let report = peerbench::run(&config(mode, server.addr)).expect("benchmark runs");
        assert_clean(&report);
        if matches!(mode, Mode::Mix(_)) {
            assert!(
                report.pushes > 0,
                "CONNECT made the server send INTRO\n{report}"
            );
        }
    }
    // Without batching too: the plain send/recv path must agree.
    let mut plain = config(Mode::Stun, server.addr);
    plain.batch = false;
    assert_clean(&peerbench::run(&plain).expect("benchmark runs"));
}

#[test]
fn populate_registers_every_peer_and_walks_them_all() {
    let server = start_server();
    let report = peerbench::populate(&PopulateConfig {
        server: server.addr,
        peers: 300,
        batch: 128,
        timeout: Duration::from_secs(2),
    })
    .expect("populate runs");
    assert_eq!(report.registered, 300);
    // The walker sees everyone but itself.
    assert_eq!(report.list_peers, 300);
    assert_eq!(report.list_lost, 0);
    assert!(report.list_pages >= 2, "300 peers need several pages");
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

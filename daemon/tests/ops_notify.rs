//! sd_notify from `peerd server`: on a `NOTIFY_SOCKET` the test owns (a
//! Unix datagram socket in a temp dir), READY=1 with a STATUS= line once
//! the server serves, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on
//! SIGTERM. And nothing breaks when the socket is gone. The same from
//! `peerd start`: READY=1 once registered (or, with no server answering,
//! after a bounded wait, running offline), STOPPING=1 when told to stop.

mod ops_support;
mod support;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use ops_support::{command, stun_answered, udp_client, Proc, DEADLINE};

/// Every notification until one has a line `line` (or the deadline).
fn until(socket: &UnixDatagram, line: &str) -> Vec<String> {
    let end = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        socket
            .set_read_timeout(Some(
                end.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            ))
            .expect("timeout");
        let Ok(n) = socket.recv(&mut buf) else { break };
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        let found = message.lines().any(|l| l == line);
        seen.push(message);
        if found {
            return seen;
        }
    }
    panic!("no {line:?} on the notify socket; got {seen:?}");
}

#[test]
fn ready_watchdog_and_stopping_reach_the_notify_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind notify socket");
    let mut cmd = server_command(dir.path(), &path);
    // A 0.4 s watchdog: pings every 0.2 s.
    cmd.env("WATCHDOG_USEC", "400000");
    let mut server = Proc::spawn(cmd, &dir.path().join("server.log"));

    let got = until(&socket, "READY=1");
    let ready = got.last().expect("a message");
    let addr = server.udp_addr();
    assert!(
        ready
            .lines()
            .any(|l| l.starts_with("STATUS=listening on ") && l.contains(&addr.to_string())),
        "{ready:?}"
    );
    // READY came after the port was bound: the server answers at once.
    assert!(stun_answered(&udp_client(), addr, 7));

    // Pings keep coming while the server runs.
    for _ in 0..4 {
        until(&socket, "WATCHDOG=1");
    }

    server.terminate();
    let got = until(&socket, "STOPPING=1");
    assert!(
        got.last().is_some_and(|m| m.contains("STATUS=stopping")),
        "{got:?}"
    );
    assert!(server.wait_exit().success(), "{}", server.text());
}

#[test]
fn no_watchdog_without_watchdog_usec() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind notify socket");
    let mut server = Proc::spawn(
        server_command(dir.path(), &path),
        &dir.path().join("server.log"),
    );
    until(&socket, "READY=1");
    let addr = server.udp_addr();
    assert!(stun_answered(&udp_client(), addr, 3));
    // With a watchdog, the first ping goes out as soon as the loop runs,
    // so before the STOPPING that SIGTERM causes.
    server.terminate();
    let got = until(&socket, "STOPPING=1");
    assert!(!got.iter().any(|m| m.contains("WATCHDOG=1")), "{got:?}");
    assert!(server.wait_exit().success(), "{}", server.text());
}

#[test]
fn a_notify_socket_that_goes_away_is_harmless() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind notify socket");
    let mut cmd = server_command(dir.path(), &path);
    cmd.env("WATCHDOG_USEC", "200000");
    let mut server = Proc::spawn(cmd, &dir.path().join("server.log"));
    until(&socket, "READY=1");
    let addr = server.udp_addr();
    drop(socket);
    std::fs::remove_file(&path).expect("remove socket");
    // Watchdog pings now fail; the server keeps serving and stops cleanly.
    for id in 0..5 {
        assert!(stun_answered(&udp_client(), addr, id));
    }
    server.terminate();
    assert!(server.wait_exit().success(), "{}", server.text());
}

fn server_command(dir: &std::path::Path, notify: &std::path::Path) -> std::process::Command {
    let mut cmd = command(dir);
    cmd.args([
        "server",
        "--listen",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--db",
    ])
    .arg(dir.join("registry.sqlite3"))
    .env("NOTIFY_SOCKET", notify);
    cmd
}

#[test]
fn the_daemon_is_ready_once_registered_and_says_so() {
    let server = support::Server::fresh(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind notify socket");
    let mut daemon = support::Launch::new(server.addr, &dir.path().join("a"))
        .env("NOTIFY_SOCKET", path.as_os_str())
        .env("WATCHDOG_USEC", "400000")
        .spawn();
    let got = until(&socket, "READY=1");
    let ready = got.last().expect("a message");
    assert!(
        ready.lines().any(|l| l == "STATUS=registered as id 1"),
        "{got:?}"
    );
    // Registered before READY: the control socket answers with the id.
    // Nothing reads the notify socket meanwhile: the watchdog's pings fill
    // its queue, and the daemon must not stall on them.
    assert_eq!(daemon.peerctl(&["id"]).ok(), "1\n");
    for _ in 0..3 {
        until(&socket, "WATCHDOG=1");
    }
    assert!(daemon.stop().success());
    let got = until(&socket, "STOPPING=1");
    assert!(
        got.last().is_some_and(|m| m.contains("STATUS=stopping")),
        "{got:?}"
    );
}

#[test]
fn a_daemon_without_a_server_is_ready_after_a_bounded_wait_and_offline() {
    // A port nothing answers on.
    let silent = support::HeldPort::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind notify socket");
    let started = Instant::now();
    let daemon = support::Launch::new(silent.addr(), &dir.path().join("a"))
        .env("NOTIFY_SOCKET", path.as_os_str())
        .spawn();
    let got = until(&socket, "READY=1");
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "READY only after the wait ({:?}): {got:?}",
        started.elapsed()
    );
    assert!(
        got.last()
            .is_some_and(|m| m.contains("STATUS=running, not registered yet")),
        "{got:?}"
    );
    let status = daemon.peerctl(&["status"]).ok();
    assert!(!status.contains("registered as"), "{status}");
}

//! The control socket itself: mode 0600 in a 0700 directory, a stale socket
//! file replaced, a second daemon on a live socket refused with a clear
//! error, and malformed lines answered with an error while the daemon keeps
//! serving that client and the others.

mod support;

use std::os::unix::fs::PermissionsExt;

use peerd_shared::control::Command;
use serde_json::json;
use support::{Daemon, Launch, Proc, RawCtl, Scratch};

#[test]
fn socket_is_private_and_a_stale_one_is_replaced() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let data = tmp.path("a");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    // A socket file nobody listens on: what a crashed daemon leaves behind.
    let stale = std::os::unix::net::UnixListener::bind(data.join("peerd.sock")).expect("bind");
    drop(stale);
    assert!(data.join("peerd.sock").exists());

    let a = Daemon::start(server.addr, &data);
    let mode = std::fs::metadata(&a.socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode");

    // With --socket in a directory that does not exist yet, it is made 0700.
    let run_dir = tmp.path("run").join("peerd");
    let sock = run_dir.join("ctl.sock");
    let b = Launch::new(server.addr, &tmp.path("b"))
        .socket(&sock)
        .spawn();
    b.wait_ready();
    let dir_mode = std::fs::metadata(&run_dir)
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700, "socket dir mode");
    let mode = std::fs::metadata(&sock)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode");
}

#[test]
fn second_daemon_on_a_live_socket_is_refused() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let out = Proc::run(
        "a second peerd start",
        &mut Launch::new(server.addr, &tmp.path("b"))
            .socket(&a.socket)
            .command(),
    );
    assert!(!out.success(), "the second daemon must not start");
    let sock = a.socket.to_string_lossy();
    let pid = a.status().expect("status").pid.expect("pid");
    assert!(
        out.stderr.contains(&format!(
            "another peerd (pid {pid}) is running on the control socket {sock}"
        )),
        "{}",
        out.stderr
    );
    // The first one is untouched.
    assert!(a.request(Command::Id).is_ok());
}

#[test]
fn malformed_lines_get_errors_and_the_daemon_keeps_serving() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let id = a.wait_registered().get();
    let mut bad = RawCtl::connect(&a.socket);
    let mut good = RawCtl::connect(&a.socket);

    bad.write_raw(b"this is not json\n");
    let r = bad.read();
    assert_eq!(
        (r["ok"].clone(), r["error"]["code"].clone()),
        (json!(false), json!("bad_request")),
        "{r}"
    );
    bad.write_raw(b"{\"req\":3,\"cmd\":\"launch\"}\n");
    let r = bad.read();
    assert_eq!(r["error"]["code"], "bad_request", "{r}");
    assert_eq!(
        r["req"], 3,
        "the req is echoed even when the command is unknown"
    );
    bad.write_raw(b"{\"cmd\":\"id\",\"extra\":1}\n");
    assert_eq!(bad.read()["error"]["code"], "bad_request");
    let mut long = vec![b'x'; 70 * 1024];
    long.push(b'\n');
    bad.write_raw(&long);
    assert_eq!(bad.read()["error"]["code"], "line_too_long");

    // The other client was never disturbed, and the bad one still works.
    assert_eq!(good.request(r#"{"cmd":"id"}"#)["result"]["id"], id);
    assert_eq!(bad.request(r#"{"cmd":"id"}"#)["result"]["id"], id);

    // Pipelined requests are answered once each, in order.
    let mut lines = Vec::new();
    for req in 0..50 {
        lines.extend_from_slice(format!("{{\"req\":{req},\"cmd\":\"status\"}}\n").as_bytes());
    }
    good.write_raw(&lines);
    for req in 0..50 {
        let r = good.read();
        assert_eq!(r["req"], req, "{r}");
        assert_eq!(r["result"]["kind"], "status", "{r}");
    }
}

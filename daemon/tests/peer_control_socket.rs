//! The control socket itself: mode 0600 in a 0700 directory, a stale socket
//! file replaced, a second daemon on a live socket refused with a clear
//! error, and malformed lines answered with an error while the daemon keeps
//! serving that client and the others.

mod peer_support;

use std::os::unix::fs::PermissionsExt;

use peer_support::{daemon_command, wait_for, Ctl, Daemon, Lab, DEADLINE};
use serde_json::json;

#[test]
fn socket_is_private_and_a_stale_one_is_replaced() {
    let lab = Lab::new();
    let server = lab.server();
    let data = lab.path("a");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    // A socket file nobody listens on: what a crashed daemon leaves behind.
    let stale = std::os::unix::net::UnixListener::bind(data.join("peerd.sock")).expect("bind");
    drop(stale);
    assert!(data.join("peerd.sock").exists());

    let a = Daemon::start(server.addr, &data);
    a.wait_registered();
    let mode = std::fs::metadata(&a.socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode");

    // With --socket in a directory that does not exist yet, it is made 0700.
    let run_dir = lab.path("run").join("peerd");
    let sock = run_dir.join("ctl.sock");
    let sock_arg = sock.to_string_lossy().into_owned();
    let b = Daemon::spawn(server.addr, &lab.path("b"), &["--socket", &sock_arg]);
    wait_for("b's socket", DEADLINE, || Ctl::try_connect(&sock));
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
    drop(b);
}

#[test]
fn second_daemon_on_a_live_socket_is_refused() {
    let lab = Lab::new();
    let server = lab.server();
    let a = Daemon::start(server.addr, &lab.path("a"));
    let sock = a.socket.to_string_lossy().into_owned();
    let out = daemon_command(server.addr, &lab.path("b"), &["--socket", &sock])
        .output()
        .expect("run a second daemon");
    assert!(!out.status.success(), "the second daemon must not start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("another peerd is running on {sock}")),
        "{stderr}"
    );
    // The first one is untouched.
    assert_eq!(a.request(&json!({"cmd": "id"}))["ok"], true);
}

#[test]
fn malformed_lines_get_errors_and_the_daemon_keeps_serving() {
    let lab = Lab::new();
    let server = lab.server();
    let a = Daemon::start(server.addr, &lab.path("a"));
    let id = a.wait_registered();
    let mut bad = Ctl::connect(&a.socket);
    let mut good = Ctl::connect(&a.socket);

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
    assert_eq!(good.request(&json!({"cmd": "id"}))["result"]["id"], id);
    assert_eq!(bad.request(&json!({"cmd": "id"}))["result"]["id"], id);

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

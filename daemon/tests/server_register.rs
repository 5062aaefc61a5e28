//! REGISTER handshakes against the real binary: ids from 1, the same key
//! keeps its id (from the same socket or a new one, which moves the peer),
//! REGISTERED and KEEPALIVE_ACK carry the observed address and the
//! announced keepalive, roaming on an authenticated frame, the log lines,
//! flags, `--help` and a clean shutdown on SIGTERM and SIGINT.

mod support;

use std::process::Command;

use peerd_shared::proto::{Body, RespPayload};
use support::*;

#[test]
fn new_keys_get_ids_from_one_and_the_same_key_keeps_its_id() {
    let server = Server::fresh(&[]);
    assert!(
        server.db.exists(),
        "the database and its parent dirs are created"
    );
    let mut peers: Vec<Peer> = (0..3).map(|_| Peer::join(&server)).collect();
    let ids: Vec<u64> = peers.iter().map(|p| p.id.get()).collect();
    assert_eq!(ids, [1, 2, 3]);
    for p in &peers {
        assert_eq!(p.seen_as, p.client.addr(), "REGISTERED carries the source");
        assert_eq!(p.keepalive, 25, "the default keepalive");
    }

    // A new handshake of the same key from the same socket: same id.
    let again = peers[1].register();
    assert_eq!(
        again,
        RespPayload::Registered {
            id: peers[1].id,
            keepalive: 25,
            addr: peers[1].client.addr()
        }
    );
    let ack = peers[1].call(Req::Keepalive);
    assert_eq!(
        ack.body(),
        Body::KeepaliveAck {
            seq: ack.seq().expect("a seq"),
            keepalive: 25,
            addr: peers[1].client.addr()
        }
    );

    for p in &peers {
        server.wait_for_log(&format!("REGISTER from {} -> id {}", p.client.addr(), p.id));
    }
    server.wait_for_log(&format!("-> id {} (new)", peers[2].id));
    // The server's private key is never logged.
    let secret = std::fs::read_to_string(server.db.with_file_name("server.key")).expect("key");
    let logs = server.logs().join("\n");
    assert!(!logs.contains(secret.trim()), "the private key was logged");
}

#[test]
fn the_same_key_from_a_new_socket_moves_the_peer_and_frames_roam() {
    let server = Server::fresh(&[]);
    let a = Peer::join(&server);
    let mut watcher = Peer::join(&server);

    let moved_keys = Keys::with(a.keys.identity.clone(), server.key());
    let mut moved = Peer::join_with(server.client(), moved_keys);
    assert_eq!(moved.id, a.id, "same key, same id");
    assert_eq!(moved.seen_as, moved.client.addr());
    let (listed, _) = watcher.call(Req::List(0)).listed();
    assert_eq!(
        listed,
        [(a.id, moved.client.addr())],
        "others see the new address"
    );

    // INTRO goes to the new address, on the new session.
    let ack = watcher.call(Req::Connect(a.id));
    assert!(
        matches!(ack.body(), Body::ConnectAck { addr, key, .. } if addr == moved.client.addr() && key == a.keys.public()),
        "{:?}",
        ack.body()
    );
    assert!(
        matches!(moved.next().body(), Body::Intro { from, .. } if from == watcher.id),
        "INTRO at the new socket"
    );

    // An authenticated frame from yet another socket moves the peer there.
    moved.client = server.client();
    let ack = moved.call(Req::Keepalive);
    assert!(matches!(ack.body(), Body::KeepaliveAck { addr, .. } if addr == moved.client.addr()));
    let (listed, _) = watcher.call(Req::List(0)).listed();
    assert_eq!(listed, [(a.id, moved.client.addr())], "roamed");
    server.wait_for_log(&format!("id {} moved to {}", a.id, moved.client.addr()));
}

#[test]
fn keepalive_flag_is_announced() {
    let server = Server::fresh(&["--keepalive", "7"]);
    let mut p = Peer::join(&server);
    assert_eq!((p.id.get(), p.keepalive), (1, 7));
    let ack = p.call(Req::Keepalive);
    assert!(matches!(
        ack.body(),
        Body::KeepaliveAck { keepalive: 7, .. }
    ));
    server.wait_for_log("keepalive 7 s");
}

#[test]
fn help_explains_every_flag() {
    let out = Proc::run(
        "peerd server --help",
        Command::new(peerd_bin()).args(["server", "--help"]),
    );
    assert!(out.success());
    let text = out.stdout;
    for flag in [
        "--listen",
        "--db",
        "--keepalive",
        "--rate-limit",
        "--rate-burst",
        "--global-rate-limit",
        "--replay-cache",
        "--key-file",
        "--print-key",
        "--handshake-limit",
        "--cookie-threshold",
        "0.0.0.0:8080",
        "protocol v2",
    ] {
        assert!(
            text.contains(flag),
            "--help does not mention {flag}:\n{text}"
        );
    }
}

#[test]
fn bad_flags_are_refused() {
    for args in [
        &["--keepalive", "0"][..],
        &["--listen", "nowhere"],
        &["--handshake-limit", "-1"],
        &["--cookie-threshold", "many"],
        &["--print-key", "yes"],
    ] {
        let out = Proc::run(
            "peerd server with a bad flag",
            Command::new(peerd_bin()).arg("server").args(args),
        );
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
    }
}

#[test]
fn sigterm_and_sigint_stop_the_server_cleanly() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut server = Server::fresh(&[]);
        let _peer = Peer::join(&server);
        server.signal(signal);
        let status = server.wait_exit();
        assert!(status.success(), "exit status {status}");
        server.wait_for_log("stopped");
    }
}

#[test]
fn an_unusable_database_path_stops_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let out = Proc::run(
        "peerd server with an unusable database path",
        Command::new(peerd_bin())
            .args(["server", "--listen", "127.0.0.1:0", "--db"])
            .arg(file.join("registry.sqlite3")),
    );
    assert!(!out.success());
    assert!(
        out.stderr.contains("cannot create directory"),
        "{}",
        out.stderr
    );
}

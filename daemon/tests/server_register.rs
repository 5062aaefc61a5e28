//! REGISTER against the real binary: dense ids from 1, the same token keeps
//! its id, a new address updates the registration, the log lines, flags,
//! `--help` and a clean SIGTERM shutdown.

mod support;

use std::process::Command;

use peerd_shared::wire::{ErrorCode, Packet};
use peerd_shared::{PeerId, Seq};
use support::*;

#[test]
fn new_tokens_get_ids_from_one_and_the_same_token_keeps_its_id() {
    let server = Server::fresh(&[]);
    assert!(
        server.db.exists(),
        "the database and its parent dirs are created"
    );
    let peers: Vec<Peer> = (0..3).map(|_| Peer::join(&server)).collect();
    let ids: Vec<u64> = peers.iter().map(|p| p.id.get()).collect();
    assert_eq!(ids, [1, 2, 3]);

    // A refresh from the same socket: same id, default keepalive 25.
    let again = peers[1].client.call(&register_json(9, &peers[1].token));
    let Packet::RegisterAck {
        seq,
        id,
        addr,
        keepalive,
    } = again
    else {
        panic!("unexpected {again:?}");
    };
    assert_eq!(
        (seq, id, addr, keepalive),
        (Seq(9), peers[1].id, peers[1].client.addr(), 25)
    );

    for p in &peers {
        server.wait_for_log(&format!("REGISTER from {} -> id {}", p.client.addr(), p.id));
    }
    let logs = server.logs().join("\n");
    for p in &peers {
        assert!(!logs.contains(&p.token), "a token was logged");
    }
}

#[test]
fn register_from_a_new_address_moves_the_peer() {
    let server = Server::fresh(&[]);
    let mut a = Peer::join(&server);
    let mut watcher = Peer::join(&server);

    let moved = server.client();
    let reply = moved.call(&register_json(5, &a.token));
    assert!(
        matches!(reply, Packet::RegisterAck { id, addr, .. } if id == a.id && addr == moved.addr())
    );

    // The old address is no longer the registered one.
    assert_eq!(code_of(&a.call("LIST", "")), ErrorCode::Unauthorized);
    // Others see the new address.
    let Packet::ListAck { peers, .. } = watcher.call("LIST", "") else {
        panic!("LIST failed");
    };
    let entry = peers.iter().find(|p| p.id == a.id).expect("a is listed");
    assert_eq!(entry.addr, moved.addr());
    // Requests from the new address work.
    let text = request_json("LIST", 6, a.id, &a.token, "");
    assert!(matches!(moved.call(&text), Packet::ListAck { .. }));
}

#[test]
fn keepalive_flag_is_announced() {
    let server = Server::fresh(&["--keepalive", "7"]);
    let c = server.client();
    let reply = c.call(&register_json(1, &new_token()));
    assert!(
        matches!(reply, Packet::RegisterAck { keepalive: 7, id, .. } if id == PeerId::new(1).unwrap())
    );
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
        "0.0.0.0:8080",
    ] {
        assert!(
            text.contains(flag),
            "--help does not mention {flag}:\n{text}"
        );
    }
}

#[test]
fn bad_flags_are_refused() {
    for args in [["--keepalive", "0"], ["--listen", "nowhere"]] {
        let out = Proc::run(
            "peerd server with a bad flag",
            Command::new(peerd_bin()).arg("server").args(args),
        );
        assert!(!out.success(), "{args:?} accepted");
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

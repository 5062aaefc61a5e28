//! The registry of ids on disk: ids survive a clean restart and a `kill -9`
//! right after the REGISTER_ACK; a database that cannot store a new id gives
//! `internal` (and that id is never handed out) while the hot path keeps
//! answering without touching the disk.

mod support;

use std::time::{Duration, Instant};

use peerd_shared::wire::{ErrorCode, Packet};
use peerd_shared::PeerId;
use support::*;

fn id_of(server: &Server, token: &str) -> PeerId {
    match server.client().call(&register_json(1, token)) {
        Packet::RegisterAck { id, .. } => id,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn ids_survive_a_clean_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("registry.sqlite3");
    let tokens: Vec<String> = (0..3).map(|_| new_token()).collect();
    let mut server = Server::start("127.0.0.1:0", &db, &[]);
    for (i, t) in tokens.iter().enumerate() {
        assert_eq!(id_of(&server, t).get(), i as u64 + 1);
    }
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    drop(server);

    let server = Server::start("127.0.0.1:0", &db, &[]);
    server.wait_for_log("3 ids");
    for (i, t) in tokens.iter().enumerate().rev() {
        assert_eq!(
            id_of(&server, t).get(),
            i as u64 + 1,
            "token {i} after restart"
        );
    }
    assert_eq!(
        id_of(&server, &new_token()).get(),
        4,
        "a new token continues the sequence"
    );
}

#[test]
fn acknowledged_ids_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("registry.sqlite3");
    let server = Server::start("127.0.0.1:0", &db, &[]);
    let peers = join_many(&server, 200);
    let last = Peer::join(&server);
    // SIGKILL the moment the last REGISTER_ACK arrived.
    server.signal(libc::SIGKILL);
    drop(server);

    let server = Server::start("127.0.0.1:0", &db, &[]);
    for p in peers.iter().chain(std::iter::once(&last)) {
        assert_eq!(id_of(&server, &p.token), p.id, "id lost by kill -9");
    }
    assert_eq!(id_of(&server, &new_token()).get(), 202);
}

#[test]
fn a_database_that_cannot_store_gives_internal_and_the_hot_path_is_unaffected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("registry.sqlite3");
    let server = Server::start("127.0.0.1:0", &db, &[]);
    let mut a = Peer::join(&server);
    let b = Peer::join(&server);

    // Another process holds the write lock: the writer's insert times out.
    let lock = rusqlite::Connection::open(&db).expect("open db");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");

    let newcomer = server.client();
    let token = new_token();
    newcomer.send(register_json(5, &token).as_bytes());
    // Meanwhile refresh, LIST and CONNECT are answered at once.
    let started = Instant::now();
    assert!(matches!(
        a.client.call(&register_json(2, &a.token)),
        Packet::RegisterAck { .. }
    ));
    assert!(matches!(a.call("LIST", ""), Packet::ListAck { peers, .. } if peers.len() == 1));
    assert!(matches!(
        a.call("CONNECT", &format!(r#","target":{}"#, b.id)),
        Packet::ConnectAck { .. }
    ));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "hot path waited for the disk"
    );
    // A retry of the pending REGISTER is not answered before the database.
    newcomer.send(register_json(5, &token).as_bytes());

    let reply = newcomer.recv();
    assert_eq!(code_of(&reply), ErrorCode::Internal);
    assert!(matches!(reply, Packet::Error { seq, .. } if seq.0 == 5));
    newcomer.expect_silence(Duration::from_millis(200));
    lock.execute_batch("ROLLBACK").expect("release the lock");

    // The id that failed (3) is never handed out: the retry gets 4.
    let again = newcomer.call(&register_json(6, &token));
    assert!(
        matches!(again, Packet::RegisterAck { id, .. } if id.get() == 4),
        "{again:?}"
    );
    assert_eq!(
        code_of(&a.call("CONNECT", r#","target":3"#)),
        ErrorCode::UnknownPeer
    );
}

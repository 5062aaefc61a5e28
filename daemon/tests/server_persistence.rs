//! The registry of keys and ids on disk (docs/protocol.md 5.1): the same
//! key gets the same id across a clean restart and a `kill -9` right after
//! its REGISTERED, the server keeps its own key, an id is never given to
//! two keys (not even to keys in flight when the server was killed), a
//! replayed handshake stays refused after a restart (the timestamps are on
//! disk: every one after a clean stop, a new key's retried INIT included;
//! after `kill -9` the one stored with a new id), and the ids of a
//! protocol v1 database stay reserved. A database
//! that cannot store a new id gives `internal` (and that id is never handed
//! out) while the hot path keeps answering without waiting for the disk.

mod support;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use peerd_shared::proto::{Body, ErrorCode, Frame, Initiator, PublicKey, RespPayload};
use peerd_shared::PeerId;
use support::*;

const QUIET: Duration = Duration::from_millis(300);

/// `keys` registered again with `server` (the same key pairs, each from a
/// new socket); their ids.
fn ids_of(server: &Server, keys: &[Keys]) -> Vec<PeerId> {
    let key = server.key();
    let again = keys
        .iter()
        .map(|k| Keys::with(k.identity.clone(), key))
        .collect();
    join_all(server, again).iter().map(|p| p.id).collect()
}

/// The id a new key gets.
fn new_id(server: &Server) -> u64 {
    Peer::join(server).id.get()
}

/// Sends each INIT in `inits` again and asserts none is answered.
fn replays_refused(server: &Server, inits: &[Vec<u8>]) {
    let c = server.client();
    for init in inits {
        c.send(init);
    }
    c.expect_silence(QUIET);
}

#[test]
fn ids_survive_a_clean_restart_and_replays_stay_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("registry.sqlite3");
    let mut server = Server::start("127.0.0.1:0", &db, &[]);
    let key = server.key();
    let mut peers: Vec<Peer> = (0..3).map(|_| Peer::join(&server)).collect();
    let ids: Vec<u64> = peers.iter().map(|p| p.id.get()).collect();
    assert_eq!(ids, [1, 2, 3]);
    // A refresh by a new handshake: its timestamp goes to disk too.
    peers[0].register();
    let inits: Vec<Vec<u8>> = peers.iter().map(|p| p.init.clone()).collect();
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    drop(server);

    let server = Server::start("127.0.0.1:0", &db, &[]);
    server.wait_for_log("3 ids");
    assert_eq!(server.key(), key, "the server keeps its key");
    replays_refused(&server, &inits);
    let mut keys: Vec<Keys> = peers.iter().map(|p| p.keys.clone()).collect();
    keys.reverse();
    let again: Vec<u64> = ids_of(&server, &keys).iter().map(|id| id.get()).collect();
    assert_eq!(again, [3, 2, 1], "the same key, the same id");
    assert_eq!(new_id(&server), 4, "a new key continues the sequence");
}

/// A new key's INIT in flight: its socket, keys and bytes, and the
/// handshake until it is answered.
struct Flying {
    client: Client,
    keys: Keys,
    init: Vec<u8>,
    waiting: Option<Initiator>,
}

impl Flying {
    /// A new key's first INIT, sent.
    fn start(server: &Server, key: PublicKey) -> Self {
        let client = server.client();
        let mut keys = Keys::new(key);
        let (init, waiting) = keys.init();
        client.send(&init);
        Self {
            client,
            keys,
            init,
            waiting: Some(waiting),
        }
    }
}

/// Reads the answers that came to the keys in flight (waiting `wait` on
/// each socket) into `answered`: the ids, by index.
fn read_answers(flying: &mut [Flying], wait: Duration, answered: &mut HashMap<usize, PeerId>) {
    for (i, f) in flying.iter_mut().enumerate() {
        let Some(bytes) = f.client.recv_within(wait) else {
            continue;
        };
        let Ok(Frame::Resp(resp)) = Frame::parse(&bytes) else {
            panic!("not a handshake response: {bytes:02x?}");
        };
        let init = f.waiting.take().expect("one answer per INIT");
        let Ok((_, RespPayload::Registered { id, .. })) = init.finish(&f.keys.identity, &resp)
        else {
            panic!("INIT {i} answered with no id");
        };
        answered.insert(i, id);
    }
}

#[test]
fn acknowledged_ids_survive_kill_9_and_no_id_is_given_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("registry.sqlite3");
    let server = Server::start("127.0.0.1:0", &db, &["--handshake-limit", "0"]);
    let key = server.key();
    let mut acked: Vec<Peer> = join_many(&server, 200);
    acked.push(Peer::join(&server));

    // 50 more new keys in flight: 25 sent until one of them is answered,
    // 25 more right before SIGKILL. Some are stored, some perhaps not.
    let mut flying: Vec<Flying> = (0..25).map(|_| Flying::start(&server, key)).collect();
    let mut answered: HashMap<usize, PeerId> = HashMap::new();
    poll("a key in flight to be answered", || {
        read_answers(&mut flying, Duration::from_millis(1), &mut answered);
        (!answered.is_empty()).then_some(())
    });
    flying.extend((0..25).map(|_| Flying::start(&server, key)));
    server.signal(libc::SIGKILL);
    drop(server);
    // Answers sent before the kill.
    read_answers(&mut flying, Duration::from_millis(20), &mut answered);
    eprintln!(
        "{} of 50 keys in flight answered before kill -9",
        answered.len()
    );

    let server = Server::start("127.0.0.1:0", &db, &["--handshake-limit", "0"]);
    assert_eq!(server.key(), key);
    // A new key's answered INIT has its timestamp in the row of its id,
    // on disk before the answer: its replay is refused.
    let inits: Vec<Vec<u8>> = answered.keys().map(|&i| flying[i].init.clone()).collect();
    replays_refused(&server, &inits);
    let keys: Vec<Keys> = acked.iter().map(|p| p.keys.clone()).collect();
    for (p, id) in acked.iter().zip(ids_of(&server, &keys)) {
        assert_eq!(id, p.id, "id lost by kill -9");
    }
    let flying_keys: Vec<Keys> = flying.into_iter().map(|f| f.keys).collect();
    let flying_ids = ids_of(&server, &flying_keys);
    for (i, id) in &answered {
        assert_eq!(flying_ids[*i], *id, "an answered key in flight kept its id");
    }
    let all: HashSet<PeerId> = acked
        .iter()
        .map(|p| p.id)
        .chain(flying_ids.iter().copied())
        .collect();
    assert_eq!(all.len(), 251, "no id was given to two keys");
    let top = all.iter().map(|id| id.get()).max().expect("ids");
    assert!(new_id(&server) > top, "a new key gets a new id");
}

/// A database as protocol v1 left it: tokens with ids 1 to `n`.
fn v1_database(db: &Path, n: u64) {
    let conn = rusqlite::Connection::open(db).expect("create the database");
    conn.execute_batch(
        "CREATE TABLE peers (
             id      INTEGER PRIMARY KEY,
             token   BLOB NOT NULL UNIQUE,
             created INTEGER NOT NULL
         );",
    )
    .expect("v1 schema");
    for id in 1..=n {
        conn.execute(
            "INSERT INTO peers (id, token, created) VALUES (?1, ?2, 0)",
            rusqlite::params![id as i64, vec![id as u8; 16]],
        )
        .expect("a v1 row");
    }
}

#[test]
fn ids_of_a_protocol_v1_database_stay_reserved() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("registry.sqlite3");
    v1_database(&db, 3);
    let mut server = Server::start("127.0.0.1:0", &db, &[]);
    let p = Peer::join(&server);
    assert_eq!(p.id.get(), 4, "ids 1 to 3 belonged to v1 tokens");
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    drop(server);

    let server = Server::start("127.0.0.1:0", &db, &[]);
    assert_eq!(ids_of(&server, std::slice::from_ref(&p.keys)), [p.id]);
    assert_eq!(new_id(&server), 5);
    let conn = rusqlite::Connection::open(&db).expect("open");
    let tokens: i64 = conn
        .query_row("SELECT COUNT(*) FROM peers", [], |r| r.get(0))
        .expect("the v1 table is kept");
    assert_eq!(tokens, 3);
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

    // A new key, and a retry of its handshake while the first waits for
    // the database: the retry replaces the first.
    let newcomer = server.client();
    let mut keys = Keys::new(server.key());
    let (first, _) = keys.init();
    newcomer.send(&first);
    let (retry, init) = keys.init();
    newcomer.send(&retry);

    // Meanwhile KEEPALIVE, LIST, CONNECT and a handshake of a known key
    // are answered, before the new key is (had the loop waited for the
    // disk, the newcomer's answer would come first).
    assert!(matches!(
        a.call(Req::Keepalive).body(),
        Body::KeepaliveAck { .. }
    ));
    assert_eq!(a.call(Req::List(0)).listed().0, [(b.id, b.client.addr())]);
    assert!(matches!(
        a.call(Req::Connect(b.id)).body(),
        Body::ConnectAck { .. }
    ));
    assert!(matches!(a.register(), RespPayload::Registered { id, .. } if id == a.id));
    assert!(
        newcomer.recv_within(Duration::from_millis(1)).is_none(),
        "the new key was answered before its id was stored"
    );

    // The answer: a HANDSHAKE_RESP to the retry carrying ERROR internal,
    // no longer than the INIT; then nothing more.
    let reply = newcomer.recv();
    assert!(reply.len() <= retry.len(), "no amplification");
    let Ok(Frame::Resp(resp)) = Frame::parse(&reply) else {
        panic!("not a handshake response: {reply:02x?}");
    };
    assert_eq!(resp.receiver, init.sender, "the newest INIT is answered");
    let (_, payload) = init.finish(&keys.identity, &resp).expect("authenticates");
    let RespPayload::Refused { code, message } = payload else {
        panic!("{payload:?}");
    };
    assert_eq!(code, ErrorCode::Internal);
    assert!(!message.is_empty() && message.len() <= 62, "{message:?}");
    newcomer.expect_silence(QUIET);
    server.wait_for_log("internal: id 3 not stored");
    lock.execute_batch("ROLLBACK").expect("release the lock");

    // The id that failed (3) is never handed out: the retry gets 4.
    let again = Peer::join_with(newcomer, keys);
    assert_eq!(again.id.get(), 4);
    let three = PeerId::new(3).expect("id");
    assert_eq!(a.call(Req::Connect(three)).code(), ErrorCode::UnknownPeer);
    let ack = a.call(Req::Connect(again.id));
    assert!(
        matches!(ack.body(), Body::ConnectAck { key, .. } if key == again.keys.public()),
        "{:?}",
        ack.body()
    );
}

#[test]
fn the_answered_retry_of_a_new_key_stays_refused_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("registry.sqlite3");
    let mut server = Server::start("127.0.0.1:0", &db, &[]);
    let mut a = Peer::join(&server);

    // A new key's handshake is retried while its id is being stored (the
    // database is held a moment): the retry, newer, is the one answered.
    let lock = rusqlite::Connection::open(&db).expect("open db");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let c = server.client();
    let mut keys = Keys::new(server.key());
    let (first, _) = keys.init();
    c.send(&first);
    let (retry, init) = keys.init();
    c.send(&retry);
    // Handled in order after both INITs.
    assert!(matches!(
        a.call(Req::Keepalive).body(),
        Body::KeepaliveAck { .. }
    ));
    lock.execute_batch("ROLLBACK").expect("release the lock");
    let answer = c.recv();
    let Ok(Frame::Resp(resp)) = Frame::parse(&answer) else {
        panic!("not a handshake response: {answer:02x?}");
    };
    assert_eq!(resp.receiver, init.sender, "the retry is answered");
    let (_, payload) = init.finish(&keys.identity, &resp).expect("authenticates");
    assert!(
        matches!(payload, RespPayload::Registered { .. }),
        "{payload:?}"
    );

    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    drop(server);
    let server = Server::start("127.0.0.1:0", &db, &[]);
    replays_refused(&server, &[first, retry]);
}

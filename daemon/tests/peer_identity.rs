//! The identity: the key pair is created once (`identity.key`, mode 0600),
//! never logged, and the same data dir always comes back with the same id,
//! across daemon restarts and across a server restart on the same
//! database; a protocol v1 data dir (a `token`) gets a key and a new id.

mod support;

use std::os::unix::fs::PermissionsExt;

use peerd_shared::control::{Command, Response};
use support::{poll, Daemon, Scratch, Server};

#[test]
fn id_is_stable_across_daemon_and_server_restarts() {
    let tmp = Scratch::new();
    // Short keepalive: after a server restart every daemon is back within 1 s.
    let keepalive = ["--keepalive", "1"];
    let server = tmp.server_with(&keepalive);
    let addr = server.addr;
    let mut a = Daemon::start(addr, &tmp.path("a"));
    let mut b = Daemon::start(addr, &tmp.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();

    let key = tmp.path("a").join("identity.key");
    let mode = std::fs::metadata(&key)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "key file mode");
    let dir_mode = std::fs::metadata(tmp.path("a"))
        .expect("data dir")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700, "data dir mode");
    let text = std::fs::read_to_string(&key).expect("read key");
    assert_eq!(text.trim().len(), 44, "base64 of 32 bytes");
    assert!(
        a.logs().iter().all(|l| !l.contains(text.trim())),
        "the private key is never logged"
    );

    // Daemon restart (clean stop, then kill -9): same id.
    assert!(a.stop().success());
    let a = Daemon::spawn(addr, &tmp.path("a"), &[]);
    a.wait_ready();
    // The id is known before registering again (remembered in the store).
    let Ok(Response::Id { id, .. }) = a.request(Command::Id) else {
        panic!("no id from the restarted daemon");
    };
    assert_eq!(id, Some(ida));
    assert_eq!(a.wait_registered(), ida);
    b.kill9();
    let b = Daemon::start(addr, &tmp.path("b"));
    assert_eq!(b.wait_registered(), idb);

    // Server restart on the same port and database: same ids, and the
    // daemons register again by themselves.
    let db = server.db.clone();
    drop(server);
    let server = Server::start(&addr.to_string(), &db, &keepalive);
    assert_eq!(server.addr, addr);
    let c = Daemon::start(addr, &tmp.path("c"));
    let idc = c.wait_registered();
    assert!(idc > ida.max(idb), "new key, new id");
    assert_eq!(a.wait_registered(), ida);
    assert_eq!(b.wait_registered(), idb);
    // Messages flow again once both have refreshed on the new server.
    a.send(idb, "after the server restart", false)
        .expect("send after the server restart");
    poll("delivery after the server restart", || {
        b.texts_from(ida)
            .iter()
            .any(|t| t == "after the server restart")
            .then_some(())
    });
    server.wait_for_log("REGISTER");
}

#[test]
fn a_protocol_v1_data_dir_gets_a_key_and_a_new_id() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let first = Daemon::start(server.addr, &tmp.path("first"));
    assert_eq!(first.wait_registered().get(), 1);
    // A v1 data dir: a token, and the id v1 gave it in the store's meta.
    let old = tmp.path("old");
    std::fs::create_dir_all(&old).expect("dir");
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o700)).expect("mode");
    std::fs::write(old.join("token"), "00112233445566778899aabbccddeeff\n").expect("token");
    let d = Daemon::start(server.addr, &old);
    assert_eq!(d.wait_registered().get(), 2, "the new key gets the next id");
    assert!(
        old.join("token.v1").exists() && !old.join("token").exists(),
        "retired"
    );
    assert!(old.join("identity.key").exists());
    support::poll("the retirement in the log", || {
        d.logs()
            .iter()
            .any(|l| l.contains("protocol v1 token"))
            .then_some(())
    });
}

//! The identity: the token is created once (mode 0600), and the same data
//! dir always comes back with the same id, across daemon restarts and
//! across a server restart on the same database.

mod peer_support;

use std::os::unix::fs::PermissionsExt;

use peer_support::{texts_from, wait_for, Daemon, Lab, Server, DEADLINE};
use serde_json::json;

#[test]
fn id_is_stable_across_daemon_and_server_restarts() {
    let lab = Lab::new();
    // Short keepalive: after a server restart every daemon is back within 1 s.
    let server = lab.server_keepalive(1);
    let addr = server.addr;
    let mut a = Daemon::start(addr, &lab.path("a"));
    let mut b = Daemon::start(addr, &lab.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();

    let token = lab.path("a").join("token");
    let mode = std::fs::metadata(&token)
        .expect("token file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "token file mode");
    let dir_mode = std::fs::metadata(lab.path("a"))
        .expect("data dir")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700, "data dir mode");
    let text = std::fs::read_to_string(&token).expect("read token");
    assert!(
        a.logs().iter().all(|l| !l.contains(text.trim())),
        "the token is never logged"
    );

    // Daemon restart (clean stop, then kill -9): same id.
    let stop = a.request(&json!({"cmd": "stop"}));
    assert_eq!(stop["ok"], true, "{stop}");
    assert!(a.wait_exit().success());
    let a = Daemon::start(addr, &lab.path("a"));
    // The id is known before registering again (remembered in the store).
    assert_eq!(a.request(&json!({"cmd": "id"}))["result"]["id"], ida);
    assert_eq!(a.wait_registered(), ida);
    b.kill9();
    let b = Daemon::start(addr, &lab.path("b"));
    assert_eq!(b.wait_registered(), idb);

    // Server restart on the same port and database: same ids, and the
    // daemons register again by themselves.
    let db = server.db.clone();
    drop(server);
    let server = Server::start_with(&addr.to_string(), &db, &["--keepalive", "1"]);
    assert_eq!(server.addr, addr);
    let c = Daemon::start(addr, &lab.path("c"));
    let idc = c.wait_registered();
    assert!(idc > ida.max(idb), "new token, new id");
    assert_eq!(a.wait_registered(), ida);
    assert_eq!(b.wait_registered(), idb);
    // Messages flow again once both have refreshed on the new server.
    let r = a.send(idb, "after the server restart", false);
    assert_eq!(r["ok"], true, "{r}");
    wait_for("delivery after the server restart", DEADLINE, || {
        texts_from(&b.inbox(), ida)
            .iter()
            .any(|t| t == "after the server restart")
            .then_some(())
    });
    assert!(
        server.logs().iter().any(|l| l.contains("REGISTER")),
        "server saw registrations"
    );
}

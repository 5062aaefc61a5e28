//! Keys from the user's side, through the real `peerctl`: `key` shows this
//! daemon's key and the one pinned for a peer; when the server later gives
//! another key for a pinned id (here: the server lost its database, so ids
//! start over and id 2 is someone else), messages to that id are refused
//! with `key_changed`, `key ID` shows both keys, and only `trust ID FP`
//! with the offered key's fingerprint lets messages flow again, for good.
//! A server that comes back with another key of its own is refused, with
//! both fingerprints and how to re-pin, until the daemon is given the new
//! key.

mod support;

use peerctl::client::ClientError;
use peerd_shared::control::ErrorKind;
use support::{peer, poll, Daemon, Scratch, Server};

/// `peerctl --json key [ID]` as JSON.
fn key_json(d: &Daemon, id: Option<u64>) -> serde_json::Value {
    let id = id.map(|i| i.to_string());
    let mut args = vec!["--json", "key"];
    args.extend(id.as_deref());
    d.peerctl(&args).json()
}

#[test]
fn a_changed_key_is_refused_until_its_fingerprint_is_trusted() {
    let tmp = Scratch::new();
    let key_file = tmp.path("server.key");
    let key_arg = ["--key-file", key_file.to_str().expect("utf-8 path")];
    let server = Server::start("127.0.0.1:0", &tmp.path("one.sqlite3"), &key_arg);
    let addr = server.addr;
    let mut a = Daemon::start(addr, &tmp.path("a"));
    let mut b = Daemon::start(addr, &tmp.path("b"));
    assert_eq!(a.wait_registered(), peer(1));
    assert_eq!(b.wait_registered(), peer(2));
    a.send(peer(2), "hello b", true).expect("delivered to b");

    // Own key: the same in `id --json`, `key` and `status`.
    let b_own = key_json(&b, None);
    let b_fp = b_own["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_owned();
    assert_eq!(b_own["key"].as_str().map(str::len), Some(44));
    assert_eq!(
        b.peerctl(&["--json", "status"]).json()["fingerprint"],
        b_fp.as_str()
    );
    let human = b.peerctl(&["key"]).ok();
    assert!(
        human.contains(&b_fp) && human.contains("this daemon"),
        "{human}"
    );
    // What a pinned for id 2 is b's key.
    let pinned = key_json(&a, Some(2));
    assert_eq!(pinned["fingerprint"], b_fp.as_str());
    assert!(pinned.get("offered").is_none(), "{pinned}");

    // The server comes back on the same address and key with an empty
    // database: two newcomers take ids 1 and 2.
    assert!(a.stop().success());
    assert!(b.stop().success());
    drop(server);
    let server = Server::start(&addr.to_string(), &tmp.path("two.sqlite3"), &key_arg);
    let d = Daemon::start(addr, &tmp.path("d"));
    assert_eq!(d.wait_registered(), peer(1));
    let e = Daemon::start(addr, &tmp.path("e"));
    assert_eq!(e.wait_registered(), peer(2));
    let e_fp = key_json(&e, None)["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_owned();
    assert_ne!(e_fp, b_fp);
    a.restart();
    let ida = a.wait_registered();
    assert_eq!(ida, peer(3), "a's key is new to this database");

    // id 2 is not who a pinned: refused, with both fingerprints.
    let err = a
        .send(peer(2), "meant for b", true)
        .expect_err("a message to a changed key is refused");
    let ClientError::Daemon(err) = err else {
        panic!("not a daemon error: {err:?}");
    };
    assert_eq!(err.code, ErrorKind::KeyChanged, "{err:?}");
    let offered = poll("the offered key in `key 2`", || {
        let k = key_json(&a, Some(2));
        k.get("offered_fingerprint").is_some().then_some(k)
    });
    assert_eq!(
        offered["fingerprint"],
        b_fp.as_str(),
        "still b's key pinned"
    );
    assert_eq!(offered["offered_fingerprint"], e_fp.as_str());
    let human = a.peerctl(&["key", "2"]).ok();
    assert!(
        human.contains("KEY CHANGED") && human.contains(&e_fp),
        "{human}"
    );
    assert!(e.texts_from(ida).is_empty(), "nothing reached e");

    // The wrong fingerprint trusts nothing.
    let d_fp = key_json(&d, None)["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_owned();
    let wrong = a.peerctl(&["trust", "2", &d_fp]);
    assert_eq!(wrong.code, Some(1), "{wrong:?}");
    assert!(wrong.stderr.contains("nothing was trusted"), "{wrong:?}");
    assert_eq!(key_json(&a, Some(2))["fingerprint"], b_fp.as_str());

    // The right one does, and messages flow.
    let out = a.peerctl(&["trust", "2", &e_fp.to_uppercase()]).ok();
    assert!(out.contains(&e_fp) && out.contains(&b_fp), "{out}");
    a.send(peer(2), "hello e", true).expect("delivered to e");
    assert_eq!(e.texts_from(ida), ["hello e"]);
    let again = a.peerctl(&["trust", "2"]).ok();
    assert!(again.contains("had not changed"), "{again}");

    // The trust survives a restart of a.
    a.restart();
    a.wait_registered();
    assert_eq!(key_json(&a, Some(2))["fingerprint"], e_fp.as_str());
    a.send(peer(2), "still e", true)
        .expect("delivered after restart");

    // A peer never introduced has no key to show or trust.
    let unknown = a.peerctl(&["key", "9"]);
    assert_eq!(unknown.code, Some(1));
    assert!(
        unknown.stderr.contains("no key is known for peer 9"),
        "{unknown:?}"
    );
    drop(server);
}

#[test]
fn a_server_with_another_key_is_refused_until_its_key_is_given() {
    let tmp = Scratch::new();
    // A short keepalive: the daemon notices the new server soon.
    let fast = ["--keepalive", "2"];
    let first = Server::start("127.0.0.1:0", &tmp.path("s1/registry.sqlite3"), &fast);
    let (addr, old) = (first.addr, first.key());
    let mut a = Daemon::start(addr, &tmp.path("a"));
    let id = a.wait_registered();
    drop(first);
    // The same address, another key (its own key file, beside its database).
    let second = Server::start(&addr.to_string(), &tmp.path("s2/registry.sqlite3"), &fast);
    let new = second.key();
    assert_ne!(new, old);
    let status = poll("A to refuse the server's new key", || {
        let s = a.status().ok()?;
        let reason = s.reason.clone()?;
        reason.contains(&new.fingerprint()).then_some(s)
    });
    let reason = status.reason.clone().expect("a reason");
    assert!(reason.contains(&old.fingerprint()), "{reason}");
    assert!(
        reason.contains("--server-key"),
        "says how to re-pin: {reason}"
    );
    assert_ne!(status.state, peerd_shared::control::RegState::Registered);
    assert!(a.list().is_err(), "nothing is asked of that server");

    // Given the new key, it registers there.
    assert!(a.stop().success());
    let a = Daemon::spawn(addr, &tmp.path("a"), &["--server-key", &new.to_string()]);
    let again = a.wait_registered();
    assert_eq!(again.get(), 1, "a fresh registry gives id 1 (was {id})");
    let status = a.status().expect("status");
    assert_eq!(status.server_fingerprint, Some(new.fingerprint()));
}

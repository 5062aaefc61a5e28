//! What `send` says, and messages that can never be delivered:
//!
//! - the note of a queued message is one clause (why it waits), and
//!   `peerctl send` makes one sentence of it, with until when once;
//! - `--no-wait` to an online peer does not say it "stays queued";
//! - a message queued for an id that a re-registration then gives this
//!   daemon itself (the server lost its registry) fails at once, not at
//!   the end of its ttl, and a new one is refused.

mod support;

use peerd_shared::control::{ErrorKind, MsgStatus};
use support::{peer, poll, Daemon, Net, Scratch, Server};

#[test]
fn a_queued_message_is_told_in_one_sentence() {
    let mut net = Net::start(2);
    assert!(net.daemons[1].stop().success());
    let d1 = &net.daemons[0];
    let out = d1.peerctl(&["send", "2", "are you there?"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let text = out.stdout.trim_end();
    assert_eq!(text.lines().count(), 1, "{out:?}");
    assert!(
        text.starts_with("queued for 2 as message 1: peer 2 is offline; it stays queued until "),
        "{out:?}"
    );
    assert_eq!(text.matches("queued until").count(), 1, "{out:?}");
    assert!(text.ends_with("(see `peerctl outbox`)"), "{out:?}");
    let json = d1.peerctl(&["--json", "send", "2", "again"]).json();
    assert_eq!(json["note"], "peer 2 is offline", "{json}");
    assert!(json["expires_ms"].is_u64(), "{json}");
}

#[test]
fn no_wait_to_an_online_peer_does_not_say_it_stays_queued() {
    let net = Net::start(2);
    let d1 = &net.daemons[0];
    let out = d1.peerctl(&["send", "--no-wait", "2", "quick one"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.starts_with("queued for 2 as message 1;"),
        "{out:?}"
    );
    assert!(
        !out.stdout.contains("stays queued") && !out.stdout.contains("until"),
        "{out:?}"
    );
    assert!(out.stdout.contains("in the background"), "{out:?}");
    let json = d1
        .peerctl(&["--json", "send", "--no-wait", "2", "another"])
        .json();
    assert!(json.get("note").is_none(), "{json}");
    poll("both delivered", || {
        (net.daemons[1].inbox(None).ok()?.len() == 2).then_some(())
    });
}

#[test]
fn a_message_for_the_id_a_re_registration_gave_this_daemon_fails_at_once() {
    let tmp = Scratch::new();
    // Short keepalive: after the server restart the daemon is back at once.
    let keepalive = ["--keepalive", "1"];
    let server = tmp.server_with(&keepalive);
    let addr = server.addr;
    let mut a = Daemon::start(addr, &tmp.path("a"));
    let b = Daemon::start(addr, &tmp.path("b"));
    assert_eq!(a.wait_registered(), peer(1));
    assert_eq!(b.wait_registered(), peer(2));
    assert!(a.stop().success());
    let queued = b
        .send_ttl(peer(1), "for peer 1, whoever it is", Some(3600), false)
        .expect("send");
    assert_eq!(queued.status, MsgStatus::Queued, "{queued:?}");

    // The server comes back with an empty registry (and its key): b is the
    // first to register, and gets id 1.
    let key = tmp.path("server.key");
    let key_flag = key.to_str().expect("utf-8 path");
    drop(server);
    let db = tmp.path("fresh").join("registry.sqlite3");
    let _server = Server::start(
        &addr.to_string(),
        &db,
        &["--keepalive", "1", "--key-file", key_flag],
    );
    poll("b registered as 1", || {
        (b.status().ok()?.id == Some(peer(1))).then_some(())
    });
    let failed = poll("the queued message to fail", || {
        b.outbox()
            .ok()?
            .into_iter()
            .find(|m| m.msg == queued.msg && m.status == MsgStatus::Failed)
    });
    assert_eq!(
        failed.last_error.as_deref(),
        Some("peer 1 is this daemon itself (the server gave it that id when it registered)"),
        "{failed:?}"
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    assert!(
        u128::from(failed.expires_ms) > now_ms + 3_000_000,
        "long before its ttl: {failed:?}"
    );
    match b.send(peer(1), "to myself", true) {
        Err(peerctl::ClientError::Daemon(e)) => assert_eq!(e.code, ErrorKind::SelfTarget),
        other => panic!("a send to oneself answered {other:?}"),
    }
}

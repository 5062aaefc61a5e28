//! `send` refusals, each immediate and with a stable code: a never-registered
//! id (`unknown_peer`, asked of the server), a text over the limit
//! (`text_too_long`, naming it), oneself (`self_target`), a zero ttl
//! (`bad_request`). Nothing refused is stored.

mod support;

use std::time::{Duration, Instant};

use peerctl::ClientError;
use peerd_shared::control::{Command, ControlError, ErrorKind, SendOutcome};
use support::{peer, Daemon, Scratch};

/// The daemon's refusal, or a failure naming what came instead.
fn refusal(r: Result<SendOutcome, ClientError>) -> ControlError {
    match r {
        Err(ClientError::Daemon(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn refused_sends_fail_at_once_with_stable_codes() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let ida = a.wait_registered();
    let next = peer(ida.get() + 1);

    let started = Instant::now();
    let e = refusal(a.send(peer(4242), "anyone there?", true));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "unknown_peer at once"
    );
    assert_eq!(e.code, ErrorKind::UnknownPeer, "{e:?}");
    assert!(e.message.contains("4242"), "{e:?}");

    let e = refusal(a.send(next, &"x".repeat(1001), false));
    assert_eq!(e.code, ErrorKind::TextTooLong, "{e:?}");
    assert!(e.message.contains("1000"), "{e:?}");
    // The limit is in bytes of UTF-8: 501 two-byte characters are 1002.
    let e = refusal(a.send(next, &"é".repeat(501), false));
    assert_eq!(e.code, ErrorKind::TextTooLong, "{e:?}");
    let e = refusal(a.send(next, "", false));
    assert_eq!(e.code, ErrorKind::BadRequest, "{e:?}");

    let e = refusal(a.send(ida, "me", false));
    assert_eq!(e.code, ErrorKind::SelfTarget, "{e:?}");

    // The refusal echoes the request's `req`.
    let mut ctl = a.ctl();
    let req = ctl.submit(Command::Send {
        to: peer(7),
        text: "t".into(),
        ttl_secs: Some(0),
        wait: false,
    });
    let (answered, outcome) = ctl.next_reply();
    assert_eq!(answered, Some(req));
    let e = outcome.expect_err("a zero ttl is refused");
    assert_eq!(e.code, ErrorKind::BadRequest, "{e:?}");

    let msgs = a.outbox().expect("outbox");
    assert!(msgs.is_empty(), "nothing refused was stored: {msgs:?}");
}

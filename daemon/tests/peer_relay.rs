//! The RELAY path: a daemon started with `--relay always` never punches and
//! sends through the server; the receiver stores the message once with path
//! `relayed` and the server's address, and its MESSAGE_ACK travels back
//! through the server too.

mod support;

use peerctl::ClientError;
use peerd_shared::control::{MsgStatus, PathKind};
use peerd_shared::PeerId;
use support::{Daemon, Scratch, Server};

/// A server, daemon `a` started with `--relay always` and a plain daemon
/// `b`, both registered. Fields drop in order: daemons before the server,
/// the temporary directory last.
struct RelayPair {
    a: Daemon,
    b: Daemon,
    ida: PeerId,
    idb: PeerId,
    server: Server,
    _tmp: Scratch,
}

impl RelayPair {
    fn start() -> Self {
        let tmp = Scratch::new();
        let server = tmp.server();
        let a = Daemon::spawn(server.addr, &tmp.path("a"), &["--relay", "always"]);
        a.wait_ready();
        let b = Daemon::start(server.addr, &tmp.path("b"));
        let ida = a.wait_registered();
        let idb = b.wait_registered();
        Self {
            a,
            b,
            ida,
            idb,
            server,
            _tmp: tmp,
        }
    }
}

#[test]
fn relayed_messages_are_delivered_once_and_acknowledged() {
    let p = RelayPair::start();

    for i in 0..5 {
        let r =
            p.a.send(p.idb, &format!("relayed {i}"), true)
                .expect("send");
        assert_eq!(r.status, MsgStatus::Delivered, "{r:?}");
        assert_eq!(r.path, Some(PathKind::Relayed), "{r:?}");
    }
    let inbox = p.b.inbox(None).expect("inbox");
    let from_a: Vec<_> = inbox.iter().filter(|m| m.from == p.ida).collect();
    assert_eq!(from_a.len(), 5, "{inbox:?}");
    for m in &from_a {
        assert_eq!(m.path, PathKind::Relayed, "{m:?}");
        assert_eq!(m.addr, p.server.addr.to_string(), "{m:?}");
    }
    // Each `send` answered "delivered": the outbox says so at once.
    let msgs = p.a.outbox().expect("outbox");
    assert_eq!(msgs.len(), 5);
    assert!(
        msgs.iter()
            .all(|m| m.status == MsgStatus::Delivered && m.path == Some(PathKind::Relayed)),
        "{msgs:?}"
    );
    p.server.wait_for_log("RELAY");
}

/// A text within the limits can fit a MESSAGE but not the RELAY around it
/// (1000 bytes, 40 of them quotes that JSON escapes: a 1117-byte MESSAGE, a
/// RELAY of over 1200): on a relayed path the sender fails that message at
/// once with a clear reason (instead of retrying until its expiry), and the
/// peer's other messages still go.
#[test]
fn a_text_too_long_to_relay_fails_at_once_and_others_still_go() {
    let p = RelayPair::start();

    let long = format!("{}{}", "y".repeat(960), "\"".repeat(40));
    assert_eq!(long.len(), 1000);
    match p.a.send(p.idb, &long, true) {
        Err(ClientError::Daemon(e)) => {
            assert!(e.message.contains("too long to relay"), "{e:?}");
        }
        other => panic!("a text too long to relay was answered {other:?}"),
    }

    let r = p.a.send(p.idb, "short enough", true).expect("send");
    assert_eq!(r.status, MsgStatus::Delivered, "{r:?}");
    assert_eq!(r.path, Some(PathKind::Relayed), "{r:?}");

    let msgs = p.a.outbox().expect("outbox");
    let failed: Vec<_> = msgs
        .iter()
        .filter(|m| m.status == MsgStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{msgs:?}");
    assert_eq!(failed[0].text, long);
    let err = failed[0].last_error.as_deref().unwrap_or_default();
    assert!(err.contains("too long to relay"), "{msgs:?}");
    assert_eq!(p.b.texts_from(p.ida), vec!["short enough".to_owned()]);
}

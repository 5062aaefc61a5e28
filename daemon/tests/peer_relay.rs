//! The RELAY path: a daemon started with `--relay always` never punches and
//! sends through the server; the receiver stores the message once with path
//! `relayed` and the server's address, and its MESSAGE_ACK travels back
//! through the server too.

mod support;

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

/// Any text of up to 1000 bytes of UTF-8, whatever its characters
/// (quotes, control characters, emoji), is delivered over the relay exactly
/// as sent (protocol v2 bounds a relayed MESSAGE below the datagram limit;
/// protocol v1 could not relay texts near the limit that JSON escaped).
#[test]
fn any_text_up_to_1000_bytes_is_delivered_relayed_exactly() {
    let p = RelayPair::start();
    let texts = [
        format!("{}{}", "y".repeat(960), "\"".repeat(40)),
        "\u{1b}[2J\u{7}\n\r\t\u{0}\u{7f}".repeat(100),
        "\u{1F600}".repeat(250),
        format!("{}é", "\\".repeat(998)),
    ];
    for text in &texts {
        assert_eq!(text.len(), 1000, "{text:?}");
        let r = p.a.send(p.idb, text, true).expect("send");
        assert_eq!(r.status, MsgStatus::Delivered, "{r:?}");
        assert_eq!(r.path, Some(PathKind::Relayed), "{r:?}");
    }
    assert_eq!(p.b.texts_from(p.ida), texts.to_vec());
}

//! `follow`: the reply `following`, the replay of stored messages (with
//! `from`/`limit`), `live`, then every new message as it arrives.

mod support;

use peerd_shared::control::{Command, Event, InboxEntry, MsgStatus, PathKind, Response};
use support::{peer, Daemon, Events, Scratch};

/// The message of a `message` event, or a failure naming what came instead.
fn message(event: Option<Event>) -> InboxEntry {
    match event {
        Some(Event::Message { message }) => message,
        other => panic!("expected a message event, got {other:?}"),
    }
}

#[test]
fn follower_sees_replay_then_messages_sent_after_it_started() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let b = Daemon::start(server.addr, &tmp.path("b"));
    let _ida = a.wait_registered();
    let idb = b.wait_registered();

    for text in ["old 1", "old 2", "old 3"] {
        let r = a.send(idb, text, true).expect("send");
        assert_eq!(r.status, MsgStatus::Delivered, "{r:?}");
    }

    // The reply to `follow` echoes the request's `req`.
    let follow = Command::Follow {
        from: None,
        limit: Some(2),
    };
    let mut probe = b.ctl();
    let req = probe.submit(follow);
    let (answered, outcome) = probe.next_reply();
    assert_eq!(answered, Some(req));
    assert_eq!(outcome, Ok(Response::Following));
    drop(probe);

    let mut follower: Events = b.ctl().follow(None, Some(2));
    let replay = [message(follower.next()), message(follower.next())];
    assert_eq!(replay[0].text, "old 2");
    assert_eq!(replay[1].text, "old 3");
    assert_eq!(follower.next(), Some(Event::Live));

    a.send(idb, "new one", false).expect("send");
    let ev = message(follower.next());
    assert_eq!(ev.text, "new one", "{ev:?}");
    assert_eq!(ev.path, PathKind::Direct, "{ev:?}");
    assert!(ev.addr.starts_with("127.0.0.1:"), "{ev:?}");

    // A second follower filtered on another sender sees nothing of a's.
    let mut other = b.ctl().follow(Some(peer(999)), None);
    assert_eq!(other.next(), Some(Event::Live));

    // Stopping the daemon ends the stream with `closing`.
    let stop = b.request(Command::Stop);
    assert_eq!(stop.ok(), Some(Response::Stopping));
    assert_eq!(follower.next(), Some(Event::Closing));
    assert_eq!(other.next(), Some(Event::Closing));
}

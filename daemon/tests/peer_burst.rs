//! A burst larger than the outbox's window (1024 unacknowledged messages per
//! peer), pipelined on one control connection: every message is stored,
//! answered in order, delivered exactly once, and the extra ones wait their
//! turn instead of overrunning the receiver.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use peerd_shared::control::{Command, Event, Response};
use support::{poll_for, Daemon, Scratch};

const COUNT: usize = 3000;

#[test]
fn pipelined_burst_is_delivered_exactly_once() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let b = Daemon::start(server.addr, &tmp.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();

    let mut ctl = a.ctl();
    let reqs: Vec<u64> = (0..COUNT)
        .map(|i| {
            ctl.submit(Command::Send {
                to: idb,
                text: format!("burst {i}"),
                ttl_secs: None,
                wait: false,
            })
        })
        .collect();
    let mut msg_ids = HashSet::new();
    for req in reqs {
        let (answered, outcome) = ctl.next_reply();
        assert_eq!(answered, Some(req), "replies in request order");
        let Ok(Response::Sent(sent)) = outcome else {
            panic!("send {req} answered {outcome:?}");
        };
        assert!(msg_ids.insert(sent.msg), "unique msg ids");
    }

    poll_for("the whole burst to arrive", Duration::from_secs(60), || {
        (b.status().ok()?.inbox >= COUNT as u64).then_some(())
    });
    // Read back through `follow`'s replay, one line per message: a single
    // `inbox` reply listing 3000 messages would exceed the control
    // protocol's 64 KiB line limit.
    let mut replay = b.ctl().follow(Some(ida), None);
    let mut texts = Vec::new();
    while let Some(Event::Message { message }) = replay.next() {
        texts.push(message.text);
    }
    let unique: HashSet<_> = texts.iter().collect();
    assert_eq!(texts.len(), COUNT, "no duplicates");
    assert_eq!(unique.len(), COUNT);
    poll_for(
        "the sender to record every delivery",
        Duration::from_secs(30),
        || {
            let st = a.status().ok()?;
            (st.outbox_delivered == COUNT as u64 && st.outbox_queued == 0).then_some(())
        },
    );
}

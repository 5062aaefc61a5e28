//! Durability: the receiving daemon is killed with SIGKILL in the middle of
//! 200 messages; after it restarts on the same data dir every message is in
//! its inbox exactly once, and the sender's outbox shows all delivered.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use peerd_shared::control::{Command, MsgStatus, Response};
use support::{poll, poll_for, Daemon, Scratch};

const COUNT: usize = 200;

#[test]
fn kill_9_of_the_receiver_loses_and_duplicates_nothing() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let mut b = Daemon::start(server.addr, &tmp.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();

    // The sender queues 200 messages, paced, on one control connection.
    let mut ctl = a.ctl();
    let sender = std::thread::spawn(move || {
        for i in 0..COUNT {
            let r = ctl.request(Command::Send {
                to: idb,
                text: format!("m{i}"),
                ttl_secs: None,
                wait: false,
            });
            assert!(matches!(r, Ok(Response::Sent(_))), "{r:?}");
            std::thread::sleep(Duration::from_millis(5)); // pacing, not synchronisation
        }
    });

    let seen = poll("some messages to arrive", || {
        let n = b.texts_from(ida).len();
        (n >= 30).then_some(n)
    });
    b.kill9();
    assert!(
        seen < COUNT,
        "killed in the middle ({seen} of {COUNT} received)"
    );
    sender.join().expect("sender thread");

    let b = Daemon::start(server.addr, &tmp.path("b"));
    assert_eq!(b.wait_registered(), idb);
    poll_for(
        "all messages after the restart",
        Duration::from_secs(60),
        || (b.texts_from(ida).len() >= COUNT).then_some(()),
    );
    let texts = b.texts_from(ida);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for t in &texts {
        *counts.entry(t.clone()).or_default() += 1;
    }
    assert_eq!(texts.len(), COUNT, "no duplicates");
    for i in 0..COUNT {
        assert_eq!(counts.get(&format!("m{i}")), Some(&1), "m{i} exactly once");
    }
    poll(
        "the sender's outbox to show every message delivered",
        || {
            let msgs = a.outbox().ok()?;
            (msgs.len() == COUNT && msgs.iter().all(|m| m.status == MsgStatus::Delivered))
                .then_some(())
        },
    );
}

#[test]
fn kill_9_of_the_sender_resumes_its_outbox_after_restart() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let mut a = Daemon::start(server.addr, &tmp.path("a"));
    let b = Daemon::start(server.addr, &tmp.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();
    // b goes away, so a's messages stay queued in its outbox.
    b.request(Command::Stop).expect("stop");
    drop(b);

    let mut acknowledged = Vec::new();
    for i in 0..50 {
        let sent = a.send(idb, &format!("q{i}"), false).expect("send");
        assert_eq!(sent.status, MsgStatus::Queued, "{sent:?}");
        acknowledged.push(format!("q{i}"));
    }
    a.kill9();

    let a = Daemon::start(server.addr, &tmp.path("a"));
    assert_eq!(a.wait_registered(), ida);
    let st = a.status().expect("status");
    assert_eq!(
        st.outbox_queued, 50,
        "every stored message survived: {st:?}"
    );
    let b = Daemon::start(server.addr, &tmp.path("b"));
    assert_eq!(b.wait_registered(), idb);
    poll_for(
        "the resumed messages to arrive",
        Duration::from_secs(60),
        || (b.texts_from(ida).len() >= acknowledged.len()).then_some(()),
    );
    let mut texts = b.texts_from(ida);
    texts.sort();
    acknowledged.sort();
    assert_eq!(texts, acknowledged, "each once");
}

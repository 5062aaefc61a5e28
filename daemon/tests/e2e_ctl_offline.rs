//! End to end: `peerctl send` to a peer that is offline says the message is
//! queued and why, exits 0, and the message arrives once the peer is back.

mod support;

use support::{poll, Daemon, Net};

#[test]
fn a_message_for_an_offline_peer_is_queued_then_delivered() {
    let mut net = Net::start(2);
    let dir2 = net.daemons[1].dir.clone();
    assert!(net.daemons[1].stop().success());
    let d1 = &net.daemons[0];

    let out = d1.peerctl(&["send", "--ttl", "30m", "2", "are you there?"]);
    assert_eq!(out.code, Some(0), "queued is not an error: {out:?}");
    assert!(
        out.stdout.starts_with("queued for 2 as message "),
        "{out:?}"
    );
    assert!(out.stdout.contains("stays queued until"), "{out:?}");
    let json = d1.peerctl(&["--json", "send", "2", "second try"]).json();
    assert_eq!(json["kind"], "send");
    assert_eq!(json["status"], "queued");
    assert!(json["note"].is_string(), "the reason is given: {json}");
    assert!(json["expires_ms"].is_u64());

    let outbox = d1.peerctl(&["outbox", "--json"]).json();
    let statuses: Vec<&str> = outbox["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["status"].as_str())
        .collect();
    assert_eq!(statuses, ["queued", "queued"], "{outbox}");
    let human = d1.peerctl(&["outbox"]).ok();
    assert!(
        human.contains("queued") && human.contains("are you there?"),
        "{human}"
    );

    // Peer 2 comes back with the same data dir, hence the same id.
    let d2 = Daemon::start(net.server.addr, &dir2);
    assert_eq!(d2.wait_registered().get(), 2);
    poll("the queued messages in 2's inbox", || {
        let inbox = d2.peerctl(&["inbox"]).ok();
        (inbox.contains("are you there?") && inbox.contains("second try")).then_some(())
    });
    poll("both messages delivered in 1's outbox", || {
        let o = d1.peerctl(&["outbox", "--json"]).json();
        o["messages"]
            .as_array()
            .is_some_and(|m| m.iter().all(|e| e["status"] == "delivered"))
            .then_some(())
    });
    net.daemons[1] = d2;
}

#[test]
fn a_message_whose_ttl_runs_out_shows_as_failed() {
    let mut net = Net::start(2);
    assert!(net.daemons[1].stop().success());
    let d1 = &net.daemons[0];
    let out = d1.peerctl(&["send", "--ttl", "1s", "2", "too late"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.starts_with("queued for 2"), "{out:?}");
    let entry = poll("the message to fail after its ttl", || {
        let o = d1.peerctl(&["outbox", "--json"]).json();
        let entry = o["messages"][0].clone();
        (entry["status"] == "failed").then_some(entry)
    });
    assert!(entry["last_error"].is_string(), "{entry}");
    let human = d1.peerctl(&["outbox"]).ok();
    let row = human
        .lines()
        .find(|l| l.contains("too late"))
        .expect("outbox row");
    assert!(row.contains("failed"), "{human}");
}

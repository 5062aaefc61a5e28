//! End to end: with `--relay always` the messages travel through the
//! server, and `peerctl` says so: `send` names the path, `inbox` and
//! `inbox --follow` mark relayed messages, `--json` carries `"path":"relayed"`.

mod support;

use support::{Launch, Scratch};

#[test]
fn peerctl_names_the_relayed_path() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let relay = ["--relay", "always"];
    let d1 = Launch::new(server.addr, &tmp.path("peer1"))
        .args(&relay)
        .start();
    let d2 = Launch::new(server.addr, &tmp.path("peer2"))
        .args(&relay)
        .start();
    assert_eq!(
        (d1.wait_registered().get(), d2.wait_registered().get()),
        (1, 2)
    );

    let follower = d2.peerctl_spawn(&["inbox", "--follow"]);
    let out = d1.peerctl(&["send", "2", "through the server"]).ok();
    assert!(out.starts_with("delivered to 2 (relayed, "), "{out}");
    let sent = d1.peerctl(&["--json", "send", "2", "again"]).json();
    assert_eq!(sent["path"], "relayed", "{sent}");

    let server_addr = server.addr.to_string();
    let inbox = d2.peerctl(&["inbox"]).ok();
    assert!(
        inbox.contains(&format!("{server_addr} (relayed)")),
        "relayed messages come from the server's address: {inbox}"
    );
    let line = follower.stdout.wait_for("again");
    assert!(
        line.contains(&format!(
            "message from 1 ({server_addr}, relayed): through the server"
        )),
        "{line}"
    );
    let json = d2.peerctl(&["--json", "inbox"]).json();
    assert_eq!(json["messages"][0]["path"], "relayed", "{json}");
    let outbox = d1.peerctl(&["outbox"]).ok();
    assert!(outbox.contains("relayed"), "{outbox}");
}

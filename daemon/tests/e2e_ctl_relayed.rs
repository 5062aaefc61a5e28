//! End to end: with `--relay always` the messages travel through the
//! server, and `peerctl` says so: `send` names the path, `inbox` and
//! `inbox --follow` mark relayed messages, `--json` carries `"path":"relayed"`.

mod e2e_support;

use e2e_support::{Daemon, Server};

#[test]
fn peerctl_names_the_relayed_path() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = Server::start(tmp.path());
    let relay = ["--relay", "always"];
    let d1 = Daemon::start_with(&tmp.path().join("peer1"), server.addr, &relay);
    let d2 = Daemon::start_with(&tmp.path().join("peer2"), server.addr, &relay);
    assert_eq!((d1.id(), d2.id()), (1, 2));

    let follower = d2.ctl_spawn(&["inbox", "--follow"]);
    let out = d1.ctl(&["send", "2", "through the server"]).ok();
    assert!(out.starts_with("delivered to 2 (relayed, "), "{out}");
    let sent = d1.ctl(&["--json", "send", "2", "again"]).json();
    assert_eq!(sent["path"], "relayed", "{sent}");

    let server_addr = server.addr.to_string();
    let inbox = d2.ctl(&["inbox"]).ok();
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
    let json = d2.ctl(&["--json", "inbox"]).json();
    assert_eq!(json["messages"][0]["path"], "relayed", "{json}");
    let outbox = d1.ctl(&["outbox"]).ok();
    assert!(outbox.contains("relayed"), "{outbox}");
}

//! End to end: `peerctl`'s exit statuses with real daemons: 0 success,
//! 1 error from the daemon, 2 usage error, 3 not running (no socket, or the
//! stale socket a `kill -9`ed daemon leaves behind), with the exact messages.

mod support;

use support::{os_args, peerctl_run, Net};

#[test]
fn exit_statuses_are_distinct() {
    let mut net = Net::start(1);
    let d1 = &net.daemons[0];
    assert_eq!(d1.peerctl(&["id"]).code, Some(0));
    assert_eq!(
        d1.peerctl(&["send", "42", "hi"]).code,
        Some(1),
        "unknown peer"
    );
    assert_eq!(d1.peerctl(&["send", "42"]).code, Some(2), "missing text");
    assert_eq!(
        d1.peerctl(&["sned", "42", "hi"]).code,
        Some(2),
        "unknown command"
    );

    let nowhere = net.tmp.path("nowhere");
    let nowhere = nowhere.to_str().expect("utf-8 path");
    let config = net.tmp.path("peerctl.toml");
    let run = peerctl_run(&config, &os_args(&["--data-dir", nowhere, "status"]), "");
    assert_eq!(run.code, Some(3), "{run:?}");
    assert_eq!(
        run.stderr,
        format!("peerd is not running (no socket at {nowhere}/peerd.sock); start it with `peerd start`\n")
    );
    assert!(run.stdout.is_empty());

    // kill -9 leaves the socket file behind: reported as stale, exit 3.
    net.daemons[0].proc.kill();
    let socket = net.daemons[0].socket.clone();
    assert!(socket.exists(), "a killed daemon cannot remove its socket");
    let run = net.daemons[0].peerctl(&["list"]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert_eq!(
        run.stderr,
        format!(
            "peerd is not running (stale socket at {}); start it with `peerd start`\n",
            socket.display()
        )
    );
}

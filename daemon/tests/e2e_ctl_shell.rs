//! End to end: `peerctl shell`, the original numbered menu, driven through
//! stdin: MY ID, LIST, CONNECT, EXIT, and incoming messages printed while
//! the menu runs.

mod support;

use support::{poll, Net};

#[test]
fn the_menu_runs_my_id_list_connect_and_exit() {
    let net = Net::start(3);
    let (d1, d3) = (&net.daemons[0], &net.daemons[2]);
    // MY ID, LIST, CONNECT (id, then text), a wrong choice, a malformed id
    // (asked again) then an unknown peer, EXIT without stopping.
    let input = "1\n2\n3\n3\nHello via the shell\n9\n3\nabc\n99\nnobody\n4\nn\n";
    let run = d1.peerctl_with_input(&["shell"], input);
    assert_eq!(run.code, Some(0), "{run:?}");
    let out = &run.stdout;
    assert!(
        out.contains("1. MY ID\n2. LIST\n3. CONNECT\n4. EXIT"),
        "{out}"
    );
    assert!(out.contains("my id: 1\n"), "{out}");
    let table = out.find("ID  ADDRESS").expect("LIST prints the table");
    let rows: Vec<&str> = out[table..].lines().skip(1).take(2).collect();
    assert!(
        rows[0].starts_with("2 ") && rows[1].starts_with("3 "),
        "{out}"
    );
    assert!(
        out.contains("peer id> message> delivered to 3 (direct, "),
        "{out}"
    );
    assert!(out.contains("unknown choice \"9\""), "{out}");
    assert!(
        out.contains("error: peer id must be a whole number"),
        "{out}"
    );
    let unknown = out
        .lines()
        .find(|l| l.contains("peer id> message> error: "))
        .unwrap_or_else(|| panic!("CONNECT to an unknown peer shows the error: {out}"));
    assert!(unknown.contains("99"), "{unknown}");
    assert!(out.contains("peerd keeps running"), "{out}");
    assert!(d3.peerctl(&["inbox"]).ok().contains("Hello via the shell"));
    assert_eq!(
        d1.peerctl(&["id"]).ok(),
        "1\n",
        "EXIT without `y` leaves the daemon running"
    );

    // End of input leaves the menu too, without stopping anything.
    let run = d1.peerctl_with_input(&["shell"], "1\n");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("end of input"), "{run:?}");
    assert_eq!(d1.peerctl(&["id"]).ok(), "1\n");
}

#[test]
fn incoming_messages_appear_while_the_menu_waits_and_exit_can_stop_the_daemon() {
    let mut net = Net::start(2);
    net.daemons[0]
        .peerctl(&["send", "2", "an old message"])
        .ok();
    let mut shell = net.daemons[1].peerctl_spawn(&["shell"]);
    shell.stdout.wait_for("choice> ");
    // The follow connection is set up before the first prompt; the message
    // arrives while the menu waits for a choice.
    net.daemons[0]
        .peerctl(&["send", "2", "Hello from 1 to 2"])
        .ok();
    let text = shell.stdout.wait_for("Hello from 1 to 2");
    assert!(
        text.contains(" message from 1 (127.0.0.1:"),
        "printed like the original: {text}"
    );
    assert!(
        !text.contains("an old message"),
        "only new messages are printed: {text}"
    );
    shell.write_stdin("4\ny\n");
    let status = shell.wait();
    assert_eq!(status.code(), Some(0), "{}", shell.stderr.text());
    assert!(shell.stdout.text().contains("peerd is stopping"));
    assert!(
        net.daemons[1].proc.wait().success(),
        "EXIT + y stops the daemon"
    );
    poll("peer 2 to leave the list", || {
        let list = net.daemons[0].peerctl(&["--json", "list"]).json();
        (list["peers"] == serde_json::json!([])).then_some(())
    });
}

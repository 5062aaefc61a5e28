//! End to end on a pseudo-terminal, with the real `peerd` and `peerctl`:
//! the shell's line editing, history, choices by number or name, asking
//! again for a bad id or an empty text, and its prompt drawn again below
//! an incoming message; the spinner of a `send` that waits, on a terminal
//! only; texts cut to the terminal's width.

mod support;

use support::{on_terminal, poll, Net};

/// Up arrow, as a terminal sends it.
const UP: &str = "\x1b[A";

#[test]
fn the_shell_edits_lines_keeps_history_and_redraws_its_prompt() {
    let net = Net::start(2);
    let (d1, d2) = (&net.daemons[0], &net.daemons[1]);
    let mut shell = on_terminal(&d1.command(&["shell"]), 100);
    shell
        .exp_string("peerd shell: my id is 1")
        .expect("greeting");
    shell.exp_string("1. MY ID").expect("menu");
    shell.exp_string("choice> ").expect("prompt");

    shell.send_line("id").expect("type");
    shell.exp_string("my id: 1").expect("id by name");
    shell.send_line("2").expect("type");
    shell.exp_string("ID  ADDRESS").expect("list by number");
    shell.exp_string("choice> ").expect("prompt");

    // `send` asks again for a bad id, then refuses an empty text.
    shell.send_line("send").expect("type");
    shell.exp_string("peer id> ").expect("id prompt");
    shell.send_line("abc").expect("type");
    shell
        .exp_string("error: peer id must be a whole number")
        .expect("bad id");
    shell.exp_string("peer id> ").expect("asked again");
    shell.send_line("2").expect("type");
    shell.exp_string("message> ").expect("text prompt");
    shell.send_line("").expect("type");
    shell
        .exp_string("error: the text is empty")
        .expect("empty text");
    shell.exp_string("message> ").expect("asked again");
    shell.send_line("hello from the shell").expect("type");
    shell.exp_string("delivered to 2 (").expect("sent");
    shell.exp_string("choice> ").expect("prompt");

    // Half a line typed when a message arrives: the message is printed
    // and the prompt comes back with what was typed.
    shell.send("li").expect("type");
    shell.flush().expect("flush");
    shell.exp_string("li").expect("echo");
    d2.ctl(&["send", "1", "a message while typing"]).ok();
    shell.exp_string("message from 2 (").expect("incoming");
    shell
        .exp_string("a message while typing")
        .expect("incoming text");
    shell
        .exp_string("choice> li")
        .expect("prompt drawn again with the typed text");
    shell.send_line("st").expect("type");
    shell.exp_string("ID  ADDRESS").expect("list ran");
    shell.exp_string("choice> ").expect("prompt");

    // History: Up recalls `list`.
    shell.send(UP).expect("up");
    shell.flush().expect("flush");
    shell.exp_string("list").expect("recalled");
    shell.send_line("").expect("enter");
    shell.exp_string("ID  ADDRESS").expect("list again");

    shell.send_line("bogus").expect("type");
    shell
        .exp_string("unknown choice \"bogus\"")
        .expect("unknown");
    shell.send_line("exit").expect("type");
    shell.exp_string("[y/N] ").expect("stop question");
    shell.send_line("n").expect("type");
    shell.exp_string("peerd keeps running").expect("left");
    shell.exp_eof().expect("the shell ends");
    assert!(d2.ctl(&["inbox"]).ok().contains("hello from the shell"));
    assert_eq!(d1.ctl(&["id"]).ok(), "1\n");
}

#[test]
fn a_waiting_send_says_what_it_waits_for_on_a_terminal_only() {
    let net = Net::start(4);
    let [d1, d2, d3, d4] = &net.daemons[..] else {
        unreachable!("four daemons")
    };
    // Peer 2 is frozen: registered, but it answers nothing.
    d2.proc.signal(libc::SIGSTOP);
    let mut send = on_terminal(&d1.command(&["send", "2", "are you there?"]), 100);
    // Seen during the 3 s punch window, or once it relays.
    send.exp_regex("punching a direct path to peer 2|relaying through the server")
        .expect("spinner");
    d2.proc.signal(libc::SIGCONT);
    let rest = send.exp_eof().expect("send ends");
    assert!(rest.contains("delivered to 2 ("), "{rest:?}");

    // On a pipe, and with --json on a terminal: nothing but the outcome,
    // however long it waits (here through the whole punch window).
    d3.proc.signal(libc::SIGSTOP);
    d4.proc.signal(libc::SIGSTOP);
    let mut piped = support::Proc::spawn(&mut d1.command(&["send", "3", "anyone?"]));
    let mut json = on_terminal(&d1.command(&["--json", "send", "4", "anyone?"]), 100);
    poll("both sends to have waited through the punch", || {
        let peers = d1.ctl(&["--json", "peers"]).json();
        let relayed = |id: u64| {
            peers["peers"]
                .as_array()
                .and_then(|l| l.iter().find(|p| p["id"] == id))
                .is_some_and(|p| p["path"] == "relayed")
        };
        (relayed(3) && relayed(4)).then_some(())
    });
    d3.proc.signal(libc::SIGCONT);
    d4.proc.signal(libc::SIGCONT);
    assert!(piped.wait().success());
    let out = piped.stdout.text();
    assert!(out.starts_with("delivered to 3 ("), "{out}");
    assert_eq!(piped.stderr.text(), "");
    let out = json.exp_eof().expect("send ends");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "only the JSON object: {out:?}");
    let reply: serde_json::Value = serde_json::from_str(lines[0].trim()).expect("JSON");
    assert_eq!(reply["status"], "delivered", "{reply}");
}

#[test]
fn long_texts_are_cut_to_the_terminal() {
    let net = Net::start(2);
    let (d1, d2) = (&net.daemons[0], &net.daemons[1]);
    let long = format!("begin {} finish", "y".repeat(300));
    d1.ctl(&["send", "2", &long]).ok();
    let mut inbox = on_terminal(&d2.command(&["inbox"]), 90);
    let out = inbox.exp_eof().expect("inbox ends");
    let row = out.lines().nth(1).expect("row");
    assert!(
        row.contains("begin yyy") && !row.contains("finish"),
        "{out:?}"
    );
    let mut full = on_terminal(&d2.command(&["inbox", "--full"]), 90);
    assert!(full.exp_eof().expect("inbox ends").contains("yyy finish"));
}

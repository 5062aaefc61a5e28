//! `peerctl` against a scripted stand-in for the daemon's control socket:
//! how replies become human text, JSON and exit statuses, independent of
//! the real daemon (which the end-to-end tests in `daemon/tests` cover).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread;

/// Serves one connection: reads one request line, writes the reply lines
/// `answer` gives for its `cmd` (with the request's `req`), then closes.
fn fake_daemon(answer: fn(&str) -> Vec<String>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("peerd.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut writer = stream.try_clone().expect("clone stream");
        if let Some(Ok(line)) = BufReader::new(stream).lines().next() {
            let request: serde_json::Value = serde_json::from_str(&line).expect("request JSON");
            let cmd = request["cmd"].as_str().unwrap_or_default().to_string();
            let req = request["req"].clone();
            for mut reply in answer(&cmd) {
                if reply.contains("\"ok\"") {
                    reply = reply.replacen('{', &format!("{{\"req\":{req},"), 1);
                }
                if writeln!(writer, "{reply}").is_err() {
                    return;
                }
            }
        }
    });
    (dir, path)
}

fn peerctl(socket: &PathBuf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_peerctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("run peerctl")
}

fn out(o: &Output) -> (Option<i32>, String, String) {
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn replies(cmd: &str) -> Vec<String> {
    let r = match cmd {
        "list" => {
            r#"{"ok":true,"result":{"kind":"peers","peers":[{"id":2,"addr":"127.0.0.1:4000"},{"id":13,"addr":"[::1]:9"}]}}"#
        }
        "send" => {
            r#"{"ok":false,"error":{"code":"unknown_peer","message":"peer 9 was never registered"}}"#
        }
        "outbox" => {
            r#"{"ok":true,"result":{"kind":"sent","to":2,"msg":4,"status":"queued","note":"peer 2 is offline","expires_ms":1795000000000}}"#
        }
        "inbox" => {
            r#"{"ok":true,"result":{"kind":"sent","to":2,"msg":5,"status":"failed","note":"expired after 1h","expires_ms":1795000000000}}"#
        }
        _ => r#"{"ok":true,"result":{"kind":"id","id":null}}"#,
    };
    vec![r.to_string()]
}

#[test]
fn list_is_a_table_and_json_is_the_result_object() {
    let (_d, sock) = fake_daemon(replies);
    let (code, stdout, _) = out(&peerctl(&sock, &["list"]));
    assert_eq!(code, Some(0));
    assert_eq!(stdout, "ID  ADDRESS\n2   127.0.0.1:4000\n13  [::1]:9\n");
    let (_d, sock) = fake_daemon(replies);
    let (code, stdout, _) = out(&peerctl(&sock, &["--json", "list"]));
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout,
        "{\"kind\":\"peers\",\"peers\":[{\"id\":2,\"addr\":\"127.0.0.1:4000\"},{\"id\":13,\"addr\":\"[::1]:9\"}]}\n"
    );
}

#[test]
fn a_daemon_error_exits_1() {
    let (_d, sock) = fake_daemon(replies);
    let (code, stdout, stderr) = out(&peerctl(&sock, &["send", "9", "hi"]));
    assert_eq!((code, stdout.as_str()), (Some(1), ""));
    assert_eq!(stderr, "error: peer 9 was never registered\n");
    let (_d, sock) = fake_daemon(replies);
    let (code, stdout, _) = out(&peerctl(&sock, &["--json", "send", "9", "hi"]));
    assert_eq!(code, Some(1));
    assert_eq!(
        stdout,
        "{\"error\":{\"code\":\"unknown_peer\",\"message\":\"peer 9 was never registered\"}}\n"
    );
}

#[test]
fn queued_exits_0_and_failed_exits_1() {
    // The stand-in answers `outbox` with a queued send and `inbox` with a failed one.
    let (_d, sock) = fake_daemon(replies);
    let (code, stdout, _) = out(&peerctl(&sock, &["outbox"]));
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout,
        "queued for 2 as message 4: peer 2 is offline; it stays queued until \
         2026-11-18 11:06:40 UTC (see `peerctl outbox`)\n"
    );
    let (_d, sock) = fake_daemon(replies);
    let (code, stdout, stderr) = out(&peerctl(&sock, &["--json", "inbox"]));
    assert_eq!(code, Some(1));
    assert_eq!(stdout.lines().count(), 1, "one object only: {stdout}");
    assert!(stdout.contains("\"status\":\"failed\""), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn no_id_yet_is_said_plainly() {
    let (_d, sock) = fake_daemon(replies);
    let (code, stdout, _) = out(&peerctl(&sock, &["id"]));
    assert_eq!(code, Some(0));
    assert!(
        stdout.starts_with("no id yet: peerd has not registered"),
        "{stdout}"
    );
}

fn follow_replies(cmd: &str) -> Vec<String> {
    assert_eq!(cmd, "follow");
    vec![
        r#"{"ok":true,"result":{"kind":"following"}}"#.into(),
        r#"{"event":"message","message":{"from":1,"msg":1,"text":"Hello from 1 to 3","addr":"127.0.0.1:35213","path":"direct","sent_ms":0,"received_ms":1795000000000}}"#.into(),
        r#"{"event":"live"}"#.into(),
        r#"{"event":"closing"}"#.into(),
    ]
}

#[test]
fn follow_prints_messages_and_ends_with_the_daemon() {
    let (_d, sock) = fake_daemon(follow_replies);
    let (code, stdout, stderr) = out(&peerctl(&sock, &["inbox", "--follow"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "2026-11-18 11:06:40 message from 1 (127.0.0.1:35213): Hello from 1 to 3\n"
    );
    let (_d, sock) = fake_daemon(follow_replies);
    let (code, stdout, _) = out(&peerctl(&sock, &["--json", "inbox", "-f"]));
    assert_eq!(code, Some(0));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[1], r#"{"event":"live"}"#);
    assert_eq!(lines[2], r#"{"event":"closing"}"#);
}

#[test]
fn follow_reports_a_connection_lost_without_closing() {
    fn lost(_: &str) -> Vec<String> {
        vec![r#"{"ok":true,"result":{"kind":"following"}}"#.into()]
    }
    let (_d, sock) = fake_daemon(lost);
    let (code, _, stderr) = out(&peerctl(&sock, &["inbox", "--follow"]));
    assert_eq!(code, Some(1));
    assert_eq!(stderr, "error: peerd closed the connection\n");
}

//! `peerctl` without a daemon: help texts, usage errors, exit statuses, the
//! "not running", "stale socket" and "not a socket" messages, `stop` with
//! nothing to stop, the local text checks, completion scripts and the
//! timeout against a socket that never answers.

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const COMMANDS: &[&str] = &[
    "id", "status", "list", "send", "outbox", "inbox", "stop", "shell", "peers", "ping",
];

fn peerctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_peerctl"))
        .args(args)
        .env_remove("PEERD_SOCKET")
        .env_remove("PEERD_DATA_DIR")
        .env_remove("PEERD_CONFIG")
        .output()
        .expect("run peerctl")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_command_has_help_with_the_exit_statuses() {
    for args in std::iter::once(vec!["--help"]).chain(COMMANDS.iter().map(|c| vec![*c, "--help"])) {
        let out = peerctl(&args);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert!(stdout.contains("Usage: peerctl"), "{args:?}: {stdout}");
        assert!(
            stdout.contains("3  peerd is not running"),
            "{args:?} lacks the exit statuses: {stdout}"
        );
    }
    let send = text(&peerctl(&["send", "--help"]).stdout);
    for flag in ["--no-wait", "--ttl", "--json", "--socket"] {
        assert!(send.contains(flag), "send --help lacks {flag}: {send}");
    }
    let inbox = text(&peerctl(&["inbox", "--help"]).stdout);
    for flag in [
        "--follow", "--from", "--limit", "--all", "--since", "--full", "delete", "prune",
    ] {
        assert!(inbox.contains(flag), "inbox --help lacks {flag}: {inbox}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["send"],
        vec!["send", "2"],
        vec!["send", "0", "hi"],
        vec!["send", "abc", "hi"],
        vec!["send", "--ttl", "5x", "2", "hi"],
        vec!["send", "--ttl", "0s", "2", "hi"],
        vec!["send", "2", ""],
        vec!["send", "2", "  ", " "],
        vec!["inbox", "--limit", "-1"],
        vec!["inbox", "--since", "last tuesday"],
        vec!["inbox", "--all", "--limit", "5"],
        vec!["inbox", "delete", "7"],
        vec!["ping", "2", "-c", "0"],
        vec!["--timeout", "soon", "id"],
        vec!["completions", "tcsh"],
    ] {
        let out = peerctl(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty(), "{args:?}: no explanation");
    }
}

#[test]
fn no_daemon_exits_3_with_the_exact_sentence() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("peerd.sock");
    let sock_s = sock.to_str().expect("utf-8 path");
    for cmd in ["id", "status", "list", "outbox", "inbox", "shell", "peers"] {
        let out = peerctl(&["--socket", sock_s, cmd]);
        assert_eq!(out.status.code(), Some(3), "{cmd}: {out:?}");
        assert_eq!(
            text(&out.stderr),
            format!("peerd is not running (no socket at {sock_s}); start it with `peerd start`\n"),
            "{cmd}"
        );
        assert!(out.stdout.is_empty() || cmd == "shell", "{cmd}: {out:?}");
    }
    let out = peerctl(&["--socket", sock_s, "send", "2", "hello", "there"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let out = peerctl(&["--socket", sock_s, "inbox", "--follow"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

#[test]
fn the_socket_is_found_through_data_dir_and_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().expect("utf-8 path");
    let expect = format!("no socket at {data}/peerd.sock)");
    let out = peerctl(&["--data-dir", data, "id"]);
    assert!(text(&out.stderr).contains(&expect), "{out:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_peerctl"))
        .arg("id")
        .env_remove("PEERD_SOCKET")
        .env("PEERD_DATA_DIR", data)
        .output()
        .expect("run peerctl");
    assert!(text(&out.stderr).contains(&expect), "{out:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_peerctl"))
        .arg("id")
        .env("PEERD_SOCKET", dir.path().join("x.sock"))
        .env("PEERD_DATA_DIR", data)
        .output()
        .expect("run peerctl");
    assert!(
        text(&out.stderr).contains(&format!("no socket at {data}/x.sock)")),
        "PEERD_SOCKET wins over PEERD_DATA_DIR: {out:?}"
    );
}

#[test]
fn the_config_file_names_the_socket_like_it_does_for_the_daemon() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &config,
        format!(
            "server = \"127.0.0.1:9\"\ndata_dir = {:?}\n",
            data.to_str().expect("utf-8")
        ),
    )
    .expect("write config");
    let out = peerctl(&["--config", config.to_str().expect("utf-8"), "id"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let expect = format!("no socket at {}/peerd.sock)", data.display());
    assert!(text(&out.stderr).contains(&expect), "{out:?}");
}

#[test]
fn stale_socket_is_reported_as_not_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("peerd.sock");
    drop(UnixListener::bind(&sock).expect("bind"));
    let sock_s = sock.to_str().expect("utf-8 path");
    let out = peerctl(&["--socket", sock_s, "id"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        text(&out.stderr),
        format!("peerd is not running (stale socket at {sock_s}); start it with `peerd start`\n")
    );
}

#[test]
fn json_errors_are_one_object_on_stdout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("peerd.sock");
    let out = peerctl(&["--json", "--socket", sock.to_str().expect("utf-8"), "list"]);
    assert_eq!(out.status.code(), Some(3));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["error"]["code"], "not_running");
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("peerd is not running (no socket at ")));
}

#[test]
fn an_oversized_text_is_refused_before_contacting_the_daemon() {
    // No daemon at all: the refusal must come first, with the limit named.
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("peerd.sock");
    let sock_s = sock.to_str().expect("utf-8");
    let long = "é".repeat(501); // 1002 bytes, 501 characters
    let out = peerctl(&["--socket", sock_s, "send", "2", &long]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("1000 bytes"), "{stderr}");
    assert!(stderr.contains("1002 bytes"), "{stderr}");
    // Words are joined with one space: 500 + 1 + 499 = 1000 bytes passes the check.
    let (a, b) = ("a".repeat(500), "b".repeat(499));
    let out = peerctl(&["--socket", sock_s, "send", "2", &a, &b]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "1000 bytes must reach the daemon: {out:?}"
    );
    let out = peerctl(&["--json", "--socket", sock_s, "send", "2", &long]);
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("json");
    assert_eq!(v["error"]["code"], "text_too_long");
}

#[test]
fn a_silent_daemon_times_out_with_exit_4() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("peerd.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    // Accept the connection and never answer; keep it open until the end.
    let holder = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let started = Instant::now();
    let out = peerctl(&["--socket", path_str(&sock), "--timeout", "300ms", "id"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        text(&out.stderr),
        "error: peerd did not answer within 300ms\n"
    );
    drop(holder.join().expect("accept thread"));
}

#[test]
fn empty_texts_are_refused_before_contacting_the_daemon() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("peerd.sock");
    let out = peerctl(&["--socket", path_str(&sock), "send", "2", ""]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        text(&out.stderr),
        "error: the text is empty (nothing was sent)\n"
    );
    let out = peerctl(&["--json", "--socket", path_str(&sock), "send", "2", " "]);
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("json");
    assert_eq!(v["error"]["code"], "empty_text");
}

#[test]
fn a_path_that_is_not_a_socket_is_named_as_such_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("passwd");
    std::fs::write(&file, "root:x:0:0:root:/root:/bin/sh\n").expect("write");
    for cmd in ["id", "stop"] {
        let out = peerctl(&["--socket", path_str(&file), cmd]);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {out:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with(&format!(
                "error: {} is not a socket but a regular file",
                path_str(&file)
            )),
            "{cmd}: {stderr}"
        );
        assert!(!stderr.contains("stale"), "{stderr}");
    }
    let out = peerctl(&["--socket", path_str(dir.path()), "status"]);
    assert!(
        text(&out.stderr).contains("is not a socket but a directory"),
        "{out:?}"
    );
    let out = peerctl(&["--json", "--socket", path_str(&file), "list"]);
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("json");
    assert_eq!(v["error"]["code"], "not_a_socket");
    assert_eq!(
        std::fs::read_to_string(&file).expect("still there"),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
}

#[test]
fn stop_with_no_daemon_succeeds_with_a_note() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("peerd.sock");
    let out = peerctl(&["--socket", path_str(&sock), "stop"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(
        text(&out.stderr),
        format!(
            "peerd is not running (no socket at {}); nothing to stop\n",
            path_str(&sock)
        )
    );
    drop(UnixListener::bind(&sock).expect("bind"));
    let out = peerctl(&["--json", "--socket", path_str(&sock), "stop"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        text(&out.stdout),
        "{\"kind\":\"stop\",\"was_running\":false}\n"
    );
    assert!(text(&out.stderr).contains("(stale socket at "), "{out:?}");
}

#[test]
fn completion_scripts_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F _peerctl"),
        ("zsh", "#compdef peerctl"),
        ("fish", "complete -c peerctl"),
    ] {
        let out = peerctl(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {out:?}");
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["inbox", "send", "follow", "since", "completions"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    // A reader that stops early (`| head -1`) is no error.
    let head = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' completions zsh | head -n 1",
            env!("CARGO_BIN_EXE_peerctl")
        ))
        .output()
        .expect("sh");
    assert_eq!(text(&head.stdout), "#compdef peerctl\n");
    assert_eq!(text(&head.stderr), "", "no panic on a closed pipe");
    let bash = std::env::temp_dir().join(format!("peerctl-completion-{}.bash", std::process::id()));
    std::fs::write(&bash, peerctl(&["completions", "bash"]).stdout).expect("write");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&bash)
        .output()
        .expect("bash -n");
    let _ = std::fs::remove_file(&bash);
    assert!(check.status.success(), "bash -n: {check:?}");
}

#[test]
fn timeout_zero_waits_without_limit() {
    // A daemon that answers after a while: `--timeout 0` waits for it.
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("peerd.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    let server = std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        let (stream, _) = listener.accept().expect("accept");
        let mut line = String::new();
        BufReader::new(&stream)
            .read_line(&mut line)
            .expect("request");
        // A slow daemon (not a synchronisation): a zero limit read as
        // "no time at all" would fail here.
        std::thread::sleep(Duration::from_millis(500));
        (&stream)
            .write_all(b"{\"req\":1,\"ok\":true,\"result\":{\"kind\":\"id\",\"id\":5}}\n")
            .expect("reply");
    });
    let out = peerctl(&["--socket", path_str(&sock), "--timeout", "0", "id"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stdout), "5\n");
    server.join().expect("fake daemon");
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

//! `--log-format`: text lines carry a timestamp except when stderr is the
//! systemd journal (`JOURNAL_STREAM` names it), json gives one object per
//! line with the event's fields, for `peerd server` and `peerd start`
//! alike; a config file's `log_format` yields to the flag.

mod ops_support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use ops_support::{command, Proc};

fn server(dir: &Path, name: &str, extra: &[&str]) -> Command {
    let mut cmd = command(dir);
    cmd.args(extra)
        .args([
            "server",
            "--threads",
            "1",
            "--listen",
            "127.0.0.1:0",
            "--db",
        ])
        .arg(dir.join(format!("{name}.sqlite3")));
    cmd
}

/// A timestamp like `2026-11-29T15:21:29.604840Z` at the start of `line`.
fn stamped(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 20 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T'
}

#[test]
fn text_has_timestamps_except_on_the_journal_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut plain = Proc::spawn(server(dir.path(), "a", &[]), &dir.path().join("a.log"));
    let line = plain.wait_line("listening on");
    assert!(stamped(&line), "{line}");

    // stderr is the file `b.log`; JOURNAL_STREAM names its device and inode
    // as systemd does for a service whose output goes to the journal.
    let log = dir.path().join("b.log");
    std::fs::File::create(&log).expect("create");
    let meta = std::fs::metadata(&log).expect("stat");
    let mut cmd = server(dir.path(), "b", &[]);
    cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    let mut journal = Proc::spawn_appending(cmd, &log);
    let line = journal.wait_line("listening on");
    assert!(
        !stamped(&line) && line.trim_start().starts_with("INFO"),
        "{line}"
    );
    assert!(!journal.text().lines().any(stamped), "{}", journal.text());

    // A JOURNAL_STREAM naming another file is not the journal.
    let mut cmd = server(dir.path(), "c", &[]);
    cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    let mut other = Proc::spawn(cmd, &dir.path().join("c.log"));
    assert!(stamped(&other.wait_line("listening on")));
}

#[test]
fn json_is_one_object_per_line_with_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut proc = Proc::spawn(
        server(dir.path(), "a", &["--log-format", "json"]),
        &dir.path().join("a.log"),
    );
    proc.wait_line("listening on");
    for line in proc.text().lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["timestamp"].is_string() && v["level"] == "INFO" && v["message"].is_string(),
            "{line}"
        );
    }

    // The variable works as well, and the daemon logs JSON too.
    let mut cmd = command(dir.path());
    cmd.env("PEERD_LOG_FORMAT", "json")
        .args([
            "start",
            "--listen",
            "127.0.0.1:0",
            "--server",
            "127.0.0.1:9",
            "--data-dir",
        ])
        .arg(dir.path().join("peer"));
    let mut daemon = Proc::spawn(cmd, &dir.path().join("peer.log"));
    let line = daemon.wait_line("\"level\"");
    let v: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
    assert!(v["message"].is_string(), "{line}");
}

#[test]
fn the_flag_beats_the_config_files_log_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("server.toml");
    std::fs::write(&file, "log_format = \"json\"\n").expect("write");
    let mut cmd = server(dir.path(), "a", &[]);
    cmd.env("PEERD_SERVER_CONFIG", &file);
    let mut json = Proc::spawn(cmd, &dir.path().join("a.log"));
    let line = json.wait_line("listening on");
    assert!(
        serde_json::from_str::<serde_json::Value>(&line).is_ok(),
        "{line}"
    );

    let mut cmd = server(dir.path(), "b", &["--log-format", "text"]);
    cmd.env("PEERD_SERVER_CONFIG", &file);
    let mut text = Proc::spawn(cmd, &dir.path().join("b.log"));
    let line = text.wait_line("listening on");
    assert!(stamped(&line), "{line}");
}

#[test]
fn journald_without_a_journal_falls_back_to_text_on_stderr() {
    if Path::new("/run/systemd/journal/socket").exists() {
        // A journal listens here: entries go there, not to stderr. The
        // fallback is what CI's machines (no systemd running) exercise.
        eprintln!("a systemd journal is running: the fallback cannot be observed here");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut proc = Proc::spawn(
        server(dir.path(), "a", &["--log-format", "journald"]),
        &dir.path().join("a.log"),
    );
    let line = proc.wait_line("listening on");
    assert!(line.contains("INFO"), "{line}");
    let warning = proc.wait_line("no systemd journal to log to");
    assert!(warning.contains("WARN"), "{warning}");
}

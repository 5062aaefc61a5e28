//! End to end: the README's first command, `bash .ci/demo`, runs the whole
//! story (three peers, ids, list, 1 -> 3, 2 -> 1, inboxes, clean shutdown)
//! with the binaries under test and leaves no process behind.

mod support;

use std::path::Path;
use std::process::Command;

use support::{peerctl_bin, Proc};

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmd| cmd.contains(needle))
        .collect()
}

#[test]
fn the_demo_tells_the_story_and_cleans_up() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let bin_dir = peerctl_bin()
        .parent()
        .expect("binary directory")
        .to_path_buf();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/demo");
    let mut run = Proc::spawn(
        "bash .ci/demo",
        Command::new("bash")
            .arg(&demo)
            .env("PEERD_BIN_DIR", &bin_dir)
            .env("TMPDIR", tmp.path())
            .env_remove("PEERD_SOCKET")
            .env_remove("PEERD_DATA_DIR")
            .env_remove("PEERD_SERVER"),
    );
    run.close_stdin();
    let status = run.wait();
    let out = run.stdout.text();
    assert!(
        status.success(),
        "demo failed with {status}\nstdout:\n{out}\nstderr:\n{}",
        run.stderr.text()
    );
    for needle in [
        "peer1$ peerctl id\n1\n",
        "peer2$ peerctl id\n2\n",
        "peer3$ peerctl id\n3\n",
        "peer1$ peerctl list\nID",
        "delivered to 3 (direct, ",
        "delivered to 1 (direct, ",
        "Hello from 1 to 3",
        "Hello from 2 to 1",
        "peer3$ peerctl stop",
        "Demo finished",
    ] {
        assert!(out.contains(needle), "demo output lacks {needle:?}:\n{out}");
    }
    let tmp_str = tmp.path().to_str().expect("utf-8 temp dir");
    let left = processes_mentioning(tmp_str);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    let files: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read temp dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert!(
        files.is_empty(),
        "the demo removes its directory: {files:?}"
    );
}

//! Settings of `peerd server`: the sample config files of `contrib/` load
//! (the server's and the daemon's, each running for real), flags beat
//! `PEERD_SERVER_*` variables, which beat the config file, which beats the
//! defaults; the default file is found under XDG and systemd's
//! directories; an unknown key stops the server with an error naming it.

mod ops_support;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ops_support::{command, repo, Proc, DEADLINE, POLL};
use support::{server_key_in, Client, Keys, Peer};

/// A server command on a free loopback port with its database in `dir`.
fn server(dir: &Path) -> Command {
    let mut cmd = command(dir);
    cmd.args([
        "server",
        "--threads",
        "1",
        "--listen",
        "127.0.0.1:0",
        "--db",
    ])
    .arg(dir.join("registry.sqlite3"));
    cmd
}

/// The keepalive a running server announces in REGISTERED.
fn announced_keepalive(proc: &mut Proc) -> u64 {
    let addr = proc.udp_addr();
    let key = server_key_in(&proc.wait_line("server key ")).expect("the server's key");
    u64::from(Peer::join_with(Client::new(addr), Keys::new(key)).keepalive)
}

/// `text` with every commented-out `# key = value` line made active.
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.split_once(" = ").is_some_and(|(k, _)| {
                    k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }) =>
            {
                rest
            }
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_server_sample_loads_as_shipped_and_with_every_key_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = repo().join("contrib/server.toml");
    let mut cmd = server(dir.path());
    cmd.arg("--config").arg(&sample);
    let mut proc = Proc::spawn(cmd, &dir.path().join("a.log"));
    assert_eq!(announced_keepalive(&mut proc), 25);
    proc.wait_line(&format!("config file {}", sample.display()));
    drop(proc);

    let text = std::fs::read_to_string(&sample).expect("read sample");
    let all = uncommented(&text);
    for key in ["db", "rate_burst", "metrics", "log_format"] {
        assert!(
            all.lines().any(|l| l.starts_with(&format!("{key} = "))),
            "{key} not in the sample"
        );
    }
    let full = dir.path().join("full.toml");
    std::fs::write(&full, all).expect("write");
    let mut cmd = server(dir.path());
    cmd.arg("--config")
        .arg(&full)
        .args(["--metrics", "127.0.0.1:0", "--log-format", "text"]);
    let mut proc = Proc::spawn(cmd, &dir.path().join("b.log"));
    assert_eq!(announced_keepalive(&mut proc), 25);
    proc.metrics_addr();
}

#[test]
fn flags_beat_variables_beat_the_file_beats_the_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("server.toml");
    std::fs::write(&file, "keepalive = 40\n").expect("write");
    let cases: [(&str, Option<&str>, Option<&str>, u64); 4] = [
        ("default", None, None, 25),
        ("file", Some("file"), None, 40),
        ("env", Some("file"), Some("env"), 50),
        ("flag", Some("file"), Some("env"), 60),
    ];
    for (name, use_file, use_env, expected) in cases {
        let mut cmd = server(dir.path());
        if use_file.is_some() {
            cmd.env("PEERD_SERVER_CONFIG", &file);
        }
        if use_env.is_some() {
            cmd.env("PEERD_SERVER_KEEPALIVE", "50");
        }
        if name == "flag" {
            cmd.args(["--keepalive", "60"]);
        }
        let mut proc = Proc::spawn(cmd, &dir.path().join(format!("{name}.log")));
        assert_eq!(announced_keepalive(&mut proc), expected, "case {name}");
    }
}

#[test]
fn default_config_files_under_xdg_and_systemd() {
    let dir = tempfile::tempdir().expect("tempdir");
    // XDG_CONFIG_HOME/peerd/server.toml (command() points XDG there).
    let xdg = dir.path().join("config/peerd");
    std::fs::create_dir_all(&xdg).expect("mkdir");
    std::fs::write(xdg.join("server.toml"), "keepalive = 33\n").expect("write");
    let mut proc = Proc::spawn(server(dir.path()), &dir.path().join("xdg.log"));
    assert_eq!(announced_keepalive(&mut proc), 33);
    drop(proc);

    // systemd's ConfigurationDirectory and StateDirectory.
    let (etc, state) = (dir.path().join("etc"), dir.path().join("state"));
    std::fs::create_dir_all(&etc).expect("mkdir");
    std::fs::create_dir_all(&state).expect("mkdir");
    std::fs::write(etc.join("server.toml"), "keepalive = 44\n").expect("write");
    let mut cmd = command(dir.path());
    cmd.args(["server", "--threads", "1", "--listen", "127.0.0.1:0"])
        .env("CONFIGURATION_DIRECTORY", &etc)
        .env("STATE_DIRECTORY", &state);
    let mut proc = Proc::spawn(cmd, &dir.path().join("systemd.log"));
    assert_eq!(announced_keepalive(&mut proc), 44);
    assert!(state.join("registry.sqlite3").exists(), "{}", proc.text());
}

#[test]
fn an_unknown_key_or_a_bad_value_stops_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (text, expect) in [
        (
            "listen = \"127.0.0.1:0\"\nrate-limit = 5\n",
            "line 2: `rate-limit = 5`: unknown field `rate-limit`",
        ),
        (
            "keepalive = 0\n",
            "keepalive = 0: must be 1 to 86400 seconds",
        ),
        (
            "metrics = \"localhost\"\n",
            "line 1: `metrics = \"localhost\"`",
        ),
    ] {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, text).expect("write");
        let out = server(dir.path())
            .arg("--config")
            .arg(&file)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(
            stderr.contains(&file.display().to_string()) && stderr.contains(expect),
            "{text}: {stderr}"
        );
    }
    let out = server(dir.path())
        .args(["--config", "/nonexistent/server.toml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/server.toml: cannot read"));
}

/// The `state` of a daemon's `status`, or `None` if it does not answer yet.
fn daemon_state(socket: &Path) -> Option<String> {
    let mut s = UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"{\"cmd\":\"status\"}\n").ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    let reply: serde_json::Value = serde_json::from_str(&line).ok()?;
    reply["result"]["state"].as_str().map(String::from)
}

fn wait_registered(socket: &Path, proc: &mut Proc) {
    let end = Instant::now() + DEADLINE;
    while daemon_state(socket).as_deref() != Some("registered") {
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!("daemon exited ({status}):\n{}", proc.text());
        }
        assert!(
            Instant::now() < end,
            "daemon not registered in time:\n{}",
            proc.text()
        );
        std::thread::sleep(POLL);
    }
}

#[test]
fn the_daemon_sample_runs_a_daemon_against_a_real_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut srv = Proc::spawn(server(dir.path()), &dir.path().join("server.log"));
    let addr = srv.udp_addr();
    let sample = repo().join("contrib/config.toml");
    let text = std::fs::read_to_string(&sample).expect("read sample");
    let full = dir.path().join("full.toml");
    // Every key set: the server's real key for the placeholder, and a free
    // port for the metrics.
    let key = server_key_in(&srv.wait_line("server key ")).expect("the server's key");
    let all = uncommented(&text)
        .replace("BASE64-OF-32-BYTES=", &key.to_string())
        .replace("127.0.0.1:9186", "127.0.0.1:0");
    assert!(
        all.contains("\nserver_key = ") && all.contains("\nmetrics = "),
        "{all}"
    );
    std::fs::write(&full, all).expect("write");
    for (n, config) in [(1, sample), (2, full)] {
        let data: PathBuf = dir.path().join(format!("peer{n}"));
        let socket = data.join("peerd.sock");
        let mut cmd = command(dir.path());
        cmd.args([
            "start",
            "--listen",
            "127.0.0.1:0",
            "--server",
            &addr.to_string(),
        ])
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .arg("--socket")
        .arg(&socket);
        let mut daemon = Proc::spawn(cmd, &dir.path().join(format!("peer{n}.log")));
        wait_registered(&socket, &mut daemon);
        daemon.terminate();
        assert!(daemon.wait_exit().success(), "{}", daemon.text());
    }
}

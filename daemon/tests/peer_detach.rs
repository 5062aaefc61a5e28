//! `peerd start --detach`: returns once the background daemon answers on its
//! control socket, printing the socket path; the daemon logs to its data
//! dir. A detached start that cannot succeed prints the daemon's error and
//! exits non-zero.

mod peer_support;

use peer_support::{daemon_command, wait_for, Ctl, Lab, DEADLINE};
use serde_json::json;

/// Kills a detached daemon by pid if the test ends early.
struct Pid(Option<i32>);

impl Drop for Pid {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: plain kill(2) on a pid this test started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

#[test]
fn detach_returns_once_the_socket_answers_and_reports_failures() {
    let lab = Lab::new();
    let server = lab.server();
    let data = lab.path("a");
    let out = daemon_command(server.addr, &data, &["--detach"])
        .stdout(std::process::Stdio::piped())
        .output()
        .expect("run peerd start --detach");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let socket = data.join("peerd.sock");
    assert_eq!(stdout.trim(), socket.to_string_lossy());

    let mut ctl = Ctl::connect(&socket);
    let status = ctl.request(&json!({"cmd": "status"}));
    let pid = status["result"]["pid"]
        .as_i64()
        .and_then(|p| i32::try_from(p).ok());
    let mut guard = Pid(pid);
    assert!(pid.is_some(), "{status}");
    assert_ne!(pid, i32::try_from(std::process::id()).ok());

    let log = data.join("peerd.log");
    wait_for("the log file to show registration", DEADLINE, || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.contains("registered with").then_some(())
    });
    assert!(
        !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("\u{1b}["),
        "no colours in the log file"
    );

    // A second detached daemon on the same socket fails with the reason.
    let sock = socket.to_string_lossy().into_owned();
    let out = daemon_command(
        server.addr,
        &lab.path("b"),
        &["--detach", "--socket", &sock],
    )
    .output()
    .expect("run a second detached daemon");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another peerd is running on"), "{stderr}");

    let stop = ctl.request(&json!({"cmd": "stop"}));
    assert_eq!(stop["result"]["kind"], "stop", "{stop}");
    wait_for("the detached daemon to exit", DEADLINE, || {
        let running = pid.is_some_and(alive);
        (!running && !socket.exists()).then_some(())
    });
    guard.0 = None;
}

/// Whether `pid` is a live process (a zombie waiting for its reaper is not).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

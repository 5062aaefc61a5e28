//! `peerd start --detach`: returns once the background daemon is
//! registered, printing its pid, control socket and log file; the daemon
//! logs to its data dir through the rotating writer, mode 0600. A daemon
//! that cannot register in time is left running and its state said (exit
//! 0); a detached start that cannot succeed prints the error and exits
//! non-zero.

mod support;

use std::os::unix::fs::PermissionsExt;

use peerd_shared::control::{Command, RegState, Response};
use support::{poll, Ctl, HeldPort, Launch, Proc, Scratch};

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
fn detach_returns_once_registered_and_reports_failures() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let data = tmp.path("a");
    let out = Proc::run(
        "peerd start --detach",
        &mut Launch::new(server.addr, &data)
            .args(&["--detach"])
            .command(),
    );
    assert!(out.success(), "{out:?}");
    let socket = data.join("peerd.sock");
    let log = data.join("peerd.log");

    let mut ctl = Ctl::connect(&socket);
    let Ok(Response::Status(status)) = ctl.request(Command::Status) else {
        panic!("no status from the detached daemon");
    };
    let pid = status.pid.and_then(|p| i32::try_from(p).ok());
    let mut guard = Pid(pid);
    assert!(pid.is_some(), "{status:?}");
    assert_ne!(pid, i32::try_from(std::process::id()).ok());
    // Registered by the time it returned, and it says so.
    assert_eq!(status.state, RegState::Registered, "{status:?}");
    let id = status.id.expect("an id");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "peerd is running: pid {}, registered as id {id} with {}",
                pid.expect("pid"),
                server.addr
            )
            .as_str(),
            format!("socket  {}", socket.display()).as_str(),
            format!("log     {}", log.display()).as_str(),
        ],
        "{out:?}"
    );
    let mode = std::fs::metadata(&log).expect("log").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the detach log is private");

    poll("the log file to show registration", || {
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
    let out = Proc::run(
        "a second peerd start --detach",
        &mut Launch::new(server.addr, &tmp.path("b"))
            .args(&["--detach"])
            .socket(&socket)
            .command(),
    );
    assert!(!out.success());
    assert!(
        out.stderr.contains(&format!(
            "another peerd (pid {}) is running on the control socket {}",
            pid.expect("pid"),
            socket.display()
        )),
        "{}",
        out.stderr
    );

    let stop = ctl.request(Command::Stop);
    assert!(matches!(stop, Ok(Response::Stopping)), "{stop:?}");
    poll("the detached daemon to exit", || {
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

#[test]
fn a_detached_daemon_that_cannot_register_is_left_running_and_its_state_said() {
    let tmp = Scratch::new();
    // A port nobody answers on: the daemon keeps asking.
    let silent = HeldPort::new();
    let data = tmp.path("a");
    let out = Proc::run(
        "peerd start --detach (silent server)",
        &mut Launch::new(silent.addr(), &data)
            .args(&["--detach"])
            .command(),
    );
    let socket = data.join("peerd.sock");
    let mut ctl = Ctl::connect(&socket);
    let Ok(Response::Status(status)) = ctl.request(Command::Status) else {
        panic!("no status from the detached daemon: {out:?}");
    };
    let pid = status.pid.and_then(|p| i32::try_from(p).ok());
    let mut guard = Pid(pid);
    assert!(out.success(), "it runs, so exit 0: {out:?}");
    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "peerd is running: pid {}, not registered with {} after 10 s (",
            pid.expect("pid"),
            silent.addr()
        )) && first.ends_with("it keeps trying (see `peerctl status`)"),
        "{out:?}"
    );
    assert_eq!(out.stdout.lines().count(), 3, "{out:?}");
    assert_ne!(status.state, RegState::Registered);

    let stop = ctl.request(Command::Stop);
    assert!(matches!(stop, Ok(Response::Stopping)), "{stop:?}");
    poll("the detached daemon to exit", || {
        (!pid.is_some_and(alive)).then_some(())
    });
    guard.0 = None;
}

//! `peerd start --detach`: returns once the background daemon answers on its
//! control socket, printing the socket path; the daemon logs to its data
//! dir. A detached start that cannot succeed prints the daemon's error and
//! exits non-zero.

mod support;

use peerd_shared::control::{Command, Response};
use support::{poll, Ctl, Launch, Proc, Scratch};

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
    assert_eq!(out.stdout.trim(), socket.to_string_lossy());

    let mut ctl = Ctl::connect(&socket);
    let Ok(Response::Status(status)) = ctl.request(Command::Status) else {
        panic!("no status from the detached daemon");
    };
    let pid = status.pid.and_then(|p| i32::try_from(p).ok());
    let mut guard = Pid(pid);
    assert!(pid.is_some(), "{status:?}");
    assert_ne!(pid, i32::try_from(std::process::id()).ok());

    let log = data.join("peerd.log");
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
        out.stderr.contains("another peerd is running on"),
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

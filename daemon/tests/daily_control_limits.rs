//! What one client may cost the daemon on its control socket
//! (`docs/control.md`, "Limits"):
//!
//! - a client that pipelines requests and never reads the replies is cut
//!   off once its unsent replies pass the bound: 200,000 `status` requests,
//!   then as many `inbox` listings of a few hundred kilobytes; the daemon's
//!   peak memory stays under [`RSS_BOUND`] and it serves other clients all
//!   along;
//! - one reply may be large: an inbox of 600 messages of 1000 bytes is
//!   listed whole (`inbox --all`, `--json`, `follow`).

mod support;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;

use peerd_shared::control::{Command, Event, Response};
use support::{peer, poll, Ctl, Daemon, Net, DEADLINE};

/// Peak resident memory the daemon may reach through the floods below (a
/// debug build peaks at about 20 MiB before them, 25 MiB after; without
/// the bounds, the status flood alone took it past 400 MiB).
const RSS_BOUND: u64 = 64 * 1024 * 1024;

/// `VmHWM` (peak resident set) and `VmRSS` of `pid`, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("no {name} in {status}"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Writes `count` copies of `line` to a new connection without reading;
/// returns how many were written before the daemon closed it.
fn flood(socket: &Path, line: &str, count: usize) -> thread::JoinHandle<Result<usize, String>> {
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream
        .set_write_timeout(Some(DEADLINE))
        .expect("write timeout");
    let chunk: String = std::iter::repeat_n(line, 1000).collect();
    thread::spawn(move || {
        let mut written = 0;
        while written < count {
            match stream.write_all(chunk.as_bytes()) {
                Ok(()) => written += 1000,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(format!("not cut off: a write blocked for {DEADLINE:?}"))
                }
                Err(_) => return Ok(written),
            }
        }
        Err(format!("all {count} requests were taken, none refused"))
    })
}

/// Runs a flood to its end while another client keeps asking `status`.
fn serve_others_during(d: &Daemon, flood: thread::JoinHandle<Result<usize, String>>) -> usize {
    let mut other = Ctl::connect(&d.socket);
    let mut answered = 0;
    poll("the flooding client to be cut off", || {
        let reply = other.request(Command::Status);
        assert!(matches!(reply, Ok(Response::Status(_))), "{reply:?}");
        answered += 1;
        flood.is_finished().then_some(())
    });
    assert!(answered > 0);
    flood
        .join()
        .expect("flood thread")
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_client_that_never_reads_is_cut_off_and_memory_stays_bounded() {
    let net = Net::start(2);
    let (d1, d2) = (&net.daemons[0], &net.daemons[1]);
    let pid = d2.status().expect("status").pid.expect("pid");
    // 300 kB of history, so that each `inbox` listing is large.
    let text = "x".repeat(1000);
    let mut ctl = d1.ctl();
    for _ in 0..300 {
        ctl.submit(Command::Send {
            to: peer(2),
            text: text.clone(),
            ttl_secs: None,
            wait: false,
        });
    }
    for _ in 0..300 {
        let (_, reply) = ctl.next_reply();
        assert!(reply.is_ok(), "{reply:?}");
    }
    poll("300 messages in d2's inbox", || {
        (d2.inbox(None).ok()?.len() == 300).then_some(())
    });
    let (start_peak, _) = memory(pid);

    let sent = serve_others_during(d2, flood(&d2.socket, "{\"cmd\":\"status\"}\n", 200_000));
    eprintln!("status flood: cut off after about {sent} requests");
    let sent = serve_others_during(d2, flood(&d2.socket, "{\"cmd\":\"inbox\"}\n", 200_000));
    eprintln!("listing flood: cut off after about {sent} requests");

    let (peak, now) = memory(pid);
    eprintln!(
        "peak RSS {} MiB at start, {} MiB after the floods ({} MiB now)",
        start_peak >> 20,
        peak >> 20,
        now >> 20
    );
    assert!(peak < RSS_BOUND, "peak RSS {} MiB", peak >> 20);
    let cut = || {
        d2.logs()
            .iter()
            .filter(|l| l.contains("without reading the replies; closing its connection"))
            .count()
    };
    poll("a log line per client cut off", || {
        (cut() >= 2).then_some(())
    });
    assert_eq!(cut(), 2, "one line per client cut off");
    assert!(d2.status().is_ok(), "still serving");
}

#[test]
fn a_large_history_is_listed_whole() {
    let net = Net::start(2);
    let (d1, d2) = (&net.daemons[0], &net.daemons[1]);
    let mut ctl = d1.ctl();
    let texts: Vec<String> = (0..600)
        .map(|i| format!("{i:04} {}", "y".repeat(995)))
        .collect();
    for text in &texts {
        assert_eq!(text.len(), 1000);
        ctl.submit(Command::Send {
            to: peer(2),
            text: text.clone(),
            ttl_secs: None,
            wait: false,
        });
    }
    for _ in &texts {
        let (_, reply) = ctl.next_reply();
        assert!(reply.is_ok(), "{reply:?}");
    }
    poll("600 messages in d2's inbox", || {
        (d2.inbox(None).ok()?.len() == 600).then_some(())
    });

    let json = d2.peerctl(&["--json", "inbox", "--all"]).json();
    let listed: Vec<&str> = json["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().expect("text"))
        .collect();
    assert_eq!(listed, texts, "all of them, in order, exact");
    let out = d2.peerctl(&["inbox", "--all", "--full"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 601, "a header and 600 rows");

    let mut events = d2.ctl().follow(None, None);
    for text in &texts {
        match events.next() {
            Some(Event::Message { message }) => assert_eq!(&message.text, text),
            other => panic!("expected a replayed message, got {other:?}"),
        }
    }
    assert_eq!(events.next(), Some(Event::Live));
}

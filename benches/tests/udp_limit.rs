//! The reference limit answers every Binding request of the `stun` load
//! correctly: otherwise "percent of the limit" would compare against a
//! responder that does less work than a real one.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use peerbench::{LoadConfig, Mode};

/// The running `udp-limit`, killed on drop.
struct Limit(Child);

impl Drop for Limit {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn udp_limit_answers_every_binding_request() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_udp-limit"))
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn udp-limit");
    let stdout = child.stdout.take().expect("piped stdout");
    let _limit = Limit(child);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("listening on ") {
                if let Ok(addr) = addr.trim().parse::<SocketAddr>() {
                    let _ = tx.send(addr);
                }
            }
        }
    });
    let server = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("udp-limit prints `listening on ADDR`");
    for batch in [true, false] {
        let report = peerbench::run(&LoadConfig {
            mode: Mode::Stun,
            server,
            server_key: None,
            peers: 16,
            window: 4,
            duration: Duration::from_millis(300),
            warmup: Duration::from_millis(100),
            timeout: Duration::from_secs(2),
            threads: 2,
            batch,
            server_pid: None,
            prepare: 0,
        })
        .expect("benchmark runs");
        assert!(report.ok > 0, "{report}");
        assert_eq!(
            report.errors + report.lost + report.invalid + report.garbage,
            0,
            "{report}"
        );
    }
}

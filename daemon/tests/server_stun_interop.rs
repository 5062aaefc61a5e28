//! Stock STUN clients against `peerd server` on its one port: Debian's
//! `stun` (classic RFC 3489, package stun-client) must print the right
//! `MappedAddress`, coturn's `turnutils_stunclient` (RFC 5389) the right
//! reflexive address. Without the tools the test is skipped, unless
//! `CI=true`, where it fails.

mod support;

use std::net::SocketAddr;
use std::process::Command;

use support::*;

/// Runs `tool args`; `None` (skip) if it is not installed outside CI.
fn run_tool(tool: &str, args: &[&str]) -> Option<Run> {
    match Proc::start(tool, Command::new(tool).args(args)) {
        Ok(proc) => Some(proc.finish()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{tool} is not installed (CI=true): apt-get install stun-client coturn");
            }
            eprintln!("skipping: {tool} is not installed (apt-get install stun-client coturn)");
            None
        }
        Err(e) => panic!("cannot run {tool}: {e}"),
    }
}

/// The address after `label` in the tool's output.
fn address_after(text: &str, label: &str) -> SocketAddr {
    let line = text
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label:?} in output:\n{text}"));
    let rest = line.rsplit(label).next().unwrap_or_default().trim();
    rest.parse()
        .unwrap_or_else(|_| panic!("cannot read an address in {line:?}"))
}

#[test]
fn debian_stun_client_prints_the_mapped_address() {
    let server = Server::fresh_at("127.0.0.1:0", "info", &[]);
    let target = server.addr.to_string();
    // The tool binds this port itself: held until just before it runs.
    let port = HeldPort::new().release().port();
    let port_text = port.to_string();
    let Some(out) = run_tool("stun", &[&target, "-v", "-p", &port_text]) else {
        return;
    };
    let text = format!("{}{}", out.stdout, out.stderr);
    let mapped = address_after(&text, "MappedAddress =");
    assert_eq!(
        mapped,
        SocketAddr::from(([127, 0, 0, 1], port)),
        "output:\n{text}"
    );
    assert!(
        text.contains("test I = 1"),
        "the binding test did not pass:\n{text}"
    );
}

#[test]
fn coturn_stunclient_prints_the_reflexive_address() {
    let server = Server::fresh_at("127.0.0.1:0", "info,peerd::server=debug", &[]);
    let port = server.addr.port().to_string();
    let Some(out) = run_tool("turnutils_stunclient", &["-p", &port, "127.0.0.1"]) else {
        return;
    };
    let text = format!("{}{}", out.stdout, out.stderr);
    let reflexive = address_after(&text, "UDP reflexive addr:");
    assert_eq!(reflexive.ip().to_string(), "127.0.0.1", "output:\n{text}");
    // The client's port is its own choice: the server logged it.
    server.wait_for_log(&format!("source={reflexive}"));
}

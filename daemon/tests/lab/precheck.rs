//! Preconditions of the lab (root, `ip`, `iptables`, `conntrack`, and
//! network namespaces the machine lets us make) and the skip-or-fail
//! policy: under `CI=true` a lab that cannot be set up fails the test
//! loudly; elsewhere a lab test without its preconditions prints a one-line
//! reason and returns.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::error::{LabError, Result};
use super::netns::run;
use super::topology::{Lab, PREFIX};

/// The external tools the lab drives, with the Debian package of each.
const TOOLS: [(&str, &str, &str); 3] = [
    ("ip", "-V", "iproute2"),
    ("iptables", "-V", "iptables"),
    ("conntrack", "-V", "conntrack"),
];

/// Checks that the lab can be built: root, and the tools installed.
pub fn preflight() -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(LabError::Unavailable(
            "the lab needs root (network namespaces and iptables)".into(),
        ));
    }
    for (tool, flag, package) in TOOLS {
        let ok = Command::new(tool)
            .arg(flag)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err(LabError::Unavailable(format!(
                "`{tool}` is missing (apt-get install {package})"
            )));
        }
    }
    netns_supported()
}

/// Whether this machine can make network namespaces at all (a kernel
/// without them, or a container that forbids them, cannot): one probe
/// namespace is created and deleted, once per test process.
fn netns_supported() -> Result<()> {
    static PROBE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let name = format!("{PREFIX}-{}-probe", std::process::id());
            let made = run("ip", &["netns", "add", &name]);
            let _ = run("ip", &["netns", "delete", &name]);
            made.map(drop)
                .map_err(|e| format!("network namespaces are not available: {e}"))
        })
        .clone()
        .map_err(LabError::Unavailable)
}

/// Whether we run under CI (`CI=true`), where skipping is not allowed.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Builds a lab for `test`. Returns `None` (after printing why) when the
/// preconditions are missing outside CI; panics under `CI=true`, and
/// whenever the preconditions hold but building the lab fails.
pub fn lab_or_skip(test: &str) -> Option<Lab> {
    if let Err(reason) = preflight() {
        assert!(
            !in_ci(),
            "lab test {test} cannot run under CI=true: {reason}"
        );
        // Written past the test harness's output capture, so a skip is
        // visible in a normal `cargo test` run.
        let _ = writeln!(std::io::stderr(), "skipping lab test {test}: {reason}");
        return None;
    }
    match Lab::new() {
        Ok(lab) => Some(lab),
        Err(e) => panic!("lab test {test}: cannot build the lab: {e}"),
    }
}

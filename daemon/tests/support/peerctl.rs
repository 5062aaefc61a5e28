//! Runs the real `peerctl` binary, as a user or a script would, and keeps
//! what it printed and how it exited.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use super::bins::{isolate, peerctl_bin};
use super::process::{Proc, Run};

/// The command line `peerctl ARGS...`, isolated with the (empty) config
/// file `config`.
pub fn peerctl_command(config: &Path, args: &[OsString]) -> Command {
    let mut cmd = Command::new(peerctl_bin());
    cmd.args(args);
    isolate(&mut cmd, config);
    cmd
}

/// Starts `peerctl ARGS...` (e.g. `inbox --follow`, `shell`) with a pipe
/// to its stdin; it runs until it ends or is dropped.
pub fn peerctl_spawn(config: &Path, args: &[OsString]) -> Proc {
    let name = format!("peerctl {}", args_text(args));
    Proc::spawn_interactive(&name, &mut peerctl_command(config, args))
}

/// Runs `peerctl ARGS...` with `input` on stdin, then end of input, to
/// completion (killed after the deadline).
pub fn peerctl_run(config: &Path, args: &[OsString], input: &str) -> Run {
    let mut proc = peerctl_spawn(config, args);
    if !input.is_empty() {
        proc.write_stdin(input);
    }
    proc.close_stdin();
    proc.finish()
}

/// `args` as owned OS strings (for the functions above).
pub fn os_args(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn args_text(args: &[OsString]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    words.join(" ")
}

//! The `peerctl` library: everything the `peerctl` binary does, usable by
//! other programs that want to talk to a running `peerd start` daemon.
//!
//! - [`cli`]: the command line (clap), e.g. for man pages and completions.
//! - [`client`]: connect to the control socket, send requests, follow the inbox.
//! - [`commands`]: what each command does; [`send`], [`history`],
//!   [`follow`], [`ping`] and [`shell`] hold the larger ones.
//! - [`output`]: human tables and sentences, or stable JSON lines.
//! - [`paths`]: the human form of `peers` and `ping`.
//! - [`failure`]: how a command fails: code, sentence, exit status.
//! - [`locate`]: where the control socket is, decided like the daemon does.
//! - [`view`]: time zone and width of human output.
//! - [`when`]: durations (`1.5h`, `90m`) and times (local zone or UTC).
//!
//! The request and reply types are `peerd_shared::control`; the protocol is
//! described in `docs/control.md`.

pub mod cli;
pub mod client;
pub mod commands;
pub mod failure;
pub mod follow;
pub mod history;
pub mod locate;
pub mod output;
pub mod paths;
pub mod ping;
pub mod send;
pub mod shell;
pub mod view;
pub mod when;

pub use client::{Client, ClientError, Follower};

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the daemon answered with an error (or the connection failed).
pub const EXIT_DAEMON_ERROR: u8 = 1;
/// Exit status: usage error (bad flags or arguments, an empty text or one
/// over the limit).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the daemon is not running (no socket, or a stale one).
pub const EXIT_NOT_RUNNING: u8 = 3;
/// Exit status: no answer within `--timeout` (for `id`: still no id).
pub const EXIT_TIMEOUT: u8 = 4;

/// The exit status for a client error.
pub fn exit_code(err: &ClientError) -> u8 {
    match err {
        ClientError::NotRunning { .. } | ClientError::StaleSocket { .. } => EXIT_NOT_RUNNING,
        ClientError::Timeout(_) => EXIT_TIMEOUT,
        _ => EXIT_DAEMON_ERROR,
    }
}

//! The `peerctl` library: everything the `peerctl` binary does, usable by
//! other programs that want to talk to a running `peerd start` daemon.
//!
//! - [`client`]: connect to the control socket, send requests, follow the inbox.
//! - [`output`]: human tables and sentences, or stable JSON lines.
//! - [`paths`]: the human form of `peers` and `ping`.
//! - [`shell`]: the original client's numbered menu.
//! - [`locate`]: where the control socket is, decided like the daemon does.
//! - [`duration`]: humane durations (`30m`, `1h`, `90s`) for flags.
//!
//! The request and reply types are `peerd_shared::control`; the protocol is
//! described in `docs/control.md`.

pub mod client;
pub mod duration;
pub mod locate;
pub mod output;
pub mod paths;
pub mod shell;

pub use client::{Client, ClientError, Follower};

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the daemon answered with an error (or the connection failed).
pub const EXIT_DAEMON_ERROR: u8 = 1;
/// Exit status: usage error (bad flags or arguments, a text over the limit).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the daemon is not running (no socket, or a stale one).
pub const EXIT_NOT_RUNNING: u8 = 3;
/// Exit status: the daemon did not answer in time (`--timeout`).
pub const EXIT_TIMEOUT: u8 = 4;

/// The exit status for a client error.
pub fn exit_code(err: &ClientError) -> u8 {
    match err {
        ClientError::NotRunning { .. } | ClientError::StaleSocket { .. } => EXIT_NOT_RUNNING,
        ClientError::Timeout(_) => EXIT_TIMEOUT,
        _ => EXIT_DAEMON_ERROR,
    }
}

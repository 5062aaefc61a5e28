//! How a `peerctl` command fails: a stable code, a sentence and an exit
//! status ([`Failure`]), printed once ([`Failure::report`]): as a JSON error
//! object on stdout with `--json`, else as one line on stderr.

use std::io::Write;

use crate::client::ClientError;
use crate::output::error_json;
use crate::{exit_code, EXIT_DAEMON_ERROR, EXIT_NOT_RUNNING, EXIT_USAGE};

/// How a command failed: what to print and the exit status.
#[derive(Debug)]
pub struct Failure {
    /// Stable snake_case code (`not_running`, `unknown_peer`, ...).
    pub code: String,
    /// The sentence for people.
    pub message: String,
    /// The exit status.
    pub status: u8,
    /// The outcome was already printed; only the exit status remains.
    pub printed: bool,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Self {
            code: e.code(),
            message: e.to_string(),
            status: exit_code(&e),
            printed: false,
        }
    }
}

impl Failure {
    /// A failure with `code`, `message` and exit `status`.
    pub fn new(code: &str, message: impl Into<String>, status: u8) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            status,
            printed: false,
        }
    }

    /// A usage error (exit 2), found before any contact with the daemon.
    pub fn usage(code: &str, message: impl Into<String>) -> Self {
        Self::new(code, message, EXIT_USAGE)
    }

    /// A failure whose outcome is already on stdout (exit 1).
    pub fn printed(code: &str) -> Self {
        Self {
            printed: true,
            ..Self::new(code, "", EXIT_DAEMON_ERROR)
        }
    }

    /// Prints the failure: a JSON error object on stdout with `json`, else
    /// one line on stderr (the "not running" sentence exactly, without a
    /// prefix). Nothing when it was already printed.
    pub fn report(&self, json: bool) {
        if self.printed {
            return;
        }
        if json {
            emit(&error_json(&self.code, &self.message));
        } else if self.status == EXIT_NOT_RUNNING {
            note(&self.message);
        } else {
            note(&format!("error: {}", self.message));
        }
    }
}

/// Writes one line to stdout; false when stdout is gone (a closed pipe),
/// which is not worth a panic.
pub fn emit(line: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}

/// Writes one line to stderr (notes and errors for people).
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn client_errors_become_codes_and_statuses() {
        let f = Failure::from(ClientError::Timeout(Duration::from_secs(2)));
        assert_eq!(f.status, 4);
        assert_eq!(
            error_json(&f.code, &f.message),
            r#"{"error":{"code":"timeout","message":"peerd did not answer within 2s"}}"#
        );
        let f = Failure::from(ClientError::Closed);
        assert_eq!((f.code.as_str(), f.status), ("closed", 1));
    }
}

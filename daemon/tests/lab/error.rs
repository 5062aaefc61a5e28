//! The lab's error type: why a lab could not be built or driven.

use std::io;

use crate::support::Timeout;

/// Everything that can go wrong while building or driving a lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A precondition is missing (not root, a tool not installed); outside
    /// CI the lab tests skip with this reason.
    #[error("{0}")]
    Unavailable(String),
    /// A setup command ran and failed.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        cmd: String,
        status: String,
        stderr: String,
    },
    /// An operating-system call failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// Something did not happen before its deadline.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A daemon's control socket failed or refused a request.
    #[error("control request failed: {0}")]
    Control(#[from] peerctl::ClientError),
}

impl From<Timeout> for LabError {
    fn from(t: Timeout) -> Self {
        Self::Timeout(t.0)
    }
}

impl LabError {
    /// Wraps an `io::Error` with what the lab was doing.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result of lab operations.
pub type Result<T> = std::result::Result<T, LabError>;

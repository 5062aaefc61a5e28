//! The one error type of the peerbench library.

use std::io;

/// Why a benchmark could not run (as opposed to what it measured: failed
/// requests are counted in the report, not raised).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("setup failed: {0}")]
    Setup(String),
}

impl BenchError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

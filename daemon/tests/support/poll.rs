//! Waiting in the tests: poll a condition until it holds or a deadline
//! passes. Nothing in the tests waits by sleeping a fixed time; the only
//! sleep is the pause between two polls.

use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails. Generous: it
/// only matters when something is wrong, and a loaded 2-core machine can
/// be slow.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// Pause between two polls.
pub const POLL: Duration = Duration::from_millis(20);

/// A wait that ran out: what was awaited and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout(pub String);

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out waiting for {}", self.0)
    }
}

impl std::error::Error for Timeout {}

/// Polls `f` every [`POLL`] until it returns `Some`, for at most `limit`.
/// `what` is only formatted on failure.
pub fn wait_until<T>(
    what: impl fmt::Display,
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T, Timeout> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() >= end {
            return Err(Timeout(format!("{what} (after {limit:?})")));
        }
        thread::sleep(POLL);
    }
}

/// Polls `f` until it returns `Some`; fails the test after `limit`.
pub fn poll_for<T>(what: impl fmt::Display, limit: Duration, f: impl FnMut() -> Option<T>) -> T {
    wait_until(what, limit, f).unwrap_or_else(|t| panic!("{t}"))
}

/// Polls `f` until it returns `Some`; fails the test after [`DEADLINE`].
pub fn poll<T>(what: impl fmt::Display, f: impl FnMut() -> Option<T>) -> T {
    poll_for(what, DEADLINE, f)
}

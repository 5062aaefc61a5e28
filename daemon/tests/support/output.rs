//! What a child process writes to a pipe, captured by a reader thread.
//!
//! A wait for some output ends as soon as it is there, and fails early once
//! the pipe is closed and read to the end without it: the end of the pipe,
//! not the exit of the process, says that all the output has been seen (a
//! process can exit before the reader has taken its last lines).

use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::poll::{Timeout, DEADLINE};

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    /// The pipe is closed and everything in it was read.
    closed: bool,
}

/// Text captured from one pipe of a child, shared with its reader thread.
#[derive(Clone, Default)]
pub struct Captured {
    shared: Arc<(Mutex<Buffer>, Condvar)>,
}

impl Captured {
    /// Starts a thread copying `stream` into a new capture until end of file.
    pub fn collect(mut stream: impl Read + Send + 'static) -> Self {
        let captured = Self::default();
        let sink = captured.clone();
        thread::spawn(move || {
            // Chunks, not lines: prompts such as `choice> ` end without a newline.
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                sink.lock().bytes.extend_from_slice(&buf[..n]);
                sink.shared.1.notify_all();
            }
            sink.lock().closed = true;
            sink.shared.1.notify_all();
        });
        captured
    }

    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Everything captured so far, terminal colour codes removed.
    pub fn text(&self) -> String {
        strip_ansi(&String::from_utf8_lossy(&self.lock().bytes))
    }

    /// The complete lines captured so far.
    pub fn lines(&self) -> Vec<String> {
        let text = self.text();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete.lines().map(str::to_owned).collect()
    }

    /// Whether the pipe is closed and read to the end.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Waits until `found` picks something out of the captured text, for at
    /// most `limit`; fails early when the pipe closed without it.
    pub fn wait_until<T>(
        &self,
        what: &str,
        limit: Duration,
        mut found: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, Timeout> {
        let end = Instant::now() + limit;
        let mut buffer = self.lock();
        loop {
            let text = strip_ansi(&String::from_utf8_lossy(&buffer.bytes));
            if let Some(v) = found(&text) {
                return Ok(v);
            }
            let now = Instant::now();
            if buffer.closed || now >= end {
                let why = if buffer.closed {
                    "the output ended"
                } else {
                    "time ran out"
                };
                return Err(Timeout(format!(
                    "{what} ({why}); last output:\n{}",
                    tail(&text, 30)
                )));
            }
            buffer = self
                .shared
                .1
                .wait_timeout(buffer, end - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Waits until the captured text contains `needle`; returns the text.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_until(&format!("{needle:?} in the output"), DEADLINE, |text| {
            text.contains(needle).then(|| text.to_owned())
        })
        .unwrap_or_else(|t| panic!("{t}"))
    }

    /// Waits for a complete line satisfying `pred`; returns it.
    pub fn wait_line(
        &self,
        limit: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<String, Timeout> {
        self.wait_until("a matching line", limit, |text| {
            let complete = text.rfind('\n').map_or("", |end| &text[..end]);
            complete.lines().find(|l| pred(l)).map(str::to_owned)
        })
    }

    /// Waits until the pipe is closed and read to the end, at most `limit`
    /// (a grandchild may hold the pipe open); whether it was.
    pub fn wait_closed(&self, limit: Duration) -> bool {
        self.wait_until("the end of the output", limit, |_| None::<()>)
            .is_ok()
            || self.is_closed()
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Removes terminal escape sequences (`ESC [ ... letter`).
pub fn strip_ansi(s: &str) -> String {
    if !s.contains('\u{1b}') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

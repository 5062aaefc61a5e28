//! `daemon-throughput`: one control connection to daemon A pipelining N
//! `send` requests (`wait: false`) to daemon B; delivered means A's outbox
//! counts it `delivered` (B acknowledged it, which B does only once it is
//! stored) and B's inbox holds it. Checks every text is in B's inbox
//! exactly once.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use peerd_shared::control::{Command, Response};
use serde::Serialize;

use super::control::Conn;
use super::procs::{Bins, Pair};
use crate::error::BenchError;

/// What a throughput run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ThroughputReport {
    pub messages: u64,
    /// From the first request written to A's outbox counting all N delivered.
    pub elapsed_s: f64,
    pub msgs_per_s: f64,
    /// From the first request written to the N-th `sent` reply (accepted and stored on A).
    pub accepted_s: f64,
    /// `send` requests the daemon refused.
    pub errors: u64,
    /// Texts missing from B's inbox.
    pub lost: u64,
    /// Texts in B's inbox more than once (or not sent by this run).
    pub duplicates: u64,
    pub outbox_failed: u64,
}

impl std::fmt::Display for ThroughputReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "daemon-throughput: {} messages delivered in {:.3} s = {:.0} msgs/s \
             (all accepted by A after {:.3} s); errors {}, lost {}, duplicates {}, failed {}",
            self.messages,
            self.elapsed_s,
            self.msgs_per_s,
            self.accepted_s,
            self.errors,
            self.lost,
            self.duplicates,
            self.outbox_failed
        )
    }
}

/// Runs the throughput benchmark with `messages` sends, polling A's
/// `status` every `poll_every` (each poll counts A's outbox in its store).
pub fn throughput(
    bins: &Bins,
    server: Option<SocketAddr>,
    messages: u64,
    poll_every: Duration,
    timeout: Duration,
) -> Result<ThroughputReport, BenchError> {
    let pair = Pair::start(bins, server)?;
    let to = pair.b_id;
    let (mut reader, mut writer) = Conn::connect(&pair.a.socket)?.split();
    let mut poll = Conn::connect(&pair.a.socket)?;

    let start = Instant::now();
    let writing = thread::spawn(move || -> Result<(), BenchError> {
        for i in 0..messages {
            writer.write(Command::Send {
                to,
                text: format!("bench {i}"),
                ttl_secs: None,
                wait: false,
            })?;
        }
        writer.flush()?;
        // Keep the connection open until every reply has been read.
        Ok(())
    });
    let mut errors = 0u64;
    let mut first_error = None;
    for _ in 0..messages {
        match reader.reply()?.into_result() {
            Ok(Response::Sent(_)) => {}
            Ok(other) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("{other:?}"));
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("{e:?}"));
            }
        }
    }
    let accepted = start.elapsed();
    writing
        .join()
        .map_err(|_| BenchError::Setup("the writer thread panicked".into()))??;
    if let Some(e) = first_error {
        eprintln!("peerbench: first refused send: {e}");
    }

    let expect = messages - errors;
    let deadline = start + timeout;
    let (elapsed, failed) = loop {
        let s = poll.status()?;
        if s.outbox_delivered + s.outbox_failed >= expect {
            break (start.elapsed(), s.outbox_failed);
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Setup(format!(
                "only {} of {expect} delivered after {timeout:?} ({} queued, {} failed)",
                s.outbox_delivered, s.outbox_queued, s.outbox_failed
            )));
        }
        thread::sleep(poll_every);
    };

    // Stored on B, each exactly once.
    let mut on_b = Conn::connect(&pair.b.socket)?;
    let b_count = on_b.status()?.inbox;
    let Response::Inbox { messages: inbox } = on_b.call(Command::Inbox {
        from: Some(pair.a_id),
        limit: None,
    })?
    else {
        return Err(BenchError::Setup("inbox answered with another kind".into()));
    };
    let mut seen = HashSet::with_capacity(inbox.len());
    let mut duplicates = 0u64;
    for m in &inbox {
        let ours = m
            .text
            .strip_prefix("bench ")
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|&n| n < messages);
        match ours {
            Some(n) if seen.insert(n) => {}
            _ => duplicates += 1,
        }
    }
    let lost = expect.saturating_sub(seen.len() as u64);
    if b_count != inbox.len() as u64 {
        duplicates += b_count.saturating_sub(inbox.len() as u64);
    }
    let secs = elapsed.as_secs_f64();
    Ok(ThroughputReport {
        messages,
        elapsed_s: secs,
        msgs_per_s: if secs > 0.0 {
            expect as f64 / secs
        } else {
            0.0
        },
        accepted_s: accepted.as_secs_f64(),
        errors,
        lost,
        duplicates,
        outbox_failed: failed,
    })
}

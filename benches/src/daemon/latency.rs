//! `daemon-latency`: a follower on daemon B (`follow`, then the `live`
//! event), and sends from daemon A at a steady rate on one connection;
//! latency is from writing a `send` request to the follower reading its
//! `message` event, both in this process on the monotonic clock.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use peerd_shared::control::{Command, Event, Response};
use serde::Serialize;

use super::control::Conn;
use super::procs::{Bins, Pair};
use crate::error::BenchError;

/// What a latency run measured (microseconds).
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    pub messages: u64,
    pub rate_per_s: f64,
    pub received: u64,
    pub errors: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl std::fmt::Display for LatencyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "daemon-latency: {} messages at {:.0}/s, send request -> follower event: \
             p50 {:.0} us, p99 {:.0} us, max {:.0} us; errors {}, lost {}, duplicates {}",
            self.messages,
            self.rate_per_s,
            self.p50_us,
            self.p99_us,
            self.max_us,
            self.errors,
            self.lost,
            self.duplicates
        )
    }
}

/// What the follower thread reports.
enum Seen {
    Live,
    Message(u64, Instant),
}

/// Runs the latency benchmark: `messages` sends at `rate` per second.
pub fn latency(
    bins: &Bins,
    server: Option<SocketAddr>,
    messages: u64,
    rate: f64,
) -> Result<LatencyReport, BenchError> {
    if !rate.is_finite() || rate <= 0.0 {
        return Err(BenchError::Setup(format!("bad rate {rate}")));
    }
    let pair = Pair::start(bins, server)?;
    let (tx, rx) = mpsc::channel();
    let mut follower = Conn::connect(&pair.b.socket)?;
    follower.writer.write(Command::Follow {
        from: Some(pair.a_id),
        limit: None,
    })?;
    follower.writer.flush()?;
    let (mut events, _keep_open) = follower.split();
    let following = thread::spawn(move || -> Result<(), BenchError> {
        match events.reply()?.into_result() {
            Ok(Response::Following) => {}
            other => return Err(BenchError::Setup(format!("follow answered {other:?}"))),
        }
        loop {
            let seen = match events.event()? {
                Event::Live => Seen::Live,
                Event::Message { message } => {
                    let at = Instant::now();
                    let n = message
                        .text
                        .strip_prefix("lat ")
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(u64::MAX);
                    Seen::Message(n, at)
                }
                Event::Closing | Event::Overflow => return Ok(()),
            };
            if tx.send(seen).is_err() {
                return Ok(());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Seen::Live) => {}
        _ => return Err(BenchError::Setup("the follower never went live".into())),
    }

    let (mut replies, mut writer) = Conn::connect(&pair.a.socket)?.split();
    let replying = thread::spawn(move || -> u64 {
        let mut errors = 0;
        for _ in 0..messages {
            match replies.reply().map(|r| r.into_result()) {
                Ok(Ok(Response::Sent(_))) => {}
                _ => errors += 1,
            }
        }
        errors
    });
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut sent_at = Vec::with_capacity(messages as usize);
    for i in 0..messages {
        // Pacing: the next send is due at start + i * interval.
        let due = start + interval * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        writer.write(Command::Send {
            to: pair.b_id,
            text: format!("lat {i}"),
            ttl_secs: None,
            wait: false,
        })?;
        sent_at.push(Instant::now());
        writer.flush()?;
    }
    let errors = replying
        .join()
        .map_err(|_| BenchError::Setup("the reply reader panicked".into()))?;

    let mut hist =
        Histogram::<u64>::new(3).map_err(|e| BenchError::Setup(format!("histogram: {e}")))?;
    let mut got = vec![false; messages as usize];
    let mut received = 0u64;
    let mut duplicates = 0u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while received + errors < messages {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(seen) = rx.recv_timeout(left) else {
            break;
        };
        let Seen::Message(n, at) = seen else { continue };
        let i = usize::try_from(n).unwrap_or(usize::MAX);
        match (got.get_mut(i), sent_at.get(i)) {
            (Some(g), Some(&sent)) if !*g => {
                *g = true;
                received += 1;
                let us = at.saturating_duration_since(sent).as_micros();
                let _ = hist.record(u64::try_from(us).unwrap_or(u64::MAX).max(1));
            }
            _ => duplicates += 1,
        }
    }
    drop(rx);
    drop(writer);
    drop(pair);
    let _ = following.join();
    Ok(LatencyReport {
        messages,
        rate_per_s: rate,
        received,
        errors,
        lost: messages.saturating_sub(errors + received),
        duplicates,
        p50_us: hist.value_at_quantile(0.5) as f64,
        p99_us: hist.value_at_quantile(0.99) as f64,
        max_us: hist.max() as f64,
    })
}

//! `peerbench aead`: the cost of sealing and opening one TRANSPORT payload
//! (`peerd_shared::proto::crypto::{seal, open}`, ChaCha20-Poly1305), by
//! payload size, in this process's CPU time. Built twice (the workspace's
//! flags, and with `RUSTFLAGS=` for the crates' default back ends) it
//! compares the AEAD back ends side by side.

use std::time::Duration;

use peerd_shared::proto::crypto::{open, seal};

use crate::sys::cpu_time;

/// One size's figure: the best of the rounds, microseconds per seal + open.
#[derive(Debug, Clone, Copy)]
pub struct AeadFigure {
    pub len: usize,
    pub us: f64,
}

/// Seals and opens `iterations` payloads of each size in `sizes`, `rounds`
/// times; keeps each size's best round (the least disturbed by other work).
pub fn measure(sizes: &[usize], iterations: u32, rounds: u32) -> Vec<AeadFigure> {
    let key = [7u8; 32];
    let mut buf = Vec::with_capacity(2048);
    sizes
        .iter()
        .map(|&len| {
            let mut best = f64::MAX;
            for _ in 0..rounds.max(1) {
                let start = cpu_time();
                for counter in 0..u64::from(iterations) {
                    buf.clear();
                    buf.resize(len, 0x5a);
                    seal(&key, counter, &mut buf, 0);
                    let opened = open(&key, counter, &mut buf);
                    assert_eq!(opened, Some(len), "a sealed payload opens");
                }
                let spent = cpu_time().saturating_sub(start);
                best = best.min(per_op(spent, iterations));
            }
            AeadFigure { len, us: best }
        })
        .collect()
}

fn per_op(spent: Duration, n: u32) -> f64 {
    spent.as_secs_f64() * 1e6 / f64::from(n.max(1))
}

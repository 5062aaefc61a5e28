//! The registration phase before `keepalive` and `mix`, and the whole of
//! the scale run: REGISTER every socket with its token, at most
//! [`IN_FLIGHT`] unanswered at a time, retransmitting after
//! [`RETRANSMIT`] with the same `seq` (as protocol.md 2 asks of clients),
//! until every socket has its id or the deadline passes.

use std::collections::VecDeque;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use peerd_shared::wire::{self, Packet};
use peerd_shared::{PeerId, Seq, Token};

use crate::error::BenchError;
use crate::sys::{Poller, RECV_BUF};

/// Unanswered REGISTERs allowed at once.
pub const IN_FLIGHT: usize = 512;
/// Resend an unanswered REGISTER after this long.
pub const RETRANSMIT: Duration = Duration::from_millis(250);

/// Registers `socks[i]` with `tokens[i]`; returns the ids in the same order.
/// Fails if any socket is still unregistered at `deadline`.
pub fn register_all(
    socks: &[&UdpSocket],
    tokens: &[Token],
    deadline: Instant,
) -> Result<Vec<PeerId>, BenchError> {
    let mut poller =
        Poller::new(IN_FLIGHT).map_err(|e| BenchError::io("cannot create epoll", e))?;
    for (i, s) in socks.iter().enumerate() {
        poller
            .add(s.as_raw_fd(), i as u64)
            .map_err(|e| BenchError::io("cannot watch a socket", e))?;
    }
    let mut ids: Vec<Option<PeerId>> = vec![None; socks.len()];
    let mut sent_at: Vec<Option<Instant>> = vec![None; socks.len()];
    let mut pending: VecDeque<usize> = (0..socks.len()).collect();
    let mut in_flight: VecDeque<usize> = VecDeque::with_capacity(IN_FLIGHT);
    let mut done = 0;
    let mut last_error = String::from("no reply");
    let mut out = Vec::with_capacity(128);
    let mut buf = [0u8; RECV_BUF];
    let mut ready = Vec::new();
    while done < socks.len() {
        let now = Instant::now();
        if now >= deadline {
            return Err(BenchError::Setup(format!(
                "{} of {} peers not registered in time (last problem: {last_error})",
                socks.len() - done,
                socks.len()
            )));
        }
        // Retransmit the oldest unanswered, then top up from the queue.
        while let Some(&i) = in_flight.front() {
            if ids[i].is_some() {
                in_flight.pop_front();
                continue;
            }
            if sent_at[i].is_some_and(|t| now.duration_since(t) < RETRANSMIT) {
                break;
            }
            in_flight.pop_front();
            pending.push_front(i);
        }
        while in_flight.len() < IN_FLIGHT {
            let Some(i) = pending.pop_front() else { break };
            let packet = Packet::Register {
                seq: Seq(i as u32),
                token: tokens[i],
            };
            if wire::encode_into(&packet, &mut out).is_ok() {
                match socks[i].send(&out) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => last_error = format!("send: {e}"),
                }
            }
            sent_at[i] = Some(now);
            in_flight.push_back(i);
        }
        poller
            .wait(Duration::from_millis(10), &mut ready)
            .map_err(|e| BenchError::io("epoll_wait failed", e))?;
        for &token in &ready {
            let i = usize::try_from(token).unwrap_or(usize::MAX);
            let Some(sock) = socks.get(i) else { continue };
            while let Ok(len) = sock.recv(&mut buf) {
                match wire::decode(&buf[..len]) {
                    Ok(Packet::RegisterAck { seq, id, .. }) if seq.0 == i as u32 => {
                        if ids[i].replace(id).is_none() {
                            done += 1;
                        }
                    }
                    Ok(Packet::Error { code, message, .. }) => {
                        last_error = format!("ERROR {code}: {message}");
                    }
                    Ok(_) => {}
                    Err(e) => last_error = format!("undecodable reply: {e}"),
                }
            }
        }
    }
    Ok(ids.into_iter().flatten().collect())
}

//! Registering peers by REGISTER handshake (docs/protocol.md 3): the setup
//! of `keepalive`, `mix` and `junk`, and the whole of the scale run. Each
//! socket registers its own key, at most `in_flight` handshakes
//! unanswered at a time (more would only queue at the server past the
//! retransmission time, and make it do handshakes twice). An unanswered
//! handshake is started again (a fresh INIT) after [`RETRANSMIT`],
//! doubling: later than a daemon's 250 ms, because the setup queues
//! hundreds of handshakes at once and a retransmission the server also
//! answers is work done twice. A COOKIE_REPLY (the server is under load)
//! is answered at once with a fresh INIT carrying `mac2`, and the cookie is
//! kept for that socket.
//!
//! Each answer the server gives makes a new session, its newest; it keeps
//! only the newest and the previous one, and may give a third session the
//! index of the first. So a socket whose tries were answered more than once
//! takes the session of the last answer, and before returning, the setup
//! waits until every try is answered or the sockets have been quiet for
//! [`QUIET`]: no late answer is left for the load to trip on.

use std::collections::VecDeque;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use peerd_shared::proto::crypto::MAC_LEN;
use peerd_shared::proto::{Frame, Identity, Initiator};

use crate::client::{finish, register_init, Outcome, Registered, ServerKey};
use crate::error::BenchError;
use crate::sys::{Poller, RECV_BUF};

/// Unanswered handshakes allowed at once, by default.
pub const IN_FLIGHT: usize = 512;
/// Start an unanswered handshake again after this long (then doubling).
pub const RETRANSMIT: Duration = Duration::from_secs(1);
/// With answers still owed, how long the sockets must stay silent before
/// the setup gives up waiting for them.
pub const QUIET: Duration = Duration::from_millis(300);
/// Longest wait between two tries of one socket.
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// Handshakes of one socket whose answer is still accepted.
const KEEP_TRIES: usize = 4;

/// What a registration phase counted besides the registrations.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetupStats {
    /// COOKIE_REPLYs answered with a fresh INIT.
    pub cookies: u64,
    /// Handshakes started again after no answer.
    pub retransmits: u64,
    /// Answers to a socket already registered (it took the newer session).
    pub late_answers: u64,
}

/// One socket's registration in progress.
struct Pending {
    /// Handshakes sent and not answered, newest last.
    tries: Vec<Initiator>,
    due: Option<Instant>,
    backoff: Duration,
    cookie: Option<[u8; MAC_LEN]>,
}

/// Registers `socks[i]` with `identities[i]`, at most `in_flight`
/// handshakes unanswered at a time; returns the registrations in the same
/// order. Fails if any socket is still unregistered at `deadline`.
pub fn register_all(
    socks: &[&UdpSocket],
    identities: &[Identity],
    server: &ServerKey,
    in_flight: usize,
    deadline: Instant,
) -> Result<(Vec<Registered>, SetupStats), BenchError> {
    let in_flight = in_flight.max(1);
    let mut poller =
        Poller::new(in_flight).map_err(|e| BenchError::io("cannot create epoll", e))?;
    for (i, s) in socks.iter().enumerate() {
        poller
            .add(s.as_raw_fd(), i as u64)
            .map_err(|e| BenchError::io("cannot watch a socket", e))?;
    }
    let n = socks.len().min(identities.len());
    let mut done: Vec<Option<Registered>> = (0..n).map(|_| None).collect();
    let mut state: Vec<Pending> = (0..n)
        .map(|_| Pending {
            tries: Vec::new(),
            due: None,
            backoff: RETRANSMIT,
            cookie: None,
        })
        .collect();
    let mut queue: VecDeque<usize> = (0..n).collect();
    // Sockets with a handshake out, by when it is due again.
    let mut flying: VecDeque<usize> = VecDeque::with_capacity(in_flight);
    let mut stats = SetupStats::default();
    let mut registered = 0;
    let mut next_sender = fastrand::u32(..);
    let mut last_error = String::from("no answer");
    let mut buf = [0u8; RECV_BUF];
    let mut ready = Vec::new();
    let mut send = |i: usize, st: &mut Pending, now: Instant, last_error: &mut String| {
        next_sender = next_sender.wrapping_add(1);
        match register_init(&identities[i], server, next_sender, st.cookie.as_ref()) {
            Ok((bytes, init)) => {
                match socks[i].send(&bytes) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => *last_error = format!("send: {e}"),
                }
                if st.tries.len() == KEEP_TRIES {
                    st.tries.remove(0);
                }
                st.tries.push(init);
            }
            Err(e) => *last_error = e.to_string(),
        }
        st.due = Some(now + st.backoff);
    };
    let mut heard = Instant::now();
    loop {
        let now = Instant::now();
        if registered == n {
            // Done, once no registered socket is owed an answer (or they
            // have been quiet long enough that none is coming).
            let owed = state.iter().any(|st| !st.tries.is_empty());
            if !owed || now.duration_since(heard) >= QUIET {
                break;
            }
        }
        if now >= deadline {
            return Err(BenchError::Setup(format!(
                "{} of {n} peers not registered in time (last problem: {last_error})",
                n - registered
            )));
        }
        // Start again the handshakes that went unanswered, oldest first.
        while let Some(&i) = flying.front() {
            if done[i].is_some() {
                flying.pop_front();
                continue;
            }
            let st = &mut state[i];
            if st.due.is_some_and(|t| t > now) {
                break;
            }
            flying.pop_front();
            st.backoff = (st.backoff * 2).min(MAX_BACKOFF);
            stats.retransmits += 1;
            queue.push_front(i);
        }
        while flying.len() < in_flight {
            let Some(i) = queue.pop_front() else { break };
            send(i, &mut state[i], now, &mut last_error);
            flying.push_back(i);
        }
        poller
            .wait(Duration::from_millis(10), &mut ready)
            .map_err(|e| BenchError::io("epoll_wait failed", e))?;
        for &token in &ready {
            let i = usize::try_from(token).unwrap_or(usize::MAX);
            let (Some(sock), Some(st)) = (socks.get(i), state.get_mut(i)) else {
                continue;
            };
            while let Ok(len) = sock.recv(&mut buf) {
                heard = Instant::now();
                match Frame::parse(&buf[..len]) {
                    Ok(Frame::Resp(r)) => {
                        let Some(k) = st.tries.iter().position(|t| t.sender == r.receiver) else {
                            continue;
                        };
                        let init = st.tries.swap_remove(k);
                        match finish(init, &identities[i], &r) {
                            // The last answer is the server's newest session.
                            Ok(Outcome::Registered(reg)) => {
                                if done[i].replace(*reg).is_none() {
                                    registered += 1;
                                } else {
                                    stats.late_answers += 1;
                                }
                            }
                            Ok(Outcome::Refused(code)) => last_error = format!("refused: {code}"),
                            Err(e) => last_error = e,
                        }
                    }
                    Ok(Frame::Cookie(c)) => {
                        let Some(k) = st.tries.iter().position(|t| t.sender == c.receiver) else {
                            continue;
                        };
                        if done[i].is_some() {
                            // That try will not be answered otherwise.
                            st.tries.swap_remove(k);
                            continue;
                        }
                        let Some(cookie) = server.cookie(&c, &st.tries[k].mac1) else {
                            last_error = "a cookie reply that does not decrypt".into();
                            continue;
                        };
                        st.cookie = Some(cookie);
                        stats.cookies += 1;
                        send(i, st, Instant::now(), &mut last_error);
                    }
                    _ => last_error = format!("an unexpected datagram of {len} bytes"),
                }
            }
        }
    }
    Ok((done.into_iter().flatten().collect(), stats))
}

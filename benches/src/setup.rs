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
//! A registration is done when its session is **confirmed**: a KEEPALIVE
//! sent on it at once (as a daemon must) has its KEEPALIVE_ACK. Until
//! then the server may hold the session as unconfirmed, and forget it.
//!
//! A server may answer several tries of one socket, each answer a session
//! of its own. Servers that keep only a peer's newest and previous session
//! may give a third session the index of the first; so a socket takes the
//! session of the last answer (and confirms it), and before returning, the
//! setup waits until every try is answered or the sockets have been quiet
//! for [`QUIET`]: no late answer is left for the load to trip on.

use std::collections::VecDeque;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use peerd_shared::proto::crypto::MAC_LEN;
use peerd_shared::proto::{Body, Frame, Identity, Initiator};
use peerd_shared::Seq;

use crate::client::{self, finish, register_init, Opened, Outcome, Registered, Reply, ServerKey};
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
struct Sock {
    /// Handshakes sent and not answered, newest last.
    tries: Vec<Initiator>,
    /// When to act again: a new handshake, or the KEEPALIVE again.
    due: Option<Instant>,
    backoff: Duration,
    cookie: Option<[u8; MAC_LEN]>,
    reg: Option<Registered>,
    /// The `seq` of the KEEPALIVE confirming `reg`, until its ACK.
    confirming: Option<u32>,
}

impl Sock {
    fn done(&self) -> bool {
        self.reg.is_some() && self.confirming.is_none()
    }
}

/// Registers `socks[i]` with `identities[i]`, at most `in_flight`
/// handshakes unanswered at a time; returns the confirmed registrations in
/// the same order. Fails if any socket is still unregistered at `deadline`.
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
    let mut state: Vec<Sock> = (0..n)
        .map(|_| Sock {
            tries: Vec::new(),
            due: None,
            backoff: RETRANSMIT,
            cookie: None,
            reg: None,
            confirming: None,
        })
        .collect();
    let mut queue: VecDeque<usize> = (0..n).collect();
    // Sockets in progress, roughly by when they are due again.
    let mut flying: VecDeque<usize> = VecDeque::with_capacity(in_flight);
    let mut stats = SetupStats::default();
    let mut confirmed = 0;
    let mut last_error = String::from("no answer");
    let mut buf = [0u8; RECV_BUF];
    let mut scratch = Vec::new();
    let mut ready = Vec::new();
    let mut tx = Io {
        socks,
        identities,
        server,
        next_sender: fastrand::u32(..),
        plain: Vec::new(),
        frame: Vec::new(),
        out: [0u8; RECV_BUF],
    };
    let mut heard = Instant::now();
    loop {
        let now = Instant::now();
        if confirmed == n {
            // Done, once no socket is owed an answer (or they have been
            // quiet long enough that none is coming).
            let owed = state.iter().any(|st| !st.tries.is_empty());
            if !owed || now.duration_since(heard) >= QUIET {
                break;
            }
        }
        if now >= deadline {
            return Err(BenchError::Setup(format!(
                "{} of {n} peers not registered in time (last problem: {last_error})",
                n - confirmed
            )));
        }
        // Act again for the sockets that got no answer in time, oldest first.
        while let Some(&i) = flying.front() {
            let st = &mut state[i];
            if st.done() {
                flying.pop_front();
                continue;
            }
            if st.due.is_some_and(|t| t > now) {
                break;
            }
            flying.pop_front();
            st.backoff = (st.backoff * 2).min(MAX_BACKOFF);
            if st.reg.is_some() {
                tx.confirm(i, st, now, &mut last_error);
                flying.push_back(i);
            } else {
                stats.retransmits += 1;
                queue.push_front(i);
            }
        }
        while flying.len() < in_flight {
            let Some(i) = queue.pop_front() else { break };
            tx.handshake(i, &mut state[i], now, &mut last_error);
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
                                if st.done() {
                                    confirmed -= 1;
                                }
                                if st.reg.replace(*reg).is_some() {
                                    stats.late_answers += 1;
                                }
                                st.backoff = RETRANSMIT;
                                tx.confirm(i, st, heard, &mut last_error);
                            }
                            Ok(Outcome::Refused(code)) => last_error = format!("refused: {code}"),
                            Err(e) => last_error = e,
                        }
                    }
                    Ok(Frame::Cookie(c)) => {
                        let Some(k) = st.tries.iter().position(|t| t.sender == c.receiver) else {
                            continue;
                        };
                        if st.reg.is_some() {
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
                        tx.handshake(i, st, heard, &mut last_error);
                    }
                    Ok(Frame::Transport(_)) => {
                        let Some(reg) = st.reg.as_mut() else { continue };
                        match client::open(&mut reg.session, &buf[..len], &mut scratch) {
                            Opened::Reply(seq, Reply::KeepaliveAck { .. })
                                if Some(seq.0) == st.confirming =>
                            {
                                st.confirming = None;
                                confirmed += 1;
                            }
                            Opened::Reply(_, Reply::Error(code)) => {
                                last_error = format!("KEEPALIVE answered {code}");
                            }
                            _ => {}
                        }
                    }
                    _ => last_error = format!("an unexpected datagram of {len} bytes"),
                }
            }
        }
    }
    Ok((state.into_iter().filter_map(|st| st.reg).collect(), stats))
}

/// What sending needs: the sockets, the keys, and buffers.
struct Io<'a> {
    socks: &'a [&'a UdpSocket],
    identities: &'a [Identity],
    server: &'a ServerKey,
    next_sender: u32,
    plain: Vec<u8>,
    frame: Vec<u8>,
    out: [u8; RECV_BUF],
}

/// Sends `bytes` on `sock`; a full buffer counts as sent (the datagram
/// is lost, and retransmitted as any lost one).
fn send(sock: &UdpSocket, bytes: &[u8], last_error: &mut String) {
    match sock.send(bytes) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => *last_error = format!("send: {e}"),
    }
}

impl Io<'_> {
    /// Starts a new handshake for socket `i` (with its cookie, if any).
    fn handshake(&mut self, i: usize, st: &mut Sock, now: Instant, last_error: &mut String) {
        self.next_sender = self.next_sender.wrapping_add(1);
        match register_init(
            &self.identities[i],
            self.server,
            self.next_sender,
            st.cookie.as_ref(),
        ) {
            Ok((bytes, init)) => {
                send(self.socks[i], &bytes, last_error);
                if st.tries.len() == KEEP_TRIES {
                    st.tries.remove(0);
                }
                st.tries.push(init);
            }
            Err(e) => *last_error = e.to_string(),
        }
        st.due = Some(now + st.backoff);
    }

    /// Sends the KEEPALIVE that confirms socket `i`'s session.
    fn confirm(&mut self, i: usize, st: &mut Sock, now: Instant, last_error: &mut String) {
        let Some(reg) = st.reg.as_mut() else { return };
        let seq = fastrand::u32(..);
        let body = Body::Keepalive { seq: Seq(seq) };
        let len = client::seal_into(
            &mut reg.session,
            &body,
            &mut self.plain,
            &mut self.frame,
            &mut self.out,
        );
        send(self.socks[i], &self.out[..len], last_error);
        st.confirming = Some(seq);
        st.due = Some(now + st.backoff);
    }
}

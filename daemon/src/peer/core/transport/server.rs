//! The daemon's side of its server (docs/protocol.md 3 and 5): the
//! server's address and key, the sessions with it, the REGISTER handshakes
//! of the current attempt, the cookie the server gave under load, and when
//! a KEY_REQUEST went out.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::proto::cookie::COOKIE_LIFETIME;
use peerd_shared::proto::{Initiator, PublicKey, HANDSHAKE_TIMEOUT, SERVER_WINDOW_WORDS};

use super::sessions::Sessions;

/// How long a KEY_REPLY is awaited.
pub const KEY_REPLY_WAIT: Duration = Duration::from_secs(15);

/// Everything about the server.
#[derive(Debug)]
pub struct ServerTunnel {
    pub addr: SocketAddr,
    pub key: Option<PublicKey>,
    pub sessions: Sessions<SERVER_WINDOW_WORDS>,
    /// REGISTER handshakes of the current attempt, with when they went out.
    pub pending: Vec<(Initiator, Instant)>,
    /// The cookie of the last COOKIE_REPLY, and when it came.
    pub cookie: Option<([u8; 16], Instant)>,
    pub key_request_at: Option<Instant>,
}

impl ServerTunnel {
    pub fn new(addr: SocketAddr, key: Option<PublicKey>) -> Self {
        Self {
            addr,
            key,
            sessions: Sessions::default(),
            pending: Vec::new(),
            cookie: None,
            key_request_at: None,
        }
    }

    /// Another key: everything made with the old one goes; the indices
    /// dropped are returned.
    pub fn reset(&mut self, key: Option<PublicKey>) -> Vec<u32> {
        self.key = key;
        self.cookie = None;
        let mut dropped = self.sessions.clear();
        dropped.extend(self.pending.drain(..).map(|(i, _)| i.sender));
        dropped
    }

    /// The cookie to put in `mac2`, if a fresh one is held.
    pub fn cookie(&self, now: Instant) -> Option<[u8; 16]> {
        self.cookie
            .filter(|(_, at)| now.saturating_duration_since(*at) < COOKIE_LIFETIME)
            .map(|(c, _)| c)
    }

    /// Keeps `init` answerable; returns the indices of handshakes that
    /// can no longer be answered.
    pub fn pending(&mut self, init: Initiator, now: Instant) -> Vec<u32> {
        let mut dropped = Vec::new();
        self.pending.retain(|(i, at)| {
            let keep = now.saturating_duration_since(*at) < HANDSHAKE_TIMEOUT;
            if !keep {
                dropped.push(i.sender);
            }
            keep
        });
        self.pending.push((init, now));
        dropped
    }

    /// Takes the pending handshake with our index `sender`.
    pub fn take_pending(&mut self, sender: u32) -> Option<Initiator> {
        let i = self.pending.iter().position(|(p, _)| p.sender == sender)?;
        Some(self.pending.swap_remove(i).0)
    }

    /// The `mac1` of the pending handshake `sender` (a cookie is bound to it).
    pub fn pending_mac1(&self, sender: u32) -> Option<[u8; 16]> {
        self.pending
            .iter()
            .find(|(p, _)| p.sender == sender)
            .map(|(p, _)| p.mac1)
    }

    /// The attempt succeeded: the other handshakes of it are forgotten.
    pub fn end_attempt(&mut self) -> Vec<u32> {
        self.pending.drain(..).map(|(i, _)| i.sender).collect()
    }

    /// Whether a KEY_REPLY is awaited now.
    pub fn awaits_key(&self, now: Instant) -> bool {
        self.key_request_at
            .is_some_and(|at| now.saturating_duration_since(at) < KEY_REPLY_WAIT)
    }
}

//! The daemon's side of each peer (docs/protocol.md 6 and 8): the key
//! pinned for it (and one the server offered instead, which blocks the
//! peer until the user trusts it), the sessions with it, the HELLO
//! handshakes out, and the newest HELLO timestamp it sent us.

use std::time::{Duration, Instant};

use peerd_shared::proto::{
    Body, InitPayload, Initiator, PublicKey, HANDSHAKE_TIMEOUT, PEER_WINDOW_WORDS,
};
use peerd_shared::PeerId;

use super::seal::{seal_body, Owner};
use super::sessions::Sessions;
use super::{KeyChange, KeyCheck, PeerPacket, Route, SealError, Transport};
use crate::peer::core::clock::Now;

/// HELLO handshakes out with one peer, at most (older ones are forgotten).
const PENDING_MAX: usize = 16;
/// A handshake started for a packet without a session (not a punch probe)
/// waits this long before another is started.
const HANDSHAKE_PACE: Duration = Duration::from_secs(1);

/// Everything about one peer.
#[derive(Debug)]
pub struct PeerTunnel {
    /// The pinned key.
    pub key: PublicKey,
    /// Another key the server gave for this peer: refused until trusted.
    pub offered: Option<PublicKey>,
    pub sessions: Sessions<PEER_WINDOW_WORDS>,
    /// HELLOs out, with when they went and by which route.
    pub pending: Vec<(Initiator, Instant, Route)>,
    /// The newest HELLO timestamp accepted from this peer.
    pub last_hello_ts: u64,
    /// The last handshake started for a packet (not a punch probe).
    pub last_started: Option<Instant>,
    /// Where the last authenticated direct frame came from.
    pub last_direct: Option<std::net::SocketAddr>,
}

impl PeerTunnel {
    pub fn new(key: PublicKey) -> Self {
        Self {
            key,
            offered: None,
            sessions: Sessions::default(),
            pending: Vec::new(),
            last_hello_ts: 0,
            last_started: None,
            last_direct: None,
        }
    }
}

/// What `peerctl key` shows of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerKey {
    pub pinned: PublicKey,
    pub offered: Option<PublicKey>,
}

impl Transport {
    /// The server gave `key` for `peer` (INTRO, CONNECT_ACK): pinned on
    /// first contact; another key than the pinned one blocks the peer.
    pub fn introduce(&mut self, peer: PeerId, key: PublicKey) -> KeyCheck {
        let Some(t) = self.peers.get_mut(&peer) else {
            self.peers.insert(peer, PeerTunnel::new(key));
            return KeyCheck::Pinned { new: true };
        };
        match t.offered {
            None if t.key == key => return KeyCheck::Pinned { new: false },
            // Blocked until the user trusts the offered key, whatever the
            // server says meanwhile.
            Some(offered) if t.key == key => {
                return KeyCheck::Changed {
                    pinned: t.key,
                    offered,
                }
            }
            _ => {}
        }
        let pinned = t.key;
        if t.offered != Some(key) {
            t.offered = Some(key);
            let mut dropped = t.sessions.clear();
            dropped.extend(t.pending.drain(..).map(|(i, _, _)| i.sender));
            self.forget_indices(dropped);
        }
        KeyCheck::Changed {
            pinned,
            offered: key,
        }
    }

    /// The user trusts the key the server offered for `peer`: it is pinned
    /// now. `None` when no other key was offered.
    pub fn trust(&mut self, peer: PeerId) -> Option<PublicKey> {
        let t = self.peers.get_mut(&peer)?;
        let key = t.offered.take()?;
        t.key = key;
        t.last_hello_ts = 0;
        Some(key)
    }

    /// The key pinned for `peer`, and one offered instead.
    pub fn peer_key(&self, peer: PeerId) -> Option<PeerKey> {
        self.peers.get(&peer).map(|t| PeerKey {
            pinned: t.key,
            offered: t.offered,
        })
    }

    /// Refuses peers never introduced and peers whose key changed.
    pub(super) fn check_key(&self, peer: PeerId) -> Result<(), SealError> {
        let t = self
            .peers
            .get(&peer)
            .ok_or(SealError::NotIntroduced(peer))?;
        match t.offered {
            Some(offered) => Err(SealError::KeyChanged(KeyChange::new(
                peer, &t.key, &offered,
            ))),
            None => Ok(()),
        }
    }

    /// A new HELLO handshake with `to` (the frame, not yet wrapped).
    pub(super) fn hello_init(
        &mut self,
        to: PeerId,
        me: PeerId,
        route: Route,
        now: Now,
    ) -> Result<Vec<u8>, SealError> {
        let timestamp = self.timestamp(now);
        let index = self.new_index(Owner::Peer(to));
        let t = self
            .peers
            .get_mut(&to)
            .ok_or(SealError::NotIntroduced(to))?;
        let payload = InitPayload::Hello {
            timestamp,
            from: me,
        };
        let (bytes, init) = Initiator::start(&self.identity, &t.key, index, &payload, None, None)
            .map_err(|e| SealError::Seal(e.to_string()))?;
        t.pending.push((init, now.at, route));
        let mut dropped = Vec::new();
        t.pending.retain(|(i, at, _)| {
            let keep = now.at.saturating_duration_since(*at) < HANDSHAKE_TIMEOUT;
            if !keep {
                dropped.push(i.sender);
            }
            keep
        });
        while t.pending.len() > PENDING_MAX {
            dropped.push(t.pending.remove(0).0.sender);
        }
        self.forget_indices(dropped);
        Ok(bytes)
    }

    /// `packet` sealed on the newest session with `to`; without one, a
    /// handshake is started on `route` (at most one a second) and the
    /// packet waits ([`SealError::Handshaking`]). A session due for a
    /// re-key is used while a new handshake goes out.
    pub(super) fn seal_on_session(
        &mut self,
        to: PeerId,
        route: Route,
        packet: PeerPacket,
        me: PeerId,
        now: Now,
    ) -> Result<Vec<u8>, SealError> {
        let t = self
            .peers
            .get_mut(&to)
            .ok_or(SealError::NotIntroduced(to))?;
        let paced = t
            .last_started
            .is_none_or(|at| now.at.saturating_duration_since(at) >= HANDSHAKE_PACE);
        let rekey = t.sessions.needs_rekey(now.at) && paced;
        let sealed = match t.sessions.sending(now.at) {
            Some(session) => Some(seal_body(session, &body_of(&packet))?),
            None => None,
        };
        if (sealed.is_none() && paced) || rekey {
            t.last_started = Some(now.at);
            let init = self.hello_init(to, me, route, now)?;
            let datagram = self.wrap(to, route, init, now.at)?;
            self.outgoing.push(datagram);
        }
        sealed.ok_or(SealError::Handshaking(to))
    }
}

/// The payload of a peer packet (not a HELLO, which is a handshake).
fn body_of(packet: &PeerPacket) -> Body<'_> {
    match packet {
        PeerPacket::Probe { nonce } => Body::Probe { nonce: *nonce },
        PeerPacket::ProbeAck { nonce } => Body::ProbeAck { nonce: *nonce },
        PeerPacket::Message { msg, text, ts } => Body::Message {
            msg: *msg,
            ts: *ts,
            text,
        },
        PeerPacket::MessageAck { msg } => Body::MessageAck { msg: *msg },
        // Never sealed on a session: `seal_peer` starts a handshake instead.
        PeerPacket::Hello => Body::Probe { nonce: 0 },
    }
}

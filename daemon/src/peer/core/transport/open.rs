//! The receiving side: every datagram that arrives is read here, and
//! nothing is believed before it is authenticated (docs/protocol.md 2 to
//! 6). Handshake answers and confirmations this causes are queued in the
//! transport's outgoing datagrams.
//!
//! This file holds handshakes, cookies and TRANSPORT frames;
//! `open/server_body.rs` what the server says on its session.

use std::net::SocketAddr;

use peerd_shared::proto::codec::canonical;
use peerd_shared::proto::frame::{CookieReply, Init, Resp, Transport as Frame};
use peerd_shared::proto::handshake::accept;
use peerd_shared::proto::{cookie, Body, InitPayload, RespPayload};
use peerd_shared::PeerId;

use super::seal::{seal_body, Owner};
use super::{Inbound, Origin, PeerPacket, Route, Transport};
use crate::peer::core::clock::Now;

mod server_body;

/// How a frame came: from its source, or inside RELAYED from `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Direct,
    Relayed(PeerId),
}

impl Transport {
    /// Reads a datagram from `src`: what it means, in order (nothing when
    /// it is dropped: undecodable, unauthenticated, replayed, not for us).
    pub fn open(&mut self, src: SocketAddr, bytes: &[u8], now: Now) -> Vec<Inbound> {
        let src = canonical(src);
        let mut out = Vec::new();
        self.open_frame(src, bytes, Via::Direct, now, &mut out);
        out
    }

    fn open_frame(
        &mut self,
        src: SocketAddr,
        bytes: &[u8],
        via: Via,
        now: Now,
        out: &mut Vec<Inbound>,
    ) {
        use peerd_shared::proto::Frame as F;
        let from_server = src == self.server.addr && via == Via::Direct;
        match F::parse(bytes) {
            Ok(F::Init(init)) => self.on_init(&init, src, via, now),
            Ok(F::Resp(resp)) => self.on_resp(&resp, src, via, now, out),
            Ok(F::Transport(t)) => self.on_transport(&t, src, via, now, out),
            Ok(F::Cookie(c)) if from_server => self.on_cookie(&c, out),
            Ok(F::KeyReply(key)) if from_server && self.server.awaits_key(now.at) => {
                self.server.key_request_at = None;
                out.push(Inbound::ServerKey(key));
            }
            Ok(other) => tracing::debug!(%src, frame = ?std::mem::discriminant(&other), "dropped"),
            Err(e) => tracing::debug!(%src, error = %e, "dropped an undecodable datagram"),
        }
    }

    /// A HELLO from a peer: answered when its key is the pinned one, its
    /// timestamp new and the rate allows; no path is recorded from it.
    fn on_init(&mut self, init: &Init<'_>, src: SocketAddr, via: Via, now: Now) {
        let Some(me) = self.id else { return };
        let ip = (via == Via::Direct).then_some(src.ip());
        if !self.identity.mac1_ok(init.mac1_input, &init.mac1) || !self.init_allowed(ip, now.at) {
            return tracing::debug!(%src, "dropped a HELLO (mac1 or rate)");
        }
        let Ok(accepted) = accept(&self.identity, init) else {
            return tracing::debug!(%src, "dropped a HELLO that does not decrypt");
        };
        let InitPayload::Hello { timestamp, from } = accepted.payload else {
            return;
        };
        if matches!(via, Via::Relayed(r) if r != from) {
            return tracing::debug!(peer = %from, "dropped a relayed HELLO from another id");
        }
        match self.peers.get_mut(&from) {
            Some(t) if t.key == accepted.initiator && t.offered.is_none() => {
                if timestamp <= t.last_hello_ts {
                    return tracing::debug!(peer = %from, "dropped a replayed HELLO");
                }
                t.last_hello_ts = timestamp;
            }
            _ => {
                return tracing::debug!(peer = %from, "dropped a HELLO from a key not pinned for it")
            }
        }
        let local = self.new_index(Owner::Peer(from));
        let remote = accepted.initiator_index;
        let Ok((resp, keys)) = accepted.respond(local, &RespPayload::HelloAck { from: me }) else {
            self.forget_indices([local]);
            return;
        };
        if let Some(t) = self.peers.get_mut(&from) {
            let dropped = t.sessions.add(keys, local, remote, false, now.at);
            self.forget_indices(dropped);
        }
        let route = match via {
            Via::Direct => Route::Direct(src),
            Via::Relayed(_) => Route::Relayed,
        };
        match self.wrap(from, route, resp, now.at) {
            Ok(d) => self.outgoing.push(d),
            Err(e) => tracing::debug!(peer = %from, error = %e, "HELLO not answered"),
        }
    }

    /// The answer to one of our handshakes, with the server or a peer.
    fn on_resp(
        &mut self,
        resp: &Resp<'_>,
        src: SocketAddr,
        via: Via,
        now: Now,
        out: &mut Vec<Inbound>,
    ) {
        match self.owners.get(&resp.receiver).copied() {
            Some(Owner::Server) if src == self.server.addr && via == Via::Direct => {
                self.server_resp(resp, now, out);
            }
            Some(Owner::Peer(peer)) if matches!(via, Via::Direct) || via == Via::Relayed(peer) => {
                self.peer_resp(peer, resp, src, via, now, out);
            }
            _ => tracing::debug!(%src, "dropped a handshake answer to nothing of ours"),
        }
    }

    fn server_resp(&mut self, resp: &Resp<'_>, now: Now, out: &mut Vec<Inbound>) {
        let Some(init) = self.server.take_pending(resp.receiver) else {
            return;
        };
        let local = init.sender;
        // A forged answer costs the handshake it names (its state is spent):
        // the attempt's other INITs and the retries cover that.
        let Ok((keys, payload)) = init.finish(&self.identity, resp) else {
            self.forget_indices([local]);
            return tracing::debug!("dropped a REGISTER answer that does not authenticate");
        };
        let ended = self.server.end_attempt();
        self.forget_indices(ended);
        match payload {
            RespPayload::Registered {
                id,
                keepalive,
                addr,
            } => {
                let dropped = self
                    .server
                    .sessions
                    .add(keys, local, resp.sender, true, now.at);
                self.forget_indices(dropped);
                out.push(Inbound::Registered {
                    id,
                    keepalive,
                    addr,
                });
            }
            RespPayload::Refused { code, message } => {
                self.forget_indices([local]);
                out.push(Inbound::RegisterRefused { code, message });
            }
            RespPayload::HelloAck { .. } => self.forget_indices([local]),
        }
    }

    fn peer_resp(
        &mut self,
        peer: PeerId,
        resp: &Resp<'_>,
        src: SocketAddr,
        via: Via,
        now: Now,
        out: &mut Vec<Inbound>,
    ) {
        let Some(t) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some(i) = t
            .pending
            .iter()
            .position(|(p, _, _)| p.sender == resp.receiver)
        else {
            return;
        };
        let (init, _, _) = t.pending.swap_remove(i);
        let local = init.sender;
        match init.finish(&self.identity, resp) {
            Ok((keys, RespPayload::HelloAck { from })) if from == peer => {
                let mut dropped: Vec<u32> = t.pending.drain(..).map(|(p, _, _)| p.sender).collect();
                dropped.extend(t.sessions.add(keys, local, resp.sender, true, now.at));
                self.forget_indices(dropped);
            }
            _ => {
                self.forget_indices([local]);
                return tracing::debug!(%peer, "dropped a HELLO answer that does not authenticate");
            }
        }
        // Confirm the session at once (docs/protocol.md 3) with a PROBE.
        let route = match via {
            Via::Direct => Route::Direct(src),
            Via::Relayed(_) => Route::Relayed,
        };
        let nonce = self.rng.u64(..);
        if let Some(session) = self
            .peers
            .get_mut(&peer)
            .and_then(|t| t.sessions.find(local))
        {
            if let Ok(frame) = seal_body(&mut session.session, &Body::Probe { nonce }) {
                if let Ok(d) = self.wrap(peer, route, frame, now.at) {
                    self.outgoing.push(d);
                }
            }
        }
        out.push(Inbound::SessionReady { peer });
        if via == Via::Direct {
            self.prove(peer, src, true, out);
        }
    }

    /// A direct authenticated datagram from `peer` at `src`: a path proof
    /// when it is news (`always`: a handshake answer, always news).
    fn prove(&mut self, peer: PeerId, src: SocketAddr, always: bool, out: &mut Vec<Inbound>) {
        if let Some(t) = self.peers.get_mut(&peer) {
            if always || t.last_direct != Some(src) {
                t.last_direct = Some(src);
                out.push(Inbound::PathProof { peer, src });
            }
        }
    }

    fn on_cookie(&mut self, c: &CookieReply, out: &mut Vec<Inbound>) {
        let (Some(key), Some(mac1)) = (self.server.key, self.server.pending_mac1(c.receiver))
        else {
            return;
        };
        if let Some(value) = cookie::open_reply(&key, c, &mac1) {
            // The time of the cookie is the INIT's: close enough, and
            // conservative (it expires a little early).
            let at = self
                .server
                .pending
                .iter()
                .find(|(p, _)| p.sender == c.receiver)
                .map(|(_, at)| *at);
            if let Some(at) = at {
                self.server.cookie = Some((value, at));
                out.push(Inbound::CookieStored);
            }
        }
    }

    /// A TRANSPORT frame: opened on the session its index names.
    fn on_transport(
        &mut self,
        t: &Frame<'_>,
        src: SocketAddr,
        via: Via,
        now: Now,
        out: &mut Vec<Inbound>,
    ) {
        let mut buf = Vec::new();
        match self.owners.get(&t.receiver).copied() {
            Some(Owner::Server) if src == self.server.addr && via == Via::Direct => {
                let Some(held) = self.server.sessions.find(t.receiver) else {
                    return;
                };
                let Ok(plain) = held.session.open(t, &mut buf) else {
                    return;
                };
                match Body::decode(plain) {
                    Ok(body) => self.on_server_body(body, src, now, out),
                    Err(e) => {
                        tracing::debug!(error = %e, "dropped a server frame that does not decode")
                    }
                }
            }
            Some(Owner::Peer(peer)) if via == Via::Direct || via == Via::Relayed(peer) => {
                let Some(tunnel) = self.peers.get_mut(&peer) else {
                    return;
                };
                if tunnel.offered.is_some() {
                    return tracing::debug!(%peer, "dropped a frame: its key changed");
                }
                let Some(held) = tunnel.sessions.find(t.receiver) else {
                    return;
                };
                let Ok(plain) = held.session.open(t, &mut buf) else {
                    return;
                };
                let body = Body::decode(plain).map(|b| peer_packet(&b));
                if tunnel.sessions.confirm(t.receiver, now.at) {
                    out.push(Inbound::SessionReady { peer });
                }
                let route = match via {
                    Via::Direct => Route::Direct(src),
                    Via::Relayed(_) => Route::Relayed,
                };
                if via == Via::Direct {
                    self.prove(peer, src, false, out);
                }
                if let Ok(Some(packet)) = body {
                    let origin = Origin { peer, src, route };
                    out.push(Inbound::Peer { origin, packet });
                }
            }
            _ => tracing::debug!(%src, "dropped a frame for no session of ours"),
        }
    }
}

/// The packet of a peer frame; other kinds are dropped.
fn peer_packet(b: &Body<'_>) -> Option<PeerPacket> {
    Some(match *b {
        Body::Message { msg, ts, text } => PeerPacket::Message {
            msg,
            text: text.to_owned(),
            ts,
        },
        Body::MessageAck { msg } => PeerPacket::MessageAck { msg },
        Body::Probe { nonce } => PeerPacket::Probe { nonce },
        Body::ProbeAck { nonce } => PeerPacket::ProbeAck { nonce },
        _ => return None,
    })
}

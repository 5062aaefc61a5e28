//! The authenticated requests of protocol.md 2.2: LIST, CONNECT, UNREGISTER
//! and RELAY, as methods of [`Registry`]. Each checks, in order, the replay
//! cache (CONNECT, UNREGISTER, RELAY), authentication, then the target, and
//! logs one info line.

use std::net::SocketAddr;

use peerd_shared::wire::ErrorCode;
use peerd_shared::{PeerId, Seq, Token};
use tracing::info;

use super::addr_text::AddrText;
use super::peers::Online;
use super::registry::Registry;
use super::replay::{Cached, ReplayKey};
use super::reply_buffer::ReplyBuffer;

/// The fields of a RELAY, with `data` borrowed from the decoded packet.
pub struct RelayRequest<'a> {
    pub seq: Seq,
    pub id: PeerId,
    pub token: Token,
    pub target: PeerId,
    pub data: &'a str,
}

/// Compares tokens in constant time (`subtle`), so the time a refusal
/// takes says nothing about how much of a token was right.
fn same_token(a: &Token, b: &Token) -> bool {
    use subtle::ConstantTimeEq;
    a.0.ct_eq(&b.0).into()
}

impl Registry {
    /// The asker, if `id`/`token` match an online peer registered at `source`.
    fn authenticate(
        &self,
        id: PeerId,
        token: &Token,
        source: SocketAddr,
        now_ms: u64,
    ) -> Result<Online, &'static str> {
        let peer = self
            .peers
            .online(id)
            .filter(|p| !self.expired(p.last_ms, now_ms))
            .ok_or("this id is not online; REGISTER again")?;
        if !same_token(&peer.token, token) {
            return Err("id and token do not match");
        }
        if peer.addr != source {
            return Err("request from another address than the registered one; REGISTER again");
        }
        Ok(peer)
    }

    /// The target of CONNECT or RELAY, online.
    fn target(&self, asker: PeerId, target: PeerId, now_ms: u64) -> Result<Online, ErrorCode> {
        if target == asker {
            return Err(ErrorCode::BadRequest);
        }
        if !self.peers.is_registered(target) {
            return Err(ErrorCode::UnknownPeer);
        }
        self.peers
            .online(target)
            .filter(|p| !self.expired(p.last_ms, now_ms))
            .ok_or(ErrorCode::PeerOffline)
    }

    /// Answers `unauthorized`; returns false so callers can `return`.
    fn unauthorized(
        kind: &str,
        id: PeerId,
        why: &str,
        seq: Seq,
        source: SocketAddr,
        len: usize,
        out: &mut ReplyBuffer,
    ) {
        info!("{kind} from {source} as id {id}: unauthorized: {why}");
        out.error(source, seq, ErrorCode::Unauthorized, why, len);
    }

    /// Sends a remembered reply again (a retry within the window).
    fn replay_hit(
        &self,
        key: &ReplayKey,
        kind: &str,
        seq: Seq,
        source: SocketAddr,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) -> bool {
        let Some(reply) = self.replay.get(key, now_ms) else {
            return false;
        };
        info!("{kind} from {source} seq {seq}: retry, same reply again");
        send_cached(reply, seq, source, out);
        true
    }

    /// LIST: online peers other than the asker with ids above `after`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn list(
        &mut self,
        seq: Seq,
        id: PeerId,
        token: &Token,
        after: Option<u64>,
        source: SocketAddr,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        if let Err(why) = self.authenticate(id, token, source, now_ms) {
            return Self::unauthorized("LIST", id, why, seq, source, usize::MAX / 2, out);
        }
        let mut writer = out.list_ack(source, seq);
        let mut more = false;
        if let Some(first) = PeerId::new(after.unwrap_or(0).saturating_add(1)) {
            for (peer, p) in self.peers.online_from(first) {
                if peer == id || self.expired(p.last_ms, now_ms) {
                    continue;
                }
                if !writer.push(peer, p.addr, &p.text) {
                    more = true;
                    break;
                }
            }
        }
        let n = writer.finish(more);
        info!(
            "LIST from id {id}: {n} peers{}",
            if more { ", more" } else { "" }
        );
    }

    /// CONNECT: the target's address to the asker, INTRO to the target.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn connect(
        &mut self,
        seq: Seq,
        id: PeerId,
        token: &Token,
        target: PeerId,
        datagram: &[u8],
        source: SocketAddr,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        let key = self.replay.key(source, seq, datagram);
        if self.replay_hit(&key, "CONNECT", seq, source, now_ms, out) {
            return;
        }
        let asker = match self.authenticate(id, token, source, now_ms) {
            Ok(p) => p,
            Err(why) => {
                return Self::unauthorized("CONNECT", id, why, seq, source, datagram.len(), out)
            }
        };
        let reply = match self.target(id, target, now_ms) {
            Ok(t) => {
                out.connect_ack(source, seq, target, t.addr, &t.text);
                out.intro(t.addr, id, asker.addr, &asker.text);
                info!("CONNECT id {id} -> id {target}");
                Cached::ConnectAck {
                    target,
                    addr: t.addr,
                }
            }
            Err(code) => {
                info!("CONNECT id {id} -> id {target}: {code}");
                Cached::Error(code)
            }
        };
        if let Cached::Error(_) = reply {
            send_cached(reply, seq, source, out);
        }
        self.replay.insert(key, reply, now_ms);
    }

    /// UNREGISTER: offline now; the id stays reserved for the token.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn unregister(
        &mut self,
        seq: Seq,
        id: PeerId,
        token: &Token,
        datagram: &[u8],
        source: SocketAddr,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        let key = self.replay.key(source, seq, datagram);
        if self.replay_hit(&key, "UNREGISTER", seq, source, now_ms, out) {
            return;
        }
        if let Err(why) = self.authenticate(id, token, source, now_ms) {
            return Self::unauthorized("UNREGISTER", id, why, seq, source, datagram.len(), out);
        }
        self.peers.set_offline(id);
        send_cached(Cached::UnregisterAck, seq, source, out);
        self.replay.insert(key, Cached::UnregisterAck, now_ms);
        info!("UNREGISTER id {id}");
    }

    /// RELAY: RELAYED to the target, RELAY_ACK to the asker.
    pub(super) fn relay(
        &mut self,
        req: RelayRequest<'_>,
        datagram: &[u8],
        source: SocketAddr,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        let RelayRequest {
            seq,
            id,
            token,
            target,
            data,
        } = req;
        let key = self.replay.key(source, seq, datagram);
        if self.replay_hit(&key, "RELAY", seq, source, now_ms, out) {
            return;
        }
        if let Err(why) = self.authenticate(id, &token, source, now_ms) {
            return Self::unauthorized("RELAY", id, why, seq, source, datagram.len(), out);
        }
        let reply = match self.target(id, target, now_ms) {
            Ok(t) if out.relayed(t.addr, id, data) => {
                info!("RELAY id {id} -> id {target}: {} bytes", data.len());
                Cached::RelayAck
            }
            Ok(_) => {
                info!("RELAY id {id} -> id {target}: too_large");
                Cached::Error(ErrorCode::TooLarge)
            }
            Err(code) => {
                info!("RELAY id {id} -> id {target}: {code}");
                Cached::Error(code)
            }
        };
        send_cached(reply, seq, source, out);
        self.replay.insert(key, reply, now_ms);
    }
}

/// Encodes a reply (first time or retry: the same bytes).
fn send_cached(reply: Cached, seq: Seq, to: SocketAddr, out: &mut ReplyBuffer) {
    match reply {
        Cached::ConnectAck { target, addr } => {
            out.connect_ack(to, seq, target, addr, &AddrText::NONE)
        }
        Cached::UnregisterAck => out.ack(to, "UNREGISTER_ACK", seq),
        Cached::RelayAck => out.ack(to, "RELAY_ACK", seq),
        Cached::Error(code) => out.error(to, seq, code, error_text(code), usize::MAX / 2),
    }
}

/// The fixed message of an error after authentication.
fn error_text(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadRequest => "target is the asker itself",
        ErrorCode::UnknownPeer => "the target id was never registered",
        ErrorCode::PeerOffline => "the target is registered but not online",
        ErrorCode::TooLarge => "the RELAYED datagram would exceed 1200 bytes",
        _ => "request failed",
    }
}

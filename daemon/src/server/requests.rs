//! TRANSPORT frames at the server (docs/protocol.md 5.2 and 5.3), as methods
//! of [`Registry`]: authenticate (session, decryption, replay window, age),
//! roam, then serve KEEPALIVE, LIST, CONNECT, UNREGISTER and RELAY. CONNECT,
//! UNREGISTER and RELAY go through the replay cache first, so a
//! retransmission gets the same reply and has no second effect. Every
//! request logs one info line.
//!
//! This file holds authentication and the read-only requests (KEEPALIVE,
//! LIST); `requests/replayed.rs` CONNECT, UNREGISTER and RELAY with the
//! replay cache.

use std::net::SocketAddr;

use peerd_shared::proto::codec::{addr_len, Put};
use peerd_shared::proto::frame::{Transport, MAX_PAYLOAD};
use peerd_shared::proto::payload::{kind, BodyError};
use peerd_shared::proto::{Body, ErrorCode, REJECT_AFTER};
use peerd_shared::{PeerId, Seq};
use tracing::info;

use super::registry::Registry;
use super::reply_buffer::ReplyBuffer;
use crate::metrics::Counter;
use crate::ratelimit::Verdict;

mod replayed;

/// The asker of a request: its id, the session the request came on, and
/// where it came from.
#[derive(Debug, Clone, Copy)]
struct Asker {
    id: PeerId,
    local: u32,
    source: SocketAddr,
}

const REJECT_AFTER_MS: u64 = REJECT_AFTER.as_millis() as u64;

impl Registry {
    /// A TRANSPORT frame: authenticated first, then served.
    pub(super) fn on_transport(
        &mut self,
        t: &Transport<'_>,
        verdict: Verdict,
        source: SocketAddr,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        let mut plain = std::mem::take(&mut self.scratch);
        let opened = match self.peers.session(t.receiver) {
            None => Err("a frame for no session"),
            Some((_, live)) if now_ms.saturating_sub(live.established_ms) >= REJECT_AFTER_MS => {
                Err("a frame on an expired session")
            }
            Some((id, live)) => match live.session.open(t, &mut plain) {
                Ok(p) => Ok((id, p.len())),
                Err(_) => Err("a frame that does not authenticate"),
            },
        };
        match opened {
            Ok((id, n)) => {
                self.peers.confirm_session(t.receiver, now_ms);
                let asker = Asker {
                    id,
                    local: t.receiver,
                    source,
                };
                let before = self.presence_of(id);
                self.authenticated(asker, &plain[..n], verdict, now_ms, out);
                self.presence_changed(id, before);
            }
            Err(reason) => self.dropped(reason, source, now_ms),
        }
        self.scratch = plain;
    }

    fn authenticated(
        &mut self,
        asker: Asker,
        payload: &[u8],
        verdict: Verdict,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        if self.peers.roam(asker.id, asker.source) {
            info!("id {} moved to {}", asker.id, asker.source);
        }
        if payload.first().is_some_and(|k| *k >= 0x80) {
            // Replies, server messages and ERROR are never answered.
            return tracing::debug!("id {}: a reply-kind payload; dropped", asker.id);
        }
        // An ERROR echoes the `seq` in bytes 1..5 when they are there.
        let seq_at_1 = peerd_shared::proto::codec::Reader::new(payload.get(1..).unwrap_or(&[]))
            .u32()
            .map_or(Seq(0), Seq);
        let decoded = Body::decode(payload);
        out.tally.add(
            decoded
                .as_ref()
                .map_or(Counter::RequestInvalid, Counter::request),
            1,
        );
        let body = match decoded {
            Ok(b) if b.is_request() => b,
            Ok(other) => {
                let msg = format!("{} is not a request the server serves", other.name());
                info!(
                    "request from id {}: unknown_type: {}",
                    asker.id,
                    other.name()
                );
                return self.error(asker, seq_at_1, ErrorCode::UnknownType, &msg, out);
            }
            Err(BodyError::UnknownKind { kind, .. }) => {
                info!(
                    "request from id {}: unknown_type: kind {kind:#04x}",
                    asker.id
                );
                let msg = "unknown request kind";
                return self.error(asker, seq_at_1, ErrorCode::UnknownType, msg, out);
            }
            Err(_) if !payload.first().is_some_and(|k| is_request_kind(*k)) => {
                // A kind the server does not serve is unknown_type whatever
                // its length (MESSAGE, PROBE, ... too short for their own
                // fields included).
                let kind = payload.first().copied().unwrap_or_default();
                info!(
                    "request from id {}: unknown_type: kind {kind:#04x}",
                    asker.id
                );
                let msg = "not a request the server serves";
                return self.error(asker, seq_at_1, ErrorCode::UnknownType, msg, out);
            }
            Err(e) => {
                info!("request from id {}: bad_request", asker.id);
                let msg = "malformed request";
                return self.error(
                    asker,
                    e.seq().unwrap_or_default(),
                    ErrorCode::BadRequest,
                    msg,
                    out,
                );
            }
        };
        if verdict == Verdict::Notify {
            let seq = request_seq(&body);
            info!("request from id {}: rate_limited", asker.id);
            let msg = "too many requests from this address; retry later";
            return self.error(asker, seq, ErrorCode::RateLimited, msg, out);
        }
        match body {
            Body::Keepalive { seq } => self.keepalive(asker, seq, now_ms, out),
            Body::List { seq, after } => self.list(asker, seq, after, now_ms, out),
            Body::Connect { seq, target } => self.connect(asker, seq, target, payload, now_ms, out),
            Body::Unregister { seq } => self.unregister(asker, seq, payload, now_ms, out),
            Body::Relay { seq, target, data } => {
                self.relay(asker, seq, target, data, payload, now_ms, out);
            }
            _ => {}
        }
    }

    /// Seals `body` to the asker on the session its request came on.
    fn reply(&mut self, asker: Asker, body: &Body<'_>, out: &mut ReplyBuffer) {
        if let Some((_, live)) = self.peers.session(asker.local) {
            let _ = out.seal(asker.source, &mut live.session, body);
        }
    }

    fn error(
        &mut self,
        asker: Asker,
        seq: Seq,
        code: ErrorCode,
        message: &str,
        out: &mut ReplyBuffer,
    ) {
        self.reply(asker, &Body::Error { seq, code, message }, out);
    }

    /// Whether the asker is online and not expired; answers `unauthorized`
    /// when it is not.
    fn online_or_refuse(
        &mut self,
        what: &str,
        asker: Asker,
        seq: Seq,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) -> bool {
        let online = self
            .peers
            .online(asker.id)
            .is_some_and(|p| !self.expired(p.last_ms, now_ms));
        if !online {
            info!("{what} from id {}: unauthorized: not online", asker.id);
            let msg = "this id is not online; handshake (REGISTER) again";
            self.error(asker, seq, ErrorCode::Unauthorized, msg, out);
        }
        online
    }

    /// KEEPALIVE: refresh (and come back online after expiry or UNREGISTER).
    fn keepalive(&mut self, asker: Asker, seq: Seq, now_ms: u64, out: &mut ReplyBuffer) {
        self.peers.refresh(asker.id, asker.source, now_ms);
        let body = Body::KeepaliveAck {
            seq,
            keepalive: self.keepalive_secs,
            addr: asker.source,
        };
        self.reply(asker, &body, out);
        tracing::debug!("KEEPALIVE from id {} at {}", asker.id, asker.source);
    }

    /// LIST: online peers other than the asker with ids above `after`, as
    /// many as fit one frame.
    fn list(&mut self, asker: Asker, seq: Seq, after: u64, now_ms: u64, out: &mut ReplyBuffer) {
        if !self.online_or_refuse("LIST", asker, seq, now_ms, out) {
            return;
        }
        let mut count: u16 = 0;
        let mut more = false;
        let mut page = Vec::with_capacity(MAX_PAYLOAD);
        page.put_u8(kind::LIST_ACK);
        page.put_u32(seq.0);
        page.put_u8(0);
        page.put_u16(0);
        if let Some(first) = PeerId::new(after.saturating_add(1)) {
            for (peer, addr) in self.online_after(first, now_ms) {
                if peer == asker.id {
                    continue;
                }
                if page.len() + 8 + addr_len(addr) > MAX_PAYLOAD || count == u16::MAX {
                    more = true;
                    break;
                }
                page.put_u64(peer.get());
                page.put_addr(addr);
                count += 1;
            }
        }
        page[5] = u8::from(more);
        page[6..8].copy_from_slice(&count.to_be_bytes());
        if let Some((_, live)) = self.peers.session(asker.local) {
            let _ = out.seal_with(asker.source, &mut live.session, |b| {
                b.extend_from_slice(&page)
            });
        }
        info!(
            "LIST from id {}: {count} peers{}",
            asker.id,
            if more { ", more" } else { "" }
        );
    }
}

/// The `seq` of a request.
fn request_seq(body: &Body<'_>) -> Seq {
    match *body {
        Body::Keepalive { seq }
        | Body::List { seq, .. }
        | Body::Connect { seq, .. }
        | Body::Unregister { seq }
        | Body::Relay { seq, .. } => seq,
        _ => Seq(0),
    }
}

/// The fixed message of an error after authentication.
fn error_text(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadRequest => "target is the asker itself",
        ErrorCode::UnknownPeer => "the target id was never registered",
        ErrorCode::PeerOffline => "the target is registered but not online",
        ErrorCode::TooLarge => "the RELAYED frame would exceed 1200 bytes",
        _ => "request failed",
    }
}

/// Whether `kind` is one of the requests the server serves on a session
/// (KEEPALIVE, LIST, CONNECT, UNREGISTER, RELAY).
fn is_request_kind(kind: u8) -> bool {
    use peerd_shared::proto::payload::kind::{CONNECT, KEEPALIVE, LIST, RELAY, UNREGISTER};
    matches!(kind, KEEPALIVE | LIST | CONNECT | UNREGISTER | RELAY)
}

//! The requests that change something, CONNECT, UNREGISTER and RELAY, as
//! methods of [`Registry`]: each goes through the replay cache first, so a
//! retransmission gets the same reply and has no second effect.

use peerd_shared::proto::frame::TRANSPORT_OVERHEAD;
use peerd_shared::proto::{Body, ErrorCode};
use peerd_shared::{PeerId, Seq};
use tracing::info;

use super::super::cluster::Found;
use super::super::registry::Registry;
use super::super::replay::Cached;
use super::super::reply_buffer::ReplyBuffer;
use super::{error_text, Asker};

impl Registry {
    /// The target of CONNECT or RELAY, online here or on another node of
    /// the cluster.
    fn target(&self, asker: PeerId, target: PeerId, now_ms: u64) -> Result<Found, ErrorCode> {
        if target == asker {
            return Err(ErrorCode::BadRequest);
        }
        if !self.peers.is_registered(target) {
            return Err(ErrorCode::UnknownPeer);
        }
        self.find(target, now_ms).ok_or(ErrorCode::PeerOffline)
    }

    /// Sends a remembered reply again (a retransmission within the window).
    fn replay_hit(
        &mut self,
        what: &str,
        asker: Asker,
        seq: Seq,
        payload: &[u8],
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) -> bool {
        let key = self.replay.key(asker.id, seq, payload);
        let Some(reply) = self.replay.get(&key, now_ms) else {
            return false;
        };
        info!(
            "{what} from id {} seq {seq}: retry, same reply again",
            asker.id
        );
        self.send_cached(asker, seq, reply, out);
        true
    }

    fn remember(&mut self, asker: Asker, seq: Seq, payload: &[u8], reply: Cached, now_ms: u64) {
        let key = self.replay.key(asker.id, seq, payload);
        self.replay.insert(key, reply, now_ms);
    }

    fn send_cached(&mut self, asker: Asker, seq: Seq, reply: Cached, out: &mut ReplyBuffer) {
        let body = match reply {
            Cached::ConnectAck { target, key, addr } => Body::ConnectAck {
                seq,
                target,
                key,
                addr,
            },
            Cached::UnregisterAck => Body::UnregisterAck { seq },
            Cached::RelayAck => Body::RelayAck { seq },
            Cached::Error(code) => Body::Error {
                seq,
                code,
                message: error_text(code),
            },
        };
        self.reply(asker, &body, out);
    }

    /// CONNECT: the target's key and address to the asker, INTRO to the
    /// target.
    pub(super) fn connect(
        &mut self,
        asker: Asker,
        seq: Seq,
        target: PeerId,
        payload: &[u8],
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        if self.replay_hit("CONNECT", asker, seq, payload, now_ms, out)
            || !self.online_or_refuse("CONNECT", asker, seq, now_ms, out)
        {
            return;
        }
        let reply = match self.target(asker.id, target, now_ms) {
            Ok(Found::Local(addr)) => match self.peers.key_of(target) {
                Some(key) => {
                    if let Some(asker_key) = self.peers.key_of(asker.id) {
                        let intro = Body::Intro {
                            from: asker.id,
                            key: asker_key,
                            addr: asker.source,
                        };
                        if let Some(live) = self.peers.current(target) {
                            let _ = out.seal(addr, &mut live.session, &intro);
                        }
                    }
                    Ok((addr, key))
                }
                None => Err(ErrorCode::UnknownPeer),
            },
            Ok(Found::Remote { node, key, addr }) => {
                // The target's NAT admits only its home node: INTRO goes
                // from there.
                self.forward_intro(node, target, asker.id, asker.source, out);
                Ok((addr, key))
            }
            Err(code) => Err(code),
        };
        let reply = match reply {
            Ok((addr, key)) => {
                info!("CONNECT id {} -> id {target}", asker.id);
                Cached::ConnectAck { target, key, addr }
            }
            Err(code) => {
                info!("CONNECT id {} -> id {target}: {code}", asker.id);
                Cached::Error(code)
            }
        };
        self.send_cached(asker, seq, reply, out);
        self.remember(asker, seq, payload, reply, now_ms);
    }

    /// UNREGISTER: offline now; the id stays reserved for the key; the
    /// session answers a retry for a while.
    pub(super) fn unregister(
        &mut self,
        asker: Asker,
        seq: Seq,
        payload: &[u8],
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        if self.replay_hit("UNREGISTER", asker, seq, payload, now_ms, out)
            || !self.online_or_refuse("UNREGISTER", asker, seq, now_ms, out)
        {
            return;
        }
        self.peers.set_offline(asker.id);
        self.forget_later(asker.id, now_ms);
        self.send_cached(asker, seq, Cached::UnregisterAck, out);
        self.remember(asker, seq, payload, Cached::UnregisterAck, now_ms);
        info!("UNREGISTER id {}", asker.id);
    }

    /// RELAY: RELAYED to the target, RELAY_ACK to the asker.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn relay(
        &mut self,
        asker: Asker,
        seq: Seq,
        target: PeerId,
        data: &[u8],
        payload: &[u8],
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        if self.replay_hit("RELAY", asker, seq, payload, now_ms, out)
            || !self.online_or_refuse("RELAY", asker, seq, now_ms, out)
        {
            return;
        }
        let reply = match self.target(asker.id, target, now_ms) {
            Ok(_)
                if 1 + 8 + data.len() + TRANSPORT_OVERHEAD > peerd_shared::proto::MAX_DATAGRAM =>
            {
                info!("RELAY id {} -> id {target}: too_large", asker.id);
                Cached::Error(ErrorCode::TooLarge)
            }
            Ok(Found::Local(addr)) => {
                let relayed = Body::Relayed {
                    from: asker.id,
                    data,
                };
                if let Some(live) = self.peers.current(target) {
                    let _ = out.seal(addr, &mut live.session, &relayed);
                }
                info!("RELAY id {} -> id {target}: {} bytes", asker.id, data.len());
                Cached::RelayAck
            }
            Ok(Found::Remote { node, .. }) => {
                self.forward_relayed(node, target, asker.id, data, out);
                info!(
                    "RELAY id {} -> id {target}: {} bytes, through node {}",
                    asker.id,
                    data.len(),
                    self.cluster.as_ref().map_or("?", |c| c.node_name(node))
                );
                Cached::RelayAck
            }
            Err(code) => {
                info!("RELAY id {} -> id {target}: {code}", asker.id);
                Cached::Error(code)
            }
        };
        self.send_cached(asker, seq, reply, out);
        self.remember(asker, seq, payload, reply, now_ms);
    }
}

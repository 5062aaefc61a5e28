//! What the server says on its session: the replies to requests, INTRO
//! (a peer's key, checked against its pin, and address) and RELAYED (a
//! peer's frame inside, opened like one that came straight).

use std::net::SocketAddr;

use peerd_shared::proto::Body;
use peerd_shared::text::escape_control;
use peerd_shared::PeerId;

use super::super::{Inbound, KeyCheck, ServerReply, Transport};
use super::Via;
use crate::peer::core::clock::Now;

impl Transport {
    /// What the server says on its session.
    pub(super) fn on_server_body(
        &mut self,
        body: Body<'_>,
        src: SocketAddr,
        now: Now,
        out: &mut Vec<Inbound>,
    ) {
        let reply = match body {
            Body::KeepaliveAck {
                seq,
                keepalive,
                addr,
            } => ServerReply::KeepaliveAck {
                seq,
                keepalive,
                addr,
            },
            Body::ListAck { seq, more, peers } => ServerReply::ListAck { seq, more, peers },
            Body::ConnectAck {
                seq,
                target,
                key,
                addr,
            } => ServerReply::ConnectAck {
                seq,
                target,
                key,
                addr,
            },
            Body::UnregisterAck { seq } => ServerReply::UnregisterAck { seq },
            Body::RelayAck { seq } => {
                self.relays.answered(seq, now.at);
                return;
            }
            Body::Error { seq, code, message } => match self.relays.answered(seq, now.at) {
                // The server's words go into reasons, replies and the log:
                // their control characters are escaped here, once.
                Some(target) => {
                    let message = escape_control(message).into_owned();
                    return out.push(Inbound::RelayRefused {
                        target,
                        code,
                        message,
                    });
                }
                None => ServerReply::Error {
                    seq,
                    code,
                    message: escape_control(message).into_owned(),
                },
            },
            Body::Intro { from, key, addr } => return self.introduced(from, key, addr, out),
            Body::Relayed { from, data } => {
                return self.open_frame(src, data, Via::Relayed(from), now, out);
            }
            other => {
                return tracing::debug!(
                    kind = other.name(),
                    "dropped a server frame of a peer's kind"
                )
            }
        };
        out.push(Inbound::Reply(reply));
    }

    fn introduced(
        &mut self,
        peer: PeerId,
        key: peerd_shared::proto::PublicKey,
        addr: SocketAddr,
        out: &mut Vec<Inbound>,
    ) {
        match self.introduce(peer, key) {
            KeyCheck::Pinned { new } => {
                if new {
                    out.push(Inbound::KeyPinned { peer, key });
                }
                out.push(Inbound::Intro { peer, addr });
            }
            KeyCheck::Changed { pinned, offered } => {
                out.push(Inbound::KeyChanged {
                    peer,
                    pinned,
                    offered,
                });
            }
        }
    }
}

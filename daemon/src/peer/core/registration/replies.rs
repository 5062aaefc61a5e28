//! Reading the server's replies: acknowledgements answer their callers,
//! errors fail them (or re-authorize on `unauthorized`), LIST pages are
//! gathered until the last, CONNECT answers have their key checked.

use std::net::SocketAddr;

use peerd_shared::control::ListedPeer;
use peerd_shared::proto::codec::canonical;
use peerd_shared::proto::{ErrorCode, PublicKey};
use peerd_shared::PeerId;

use super::{Action, Answer, LinkError, Purpose, Registration};
use crate::peer::core::clock::Now;
use crate::peer::core::transport::{KeyChange, KeyCheck, ServerReply};

impl<C> Registration<C> {
    fn on_error(&mut self, purpose: Purpose<C>, code: ErrorCode, message: String, now: Now) {
        match (purpose, code) {
            (purpose, ErrorCode::Unauthorized) => self.reauthorize(Some(purpose), now),
            (Purpose::Connect { target, caller, .. }, ErrorCode::UnknownPeer) => {
                let result = Err(LinkError::UnknownPeer(target));
                self.out.push(Action::Answer { caller, result });
            }
            (Purpose::Connect { target, caller, .. }, ErrorCode::PeerOffline) => {
                let result = Err(LinkError::PeerOffline(target));
                self.out.push(Action::Answer { caller, result });
            }
            (purpose, _) => self.fail(purpose, LinkError::Refused(format!("{code}: {message}"))),
        }
    }

    pub(super) fn on_reply(&mut self, reply: ServerReply, now: Now) {
        let Some(purpose) = self.requests.answered(reply.seq()) else {
            return;
        };
        match (reply, purpose) {
            (ServerReply::Error { code, message, .. }, purpose) => {
                self.on_error(purpose, code, message, now);
            }
            (
                ServerReply::KeepaliveAck {
                    keepalive, addr, ..
                },
                Purpose::Keepalive,
            ) => {
                if let Some(id) = self.transport.id() {
                    self.registered(id, addr, keepalive, now);
                }
            }
            (
                ServerReply::ListAck { peers, more, .. },
                Purpose::List {
                    acc,
                    caller,
                    reauth,
                    ..
                },
            ) => {
                self.listed(peers, more, acc, caller, reauth, now);
            }
            (
                ServerReply::ConnectAck {
                    target, key, addr, ..
                },
                Purpose::Connect { caller, .. },
            ) => {
                let result = self.connected(target, key, addr);
                self.out.push(Action::Answer { caller, result });
            }
            (ServerReply::UnregisterAck { .. }, Purpose::Unregister { caller }) => {
                let result = Ok(Answer::Unregistered);
                self.out.push(Action::Answer { caller, result });
            }
            (other, purpose) => {
                tracing::debug!(seq = %other.seq(), "reply does not match its request");
                self.fail(purpose, LinkError::Refused("mismatched reply".into()));
            }
        }
    }

    /// A CONNECT_ACK: the target's address, if its key is the pinned one.
    fn connected(
        &mut self,
        target: PeerId,
        key: PublicKey,
        addr: SocketAddr,
    ) -> Result<Answer, LinkError> {
        match self.transport.introduce(target, key) {
            KeyCheck::Pinned { new } => {
                if new {
                    self.out.push(Action::PinPeerKey { peer: target, key });
                }
                Ok(Answer::Addr(canonical(addr)))
            }
            KeyCheck::Changed { pinned, offered } => {
                tracing::warn!(
                    peer = %target,
                    pinned = %pinned.fingerprint(),
                    offered = %offered.fingerprint(),
                    "the server gives another key for a pinned peer: refused until `peerctl trust {target}`"
                );
                Err(LinkError::KeyChanged(KeyChange::new(
                    target, &pinned, &offered,
                )))
            }
        }
    }

    /// A LIST_ACK page: ask for the next one, or answer with them all.
    fn listed(
        &mut self,
        peers: Vec<(PeerId, SocketAddr)>,
        more: bool,
        mut acc: Vec<ListedPeer>,
        caller: C,
        reauth: bool,
        now: Now,
    ) {
        let last = peers.last().map(|(id, _)| id.get());
        acc.extend(peers.into_iter().map(|(id, addr)| ListedPeer {
            id,
            addr: canonical(addr).to_string(),
        }));
        match (more, last) {
            (true, Some(after)) => {
                let next = Purpose::List {
                    after,
                    acc,
                    caller,
                    reauth,
                };
                self.issue(next, now);
            }
            _ => {
                let result = Ok(Answer::Peers(acc));
                self.out.push(Action::Answer { caller, result });
            }
        }
    }
}

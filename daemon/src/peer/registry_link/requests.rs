//! The requests other actors make of the link: LIST, CONNECT (the
//! outbox's lookups), UNREGISTER, the link's status, a peer's key and
//! trusting a new one; the messages and their handlers.

use actix::prelude::*;
use peerd_shared::control::ListedPeer;
use peerd_shared::proto::PublicKey;
use peerd_shared::PeerId;
use tokio::sync::oneshot;

use super::super::alarm::{now, Driven};
use super::super::core::registration::{LinkError, LinkStatus};
use super::super::core::transport::PeerKey;
use super::super::outbox::LinkEvent;
use super::{Caller, RegistryLink};

/// Every online peer, all LIST pages.
#[derive(Message)]
#[rtype(result = "Result<Vec<ListedPeer>, LinkError>")]
pub struct ListPeers;

/// CONNECT to `peer` for the outbox; answered with [`LinkEvent::LookupDone`].
#[derive(Message)]
#[rtype(result = "()")]
pub struct Lookup {
    pub peer: PeerId,
    pub upgrade: bool,
}

/// UNREGISTER and stop registering (shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unregister;

/// Own id and the registration state, for `id` and `status`.
#[derive(Message)]
#[rtype(result = "LinkStatus")]
pub struct GetLinkStatus;

/// A peer's pinned key, and another the server offered (`peerctl key`).
#[derive(Message)]
#[rtype(result = "Option<PeerKey>")]
pub struct GetPeerKey(pub PeerId);

/// The user trusts the key the server now offers for a peer (`peerctl
/// trust`), or only the key `expect` names (a fingerprint or base64 key).
#[derive(Message)]
#[rtype(result = "TrustOutcome")]
pub struct Trust {
    pub peer: PeerId,
    pub expect: Option<String>,
}

/// What [`Trust`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustOutcome {
    /// No key is known for the peer: it was never introduced.
    Unknown,
    /// The key had not changed; nothing was done.
    Unchanged(PublicKey),
    /// `new` is pinned in place of `old`.
    Replaced { old: PublicKey, new: PublicKey },
    /// `expect` does not name the key on offer (or, with nothing on offer,
    /// the pinned key); nothing was done.
    Mismatch { current: PublicKey },
}

impl Handler<ListPeers> for RegistryLink {
    type Result = ResponseFuture<Result<Vec<ListedPeer>, LinkError>>;

    fn handle(&mut self, _: ListPeers, ctx: &mut Self::Context) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        self.core.list(Caller::List(reply), now());
        self.carry_out(ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(LinkError::Stopping)) })
    }
}

impl Handler<Lookup> for RegistryLink {
    type Result = ();

    fn handle(&mut self, m: Lookup, ctx: &mut Self::Context) {
        let caller = Caller::Lookup {
            peer: m.peer,
            upgrade: m.upgrade,
        };
        self.core.connect(m.peer, caller, now());
        self.carry_out(ctx);
    }
}

impl Handler<Unregister> for RegistryLink {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Unregister, ctx: &mut Self::Context) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        self.core.unregister(Caller::Unregister(reply), now());
        self.carry_out(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Handler<GetLinkStatus> for RegistryLink {
    type Result = MessageResult<GetLinkStatus>;

    fn handle(&mut self, _: GetLinkStatus, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.core.status())
    }
}

impl Handler<GetPeerKey> for RegistryLink {
    type Result = MessageResult<GetPeerKey>;

    fn handle(&mut self, GetPeerKey(peer): GetPeerKey, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.core.peer_key(peer))
    }
}

impl Handler<Trust> for RegistryLink {
    type Result = MessageResult<Trust>;

    fn handle(&mut self, Trust { peer, expect }: Trust, ctx: &mut Self::Context) -> Self::Result {
        let Some(known) = self.core.peer_key(peer) else {
            return MessageResult(TrustOutcome::Unknown);
        };
        let current = known.offered.unwrap_or(known.pinned);
        if expect.is_some_and(|e| !current.is_named_by(&e)) {
            return MessageResult(TrustOutcome::Mismatch { current });
        }
        let Some(new) = self.core.trust(peer) else {
            return MessageResult(TrustOutcome::Unchanged(known.pinned));
        };
        self.outbox.do_send(LinkEvent::Trusted { peer });
        self.carry_out(ctx);
        MessageResult(TrustOutcome::Replaced {
            old: known.pinned,
            new,
        })
    }
}

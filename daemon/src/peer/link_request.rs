//! Requests the registry link has out with the server: what each is for
//! (its [`Purpose`], holding the caller waiting for the answer), the bytes
//! kept for retransmission, and the errors callers get.

use std::net::SocketAddr;
use std::time::Duration;

use peerd_shared::control::ListedPeer;
use peerd_shared::PeerId;
use tokio::sync::oneshot;

/// Why a request to the server did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("peer {0} was never registered with the server")]
    UnknownPeer(PeerId),
    #[error("peer {0} is offline")]
    PeerOffline(PeerId),
    #[error("not registered with the server: {0}")]
    NotRegistered(String),
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("the daemon is stopping")]
    Stopping,
}

/// What a request to the server is for, with whoever waits for its answer.
pub enum Purpose {
    Register,
    List {
        after: u64,
        acc: Vec<ListedPeer>,
        reply: oneshot::Sender<Result<Vec<ListedPeer>, LinkError>>,
        reauth: bool,
    },
    Connect {
        target: PeerId,
        reply: oneshot::Sender<Result<SocketAddr, LinkError>>,
        reauth: bool,
    },
    Unregister(oneshot::Sender<()>),
}

/// A request on the wire, kept for retransmission until answered.
pub struct Pending {
    pub bytes: Vec<u8>,
    pub tries: u32,
    pub timeout: Duration,
    pub purpose: Purpose,
}

/// Answers whoever waits for `purpose` with `e`.
pub fn fail(purpose: Purpose, e: LinkError) {
    match purpose {
        Purpose::Register => {}
        Purpose::List { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        Purpose::Connect { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        Purpose::Unregister(reply) => {
            let _ = reply.send(());
        }
    }
}

//! What the registration takes and gives: the purposes of requests, the
//! answers callers get, the actions the registry link carries out.

use std::net::SocketAddr;

use peerd_shared::control::{ListedPeer, RegState};
use peerd_shared::proto::PublicKey;
use peerd_shared::PeerId;

use crate::peer::core::transport::{Datagram, KeyChange};

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
    #[error(transparent)]
    KeyChanged(KeyChange),
    #[error("the daemon is stopping")]
    Stopping,
}

/// What a request to the server is for, with whoever waits for its answer.
#[derive(Debug)]
pub enum Purpose<C> {
    /// The refresh of the registration (KEEPALIVE).
    Keepalive,
    /// One page of LIST; `acc` holds the pages before it. `reauth`: an
    /// `unauthorized` answer re-registers and asks once more.
    List {
        after: u64,
        acc: Vec<ListedPeer>,
        caller: C,
        reauth: bool,
    },
    Connect {
        target: PeerId,
        caller: C,
        reauth: bool,
    },
    Unregister {
        caller: C,
    },
}

/// A successful answer to a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// LIST, every page.
    Peers(Vec<ListedPeer>),
    /// CONNECT: the target's address.
    Addr(SocketAddr),
    /// UNREGISTER done (or not needed, or given up).
    Unregistered,
}

/// What the registry link must do.
#[derive(Debug)]
pub enum Action<C> {
    /// Put this datagram on the socket.
    Send(Datagram),
    /// Answer a caller.
    Answer {
        caller: C,
        result: Result<Answer, LinkError>,
    },
    /// Registered (again, or at a new address): tell the outbox.
    Up { id: PeerId },
    /// No longer registered: tell the outbox.
    Down { reason: String },
    /// The server gave this daemon a new id: store it.
    RememberId(PeerId),
    /// The last handshake timestamp sent: keep it across restarts.
    RememberTimestamp(u64),
    /// The server's key, learned on first contact: pin it.
    PinServerKey(PublicKey),
    /// A peer's key, given by the server for the first time: pin it.
    PinPeerKey { peer: PeerId, key: PublicKey },
}

/// The state for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    pub id: Option<PeerId>,
    /// This daemon's key.
    pub key: PublicKey,
    /// The server's key, when known.
    pub server_key: Option<PublicKey>,
    pub state: RegState,
    pub reason: Option<String>,
    pub public_addr: Option<SocketAddr>,
    /// The home server (as configured).
    pub server: String,
}

//! The one place datagrams are made and read. [`Transport::seal_request`]
//! turns a request to the server into bytes, [`Transport::seal_peer`] a
//! packet for a peer over a [`Route`] (sent straight to its address, or
//! wrapped in RELAY to the server), and [`Transport::open`] reads every
//! datagram that arrives: it decodes it, accepts server replies, INTRO and
//! RELAYED only from the server's address, unwraps RELAYED (whose inner
//! `from` must match), drops peer packets addressed to another id, and
//! says where each came from ([`Origin`]).
//!
//! It holds what every datagram is made with: the token (never logged),
//! own id, the request sequence counter (one counter for every request,
//! RELAY included: a new request always gets a new `seq`), and the RELAYs
//! recently sent, so that an ERROR answering one is told apart from the
//! answer to another request. Protocol v2 puts the Noise sessions here.

mod open;
mod packets;
mod relays;
mod seal;
#[cfg(test)]
mod tests;

pub use packets::{Datagram, Inbound, Origin, PeerPacket, Route, SealError, ServerRequest};
pub use seal::Transport;

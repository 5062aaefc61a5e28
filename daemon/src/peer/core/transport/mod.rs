//! The one place datagrams are made and read, and the one place that holds
//! keys and sessions (docs/protocol.md). [`Transport::register_init`] and
//! [`Transport::seal_request`] speak to the server;
//! [`Transport::seal_peer`] turns a packet for a peer into a frame sealed
//! on its session and sends it over a [`Route`] (straight to its address,
//! or inside RELAY); [`Transport::open`] reads every datagram that arrives
//! and believes nothing it cannot authenticate.
//!
//! - `seal`: the state, the REGISTER handshake, requests, the sending side;
//! - `open`: the receiving side (handshakes, cookies, TRANSPORT;
//!   `open/server_body.rs`: what the server says, INTRO, RELAYED);
//! - `server`, `peers`: what is known of the server and of each peer
//!   (keys, pins, sessions, handshakes out); `sessions`: the sessions with
//!   one party and the confirmation rule;
//! - `relays`: the RELAYs awaiting their answer, by `seq`;
//! - `packets`: the vocabulary.

mod open;
mod packets;
mod peers;
mod relays;
mod seal;
mod server;
mod sessions;
#[cfg(test)]
mod tests;

pub use packets::{
    Datagram, Inbound, KeyChange, KeyCheck, Origin, PeerPacket, Route, SealError, ServerReply,
    ServerRequest,
};
pub use peers::PeerKey;
pub use seal::Transport;

//! The outbox's logic without I/O: messages this daemon sends, from
//! queueing to acknowledgement (protocol.md 3).
//!
//! A message is given to the core once it is stored, then sent over its
//! peer's [`PeerPath`](super::path::PeerPath): direct when a punch
//! succeeded, relayed through the server when it did not. Until a path
//! exists the peer is looked up (CONNECT) and punched. Every message is
//! retransmitted (200 ms doubling, capped at 5 s) until its MESSAGE_ACK,
//! or fails when its ttl runs out. Paths in use are kept alive, punched
//! again when silent and upgraded from relay to direct; `ping` probes them.
//!
//! Files: `vocabulary` (actions and answers), `state` (the struct, the
//! timer), `sending` (queue, send, acknowledge, fail), `finding` (lookups,
//! introductions, the registration coming and going), `probing` (PUNCH,
//! path upkeep, `ping`, `peers`).

mod finding;
mod probing;
mod sending;
mod state;
#[cfg(test)]
mod tests;
mod vocabulary;

pub use state::{Delivery, Nonces, Stats};
pub use vocabulary::{Action, Admission, Change, LookupAnswer, PingId};

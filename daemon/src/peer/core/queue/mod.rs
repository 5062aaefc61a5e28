//! The outbox's messages, without actors: every pending message by id and
//! by peer, its retransmission timer (200 ms doubling to 5 s, and never
//! past its expiry), and the per-peer window of messages on the wire (at
//! most [`WINDOW`] unacknowledged; the rest wait, parked, in order, so a
//! burst never overruns the receiver).

mod message;
#[cfg(test)]
mod tests;
mod window;

pub use message::OutMsg;
pub use window::{Queue, WINDOW};

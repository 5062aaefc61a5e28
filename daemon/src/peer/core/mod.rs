//! The peer daemon's protocol logic without I/O, after boringtun's
//! `noise::Tunn` and quinn-proto: every input carries the time, nothing
//! here reads a clock, touches a socket or knows an actor, and every output
//! is an explicit action (send this datagram, send this packet to this peer
//! over this route, ask the server this, answer this caller, record this in
//! the store) or a deadline to be woken at. The actors in `super` feed it
//! and carry out what it returns; the tests run it on a fake clock.
//!
//! - [`transport`]: the one place datagrams are sealed and opened.
//! - [`registration`] (+ [`requests`]): REGISTER, keepalive, LIST, CONNECT,
//!   UNREGISTER, retransmission and re-registration.
//! - [`delivery`] (+ [`path`], [`queue`]): the outbox's logic: paths to
//!   peers, queued messages, lookups, introductions, pings.
//! - [`timers`], [`timing`], [`clock`]: the one timer mechanism, the
//!   protocol's timing rules, the time as inputs carry it.

pub mod clock;
pub mod delivery;
pub mod path;
pub mod queue;
pub mod registration;
pub mod requests;
#[cfg(test)]
pub mod testnet;
pub mod timers;
pub mod timing;
pub mod transport;

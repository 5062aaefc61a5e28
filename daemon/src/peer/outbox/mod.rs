//! The outbox: the actor that delivers this daemon's messages, a thin
//! shell over the [`Delivery`](super::core::delivery::Delivery) core. It
//! stores a message before `send` is answered (a whole batch per commit),
//! gives stored messages to the core, and carries out what the core
//! returns: packets to send (through the registry link), lookups to make,
//! outcomes to record and then answer, pings to answer. On start it
//! resumes every message still queued in the store.

mod actor;
mod events;
mod sends;

pub use actor::{Accepted, Delete, Enqueue, LinkEvent, ListPaths, Outbox, Ping, Stopping};

//! `peerd server --cluster-db URL --cluster-bus URL --node NAME`: several
//! servers acting as one. PostgreSQL holds the ids of record, NATS carries
//! presence and forwarding between the nodes; every node shares the
//! server's key, so a daemon's pinned key fits all of them (docs/cluster.md).
//!
//! - [`wire`]: the messages between nodes, authenticated with a key
//!   derived from the server's private key.
//! - [`replica`]: the other nodes' presence, healed by snapshots.
//! - [`node`]: this node's side (announcements, heartbeat, forwarding),
//!   pure; [`core`]: the registry's cluster side, pure.
//! - [`db`], [`engine`]: PostgreSQL and NATS on a thread of their own.

pub mod core;
pub mod db;
pub mod engine;
pub mod node;
pub mod replica;
#[cfg(test)]
mod tests;
pub mod wire;

pub use self::core::{Claimed, Found};
pub use engine::{DbItem, Engine, FromEngine, Settings};
pub use node::{BusOut, Cluster, To};

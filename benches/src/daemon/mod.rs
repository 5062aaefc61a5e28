//! The daemon benchmarks: two `peerd start` daemons on loopback (and a
//! `peerd server`), driven through their control sockets.
//!
//! - [`throughput`]: N pipelined sends on one connection, messages/s
//!   delivered (acknowledged by the receiver, stored on both sides);
//! - [`latency`]: send request to the follower's event at a light load;
//! - [`startup`]: `peerd start` to registered, and the `id` round trip.
//!
//! [`procs`] starts the processes, [`control`] speaks the control protocol.

pub mod control;
pub mod latency;
pub mod procs;
pub mod startup;
pub mod throughput;

pub use latency::{latency, LatencyReport};
pub use procs::Bins;
pub use startup::{startup, StartupReport};
pub use throughput::{throughput, ThroughputReport};

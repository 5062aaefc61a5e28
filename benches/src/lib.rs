//! peerbench: the instruments that measure peerd's rendezvous server.
//!
//! - [`run`]: one load run (`stun`, `keepalive`, `mix`, `register`, `junk`)
//!   of N simulated peers, each its own UDP socket, W requests outstanding
//!   each (or a fixed rate, for `junk`).
//! - [`engine`]: the per-thread epoll loop that sends, matches, times and
//!   counts ([`stats`]); [`workload`] says what the requests are and which
//!   replies are right.
//! - [`client`]: the daemon's side of protocol v2 (handshakes, sessions).
//! - [`setup`]: registering peers before a run; [`populate`]: the scale run.
//! - [`junk`]: the flood of junk handshakes of `junk`.
//! - [`report`]: the figures, for people and as JSON.
//! - [`probe`]: waiting for a server, finding a free port (for the script).
//! - [`peers`], [`sys`]: sockets and the Linux calls std does not wrap.
//!
//! - [`daemon`]: the peer daemon's throughput, latency and start-up.
//! - [`cluster`]: CONNECT to INTRO latency in a cluster, same node and cross node.
//!
//! The reference limit, `udp-limit`, is a binary of this crate.

pub mod aead;
pub mod client;
pub mod cluster;
pub mod daemon;
pub mod engine;
pub mod error;
pub mod junk;
pub mod peers;
pub mod populate;
pub mod probe;
pub mod report;
pub mod run;
pub mod setup;
pub mod stats;
pub mod sys;
pub mod workload;
pub mod x25519;

pub use error::BenchError;
pub use junk::{JunkConfig, JunkKind};
pub use populate::{populate, PopulateConfig, PopulateReport};
pub use report::Report;
pub use run::{run, LoadConfig, Mode};
pub use workload::session::MixWeights;

//! The peer daemon (`peerd start`): a protocol core without I/O
//! ([`core`]) under thin actix actors, one per file, that feed it and
//! carry out what it returns:
//!
//! - [`registry_link`]: owns the UDP socket ([`socket`]) and the
//!   registration core, which seals and opens every datagram; REGISTER,
//!   keepalive, LIST, CONNECT, UNREGISTER;
//! - [`outbox`]: queued messages over the delivery core (paths, punching,
//!   relay, retransmission, pings);
//! - [`inbox`]: received messages, stored before they are acknowledged,
//!   and the followers;
//! - [`control`]: the Unix control socket, one session per client;
//! - [`retention`]: removes stored messages older than the config says;
//! - [`lifecycle`]: the one shutdown path;
//! - [`metrics`]: the counters of `--metrics`.
//!
//! Around them: [`store`] (SQLite on its own thread, group commit, batched
//! writes), [`alarm`] (the actors' clock and timer), [`args`] (flags, env,
//! config file), [`identity`] (the key and the private data dir), [`lock`]
//! (one daemon per data dir), [`run`] (start-up) and [`detach`]
//! (`--detach`). `docs/architecture.md` draws the whole.

pub mod alarm;
pub mod args;
pub mod control;
pub mod core;
pub mod detach;
pub mod error;
pub mod identity;
pub mod inbox;
pub mod lifecycle;
pub mod lock;
pub mod metrics;
pub mod outbox;
pub mod registry_link;
pub mod retention;
pub mod run;
pub mod socket;
pub mod store;

pub use args::{Config, RelayPolicy, Retention, StartArgs};
pub use error::PeerError;
pub use run::main;

//! The peerd library behind the `peerd` binary.
//!
//! - [`server`]: the rendezvous server (`peerd server`).
//! - [`peer`]: the peer daemon (`peerd start`), built from actix actors.
//! - [`telemetry`]: tracing set-up shared by both.

pub mod peer;
pub mod server;
pub mod telemetry;

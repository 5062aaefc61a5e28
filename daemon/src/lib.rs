//! The peerd library behind the `peerd` binary.
//!
//! - [`server`]: the rendezvous server (`peerd server`).
//! - [`peer`]: the peer daemon (`peerd start`), built from actix actors.
//! - [`cli`]: the command line of `peerd`; [`manual`]: its man pages and
//!   shell completions.
//! - [`telemetry`]: tracing set-up shared by both; [`notify`]: systemd
//!   readiness, status and watchdog; [`metrics`]: the server's Prometheus
//!   metrics; [`ratelimit`]: token buckets both use; [`private`]: files
//!   and directories only their owner may read.

pub mod cli;
pub mod manual;
pub mod metrics;
pub mod notify;
pub mod peer;
pub mod private;
pub mod ratelimit;
pub mod server;
pub mod telemetry;

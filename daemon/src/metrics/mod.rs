//! Metrics of `peerd server` (`--metrics ADDR`), for Prometheus, and the
//! HTTP endpoint that `peerd start --metrics` serves too.
//!
//! - [`counters`]: what is counted, per-thread counts and the board the
//!   threads publish them to;
//! - [`exposition`]: the text format, written by `prometheus-client`;
//! - [`http`]: the `/metrics` and `/healthz` endpoint.

pub mod counters;
pub mod exposition;
pub mod http;

pub use counters::{Board, Counter, Counters, Gauge, Publisher};
pub use http::{MetricsServer, Source};

//! The peer daemon (`peerd start`), built from actix actors, one per file:
//!
//! - [`socket`]: owns the UDP socket, decodes and routes datagrams;
//! - [`registry_link`]: REGISTER/keepalive, LIST, CONNECT, RELAY, UNREGISTER;
//! - [`outbox`]: queued messages, path choice ([`paths`]), retransmission;
//! - [`inbox`]: dedup, storage before acknowledgement, followers;
//! - [`control`]: the Unix control socket, one [`session`] per client,
//!   running [`commands`].
//!
//! Around them: [`args`] (flags, env, config file), [`identity`] (the token),
//! [`store`] and [`db`] (SQLite on its own thread, group commit), [`shared`]
//! (what all actors share), [`retry`] (timing rules), [`run`] (start-up and
//! shutdown) and [`detach`] (`--detach`).

use std::process::ExitCode;

pub mod args;
pub mod commands;
pub mod control;
pub mod db;
pub mod detach;
pub mod error;
pub mod identity;
pub mod inbox;
mod link_request;
pub mod outbox;
mod outbox_msg;
mod outbox_queue;
pub mod paths;
pub mod registry_link;
pub mod retry;
pub mod run;
pub mod session;
pub mod shared;
pub mod socket;
pub mod store;

pub use args::{Config, StartArgs};
pub use error::PeerError;

/// Entry point of `peerd start`: resolve the configuration, then run in the
/// foreground (logs on stderr) or start in the background (`--detach`).
pub fn main(args: StartArgs) -> ExitCode {
    let config = match Config::resolve(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("peerd start: {e}");
            return ExitCode::from(2);
        }
    };
    if config.detach {
        return detach::detach(&config);
    }
    match &config.log_file {
        Some(path) => {
            if let Err(e) = crate::telemetry::init_file(path) {
                eprintln!("peerd start: cannot open log file {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        None => crate::telemetry::init_stderr(),
    }
    match run::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            // Also on stderr in plain words, whatever the log filter says.
            eprintln!("peerd start: {e}");
            ExitCode::FAILURE
        }
    }
}

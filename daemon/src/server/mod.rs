//! The rendezvous server (`peerd server`): wire protocol v1 over UDP, STUN
//! on the same port, a persistent registry of ids.
//!
//! - [`args`]: flags and limits.
//! - [`registry`] (+ `requests`, `peers`, `outbox`, `addr_text`, `hot`,
//!   `replay`, `ratelimit`):
//!   the pure protocol core, no I/O.
//! - [`store`]: the SQLite database and its writer thread.
//! - [`udp`] (+ `mmsg`): the single-threaded event loop around one UDP
//!   socket, reading and writing datagrams in batches.

pub mod addr_text;
pub mod args;
mod error;
mod hot;
mod mmsg;
pub mod outbox;
mod peers;
mod ratelimit;
pub mod registry;
mod replay;
mod requests;
pub mod store;
mod stun_port;
pub mod udp;

use std::future::Future;
use std::process::ExitCode;
use std::time::Instant;

use tracing::{error, info};

pub use args::{Limits, ServerArgs};
pub use error::ServerError;
pub use registry::Registry;

/// Entry point of `peerd server`: logs to stderr, runs until Ctrl-C or SIGTERM.
pub fn main(args: ServerArgs) -> ExitCode {
    crate::telemetry::init_stderr();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("{}", ServerError::Runtime(e));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        run(args, shutdown).await
    });
    match result {
        Ok(()) => {
            info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the server with `args` until `shutdown` completes; the database is
/// closed when this returns.
pub async fn run(args: ServerArgs, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    let path = args.db.clone();
    let (conn, loaded) = store::open(&path)?;
    let known = loaded.len();
    let registry = Registry::new(args.limits(), loaded, Instant::now());
    let writer = store::Writer::start(conn, path.clone())?;
    let socket = udp::bind(args.listen)?;
    let local = socket.local_addr().map_err(ServerError::Socket)?;
    info!(
        "registry {}: {known} ids; keepalive {} s",
        path.display(),
        args.keepalive
    );
    info!("listening on {local}");
    udp::serve(socket, registry, writer, shutdown).await
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM. Installed before the server
/// announces itself, so a signal right after `listening on` is handled.
fn shutdown_signal() -> Result<impl Future<Output = ()>, ServerError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(ServerError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServerError::Signal)?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM received"),
            _ = int.recv() => info!("SIGINT received"),
        }
    })
}

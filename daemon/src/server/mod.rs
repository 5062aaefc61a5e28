//! The rendezvous server (`peerd server`): wire protocol v1 over UDP, STUN
//! on the same port, a persistent registry of ids.
//!
//! - [`args`]: flags and limits.
//! - [`registry`] (+ `requests`, `peers`, `reply_buffer`, `addr_text`,
//!   `replay`, `ratelimit`):
//!   the pure protocol core, no I/O.
//! - [`store`]: the SQLite database and its writer thread.
//! - [`udp`] (+ `mmsg`, `reuseport`, `stun_threads`): the event loop of
//!   the registry's thread around its UDP socket, reading and writing
//!   datagrams in batches, and the STUN threads sharing its port.

pub mod addr_text;
pub mod args;
mod error;
mod mmsg;
mod peers;
mod ratelimit;
pub mod registry;
mod replay;
pub mod reply_buffer;
mod requests;
mod reuseport;
pub mod store;
mod stun_port;
mod stun_threads;
pub mod udp;

use std::future::Future;
use std::process::ExitCode;
use std::time::Instant;

use tracing::{error, info};

pub use args::{Limits, ServerArgs};

/// Datagrams the STUN threads may queue for the registry's thread.
const HANDOFF_QUEUE: usize = 1024;
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
    let (socket, stun_sockets) = udp::bind(args.listen, args.threads())?;
    let local = socket.local_addr().map_err(ServerError::Socket)?;
    let (handoff, handed) = tokio::sync::mpsc::channel(HANDOFF_QUEUE);
    let threads = 1 + stun_sockets.len();
    let stun = stun_threads::StunThreads::start(stun_sockets, args.limits(), handoff)
        .map_err(ServerError::Socket)?;
    info!(
        "registry {}: {known} ids; keepalive {} s",
        path.display(),
        args.keepalive
    );
    info!(
        "{threads} threads: 1 for the registry, {} for STUN",
        threads - 1
    );
    info!("listening on {local}");
    let served = udp::serve(socket, registry, writer, handed, shutdown).await;
    stun.stop();
    served
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

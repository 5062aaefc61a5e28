//! The rendezvous server (`peerd server`): wire protocol v2 (Noise) over
//! UDP, STUN on the same port, a persistent registry of ids bound to keys.
//!
//! - [`args`]: flags and limits.
//! - [`registry`] (+ `handshakes`, `requests`, `peers`, `reply_buffer`, `replay`,
//!   `ratelimit`, `load`): the pure protocol core, no I/O.
//! - [`store`]: the SQLite database and its writer thread.
//! - [`udp`] (+ `mmsg`, `reuseport`, `stun_threads`): the event loop of
//!   the registry's thread around its UDP socket, reading and writing
//!   datagrams in batches, and the STUN threads sharing its port.

pub mod args;
mod error;
mod handshakes;
mod load;
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

#[cfg(test)]
mod tests;

use std::future::Future;
use std::process::ExitCode;
use std::time::Instant;

use peerd_shared::proto::{Identity, SecretKey};
use tracing::{error, info};

pub use args::{Limits, ServerArgs};

/// Datagrams the STUN threads may queue for the registry's thread.
const HANDOFF_QUEUE: usize = 1024;
pub use error::ServerError;
pub use registry::Registry;

/// Entry point of `peerd server`: logs to stderr, runs until Ctrl-C or SIGTERM.
pub fn main(args: ServerArgs) -> ExitCode {
    if args.print_key {
        return print_key(&args);
    }
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

/// `peerd server --print-key`: the public key on stdout, its fingerprint
/// on stderr.
fn print_key(args: &ServerArgs) -> ExitCode {
    match load_identity(args) {
        Ok((identity, _)) => {
            println!("{}", identity.public);
            eprintln!("fingerprint {}", identity.public.fingerprint());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("peerd server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The server's key pair, from its key file (created when missing, in a
/// directory created when missing).
fn load_identity(args: &ServerArgs) -> Result<(Identity, bool), ServerError> {
    let path = args.key_path();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ServerError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let (secret, created) = SecretKey::load_or_create(&path)?;
    Ok((Identity::new(secret), created))
}

/// Runs the server with `args` until `shutdown` completes; the database is
/// closed when this returns.
pub async fn run(args: ServerArgs, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    let path = args.db.clone();
    let (conn, loaded) = store::open(&path)?;
    let (identity, created) = load_identity(&args)?;
    info!(
        "server key {} (fingerprint {}){}",
        identity.public,
        identity.public.fingerprint(),
        if created { ", new" } else { "" }
    );
    let known = loaded.rows.len();
    let registry = Registry::new(
        identity,
        args.limits(),
        loaded.rows,
        loaded.reserved,
        Instant::now(),
    );
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

//! The rendezvous server (`peerd server`): wire protocol v2 (Noise) over
//! UDP, STUN on the same port, a persistent registry of ids bound to keys.
//!
//! - [`args`]: flags and limits; [`config`]: flags, environment, config
//!   file and defaults merged.
//! - [`registry`] (+ `handshakes`, `requests`, `peers`, `reply_buffer`,
//!   `replay`, `load`; the rate limiter is [`crate::ratelimit`]): the pure protocol core, no I/O.
//! - [`store`]: the SQLite database and its writer thread; [`cluster`]:
//!   a node of a cluster (PostgreSQL and NATS) instead; [`backend`]: the
//!   one of them the event loop talks to.
//! - [`udp`] (+ `mmsg`, `reuseport`, `stun_threads`): the event loop of
//!   the registry's thread around its UDP socket, reading and writing
//!   datagrams in batches, and the STUN threads sharing its port.

pub mod args;
mod backend;
pub mod cluster;
pub mod config;
mod error;
mod handshakes;
mod load;
mod mmsg;
mod peers;
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
use tracing::{error, info, warn};

pub use args::{Limits, ServerArgs};
pub use config::{ConfigError, ServerConfig};

/// Datagrams the STUN threads may queue for the registry's thread.
const HANDOFF_QUEUE: usize = 1024;
pub use error::ServerError;
pub use registry::Registry;

use crate::metrics::{Board, MetricsServer};
use crate::{notify, telemetry};

/// Entry point of `peerd server`: resolves the settings, logs to stderr,
/// runs until Ctrl-C or SIGTERM. Exit code 2 for bad settings.
pub fn main(args: ServerArgs) -> ExitCode {
    let config = match ServerConfig::resolve(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("peerd server: {e}");
            return ExitCode::from(2);
        }
    };
    if args.print_key {
        return print_key(&config);
    }
    if let Some(format) = config.log_format {
        telemetry::choose_format(format);
    }
    telemetry::init_stderr();
    if let Some(path) = &config.config_file {
        info!("config file {}", path.display());
    }
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
        run(config, shutdown).await
    });
    match result {
        Ok(()) => {
            info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!("{e}");
            notify::status(&format!("failed: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// `peerd server --print-key`: the public key on stdout, its fingerprint
/// on stderr.
fn print_key(config: &ServerConfig) -> ExitCode {
    match load_identity(config) {
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
fn load_identity(config: &ServerConfig) -> Result<(Identity, bool), ServerError> {
    let path = &config.key_file;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        store::private_dir(dir)?;
    }
    let (secret, created) = SecretKey::load_or_create(path)?;
    // Created 0600; an older one readable by others is narrowed.
    match crate::private::narrow_file(path) {
        Ok(Some(mode)) => warn!(
            "the key file {} was readable by others (mode {mode:o}); now 0600",
            path.display()
        ),
        Ok(None) => {}
        Err(source) => {
            return Err(ServerError::FileMode {
                path: path.clone(),
                source,
            })
        }
    }
    Ok((Identity::new(secret), created))
}

/// Runs the server with `config` until `shutdown` completes; the database
/// is closed when this returns. Tells systemd (when it started the server)
/// `READY=1` once the port is bound and the key and registry loaded, pings its
/// watchdog from the registry's event loop, and says `STOPPING=1` when
/// `shutdown` completes.
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let (identity, created) = load_identity(&config)?;
    info!(
        "server key {} (fingerprint {}){}",
        identity.public,
        identity.public.fingerprint(),
        if created { ", new" } else { "" }
    );
    let (registry, backend, known, place) = match &config.cluster {
        None => {
            let path = config.db.clone();
            let (conn, loaded) = store::open(&path)?;
            let known = loaded.rows.len();
            let registry = Registry::new(
                identity,
                config.limits(),
                loaded.rows,
                loaded.reserved,
                Instant::now(),
            );
            let writer = store::Writer::start(conn, path.clone())?;
            let place = format!("registry {}", path.display());
            (registry, backend::Backend::Local(writer), known, place)
        }
        Some(c) => {
            let settings = cluster::Settings {
                db: c.db.clone(),
                bus: c.bus.clone(),
                node: c.node.clone(),
                server_key: identity.public,
            };
            let (engine, rows) = cluster::Engine::start(settings).await?;
            let known = rows.len();
            let bus_key = identity.secret.derive(cluster::wire::KEY_LABEL);
            let incarnation =
                u64::from_le_bytes(registry::random32()[..8].try_into().expect("8 bytes of 32"));
            let mut registry = Registry::new(identity, config.limits(), rows, 0, Instant::now());
            registry.join_cluster(cluster::Cluster::new(c.node.clone(), incarnation, bus_key));
            let place = format!(
                "cluster node {} (database {}, bus {})",
                c.node,
                cluster::db::redact(&c.db),
                cluster::db::redact(&c.bus)
            );
            (registry, backend::Backend::Cluster(engine), known, place)
        }
    };
    let (socket, stun_sockets) = udp::bind(config.listen, config.threads())?;
    let local = socket.local_addr().map_err(ServerError::Socket)?;
    let threads = 1 + stun_sockets.len();
    let board = config.metrics.map(|_| Board::new(threads));
    let metrics = match (config.metrics, &board) {
        (Some(addr), Some(board)) => Some(
            MetricsServer::start(addr, board.clone())
                .map_err(|source| ServerError::Metrics { addr, source })?,
        ),
        _ => None,
    };
    let (handoff, handed) = tokio::sync::mpsc::channel(HANDOFF_QUEUE);
    let stun =
        stun_threads::StunThreads::start(stun_sockets, config.limits(), handoff, board.as_ref())
            .map_err(ServerError::Socket)?;
    info!("{place}: {known} ids; keepalive {} s", config.keepalive);
    info!(
        "{threads} threads: 1 for the registry, {} for STUN",
        threads - 1
    );
    info!("listening on {local}");
    notify::ready(&format!(
        "listening on {local}; {known} ids in the registry"
    ));
    let shutdown = async {
        shutdown.await;
        notify::stopping("stopping");
    };
    let publisher = board.map(|b| b.publisher(0));
    let served = tokio::select! {
        served = udp::serve(socket, registry, backend, handed, publisher, shutdown) => served,
        () = notify::watchdog() => Ok(()),
    };
    stun.stop();
    if let Some(m) = metrics {
        m.stop();
    }
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

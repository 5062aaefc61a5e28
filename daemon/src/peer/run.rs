//! Start-up of the daemon: `peerd start`'s entry point, then the data dir,
//! identity, control socket, store and UDP socket, the cores and the actors
//! around them inside an actix `System`, which runs until the one shutdown
//! path ([`super::lifecycle`]) stops it.

use std::process::ExitCode;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use actix::prelude::*;
use peerd_shared::PeerId;

use super::args::{Config, StartArgs};
use super::control::{claim, ControlListener, DaemonInfo, Services, SocketFile};
use super::core::delivery::Delivery;
use super::core::registration::Registration;
use super::core::transport::Transport;
use super::error::PeerError;
use super::inbox::Inbox;
use super::lifecycle::{Lifecycle, Stop};
use super::metrics::PeerMetrics;
use super::outbox::Outbox;
use super::registry_link::{Caller, RegistryLink};
use super::retention::Retention;
use super::store::{Store, StoreHandle};
use super::{detach, identity, socket};
use crate::metrics::MetricsServer;

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
            if let Err(e) = crate::telemetry::init_rotating(path) {
                eprintln!("peerd start: cannot open log file {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            log_panics();
        }
        None => crate::telemetry::init_stderr(),
    }
    let to_file = config.log_file.is_some();
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            // Also on stderr in plain words, whatever the log filter says
            // (a log file has it already).
            if !to_file {
                eprintln!("peerd start: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

/// With a log file, a panic is logged there too (stderr is the file the
/// daemon was started with, which rotation leaves behind).
fn log_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("panic: {info}");
        default(info);
    }));
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

fn runtime(e: impl std::fmt::Display) -> PeerError {
    PeerError::Runtime(e.to_string())
}

/// What start-up prepares before the actors exist.
struct Prepared {
    listener: std::os::unix::net::UnixListener,
    socket_file: SocketFile,
    store: StoreHandle,
    udp: std::net::UdpSocket,
    sender: socket::Sender,
    registration: Registration<Caller>,
    delivery: Delivery,
    info: Arc<DaemonInfo>,
    data_dir: std::path::PathBuf,
    metrics: Option<PeerMetrics>,
    retention: super::args::Retention,
}

/// What the daemon holds until it exits.
struct Held {
    /// One daemon per data dir.
    _lock: super::lock::DataDirLock,
    store_thread: JoinHandle<()>,
}

/// The data dir and its lock, the control socket, the identity, store, UDP
/// socket and cores, in that order: nothing is written in a data dir that
/// another daemon holds.
fn prepare(config: &Config) -> Result<(Prepared, Held), PeerError> {
    identity::private_data_dir(&config.data_dir)?;
    let lock = super::lock::acquire(&config.data_dir, &config.socket)?;
    let (listener, socket_file) = claim(&config.socket)?;
    let loaded = identity::load_or_create(&config.data_dir)?;
    let store = Store::open(&config.data_dir)?;
    if loaded.created {
        // A new key is a new identity: an id stored by an earlier one
        // (a protocol v1 token) is not ours any more.
        store.set_meta("id", "")?;
    }
    let id = store
        .meta("id")?
        .and_then(|s| s.parse::<u64>().ok())
        .and_then(PeerId::new);
    store.set_meta("server", &config.server_text)?;
    let server_key = server_key(config)?;
    let pins = store.pinned_keys()?;
    let last_ts = store.last_timestamp()?;
    super::retention::sweep(&store, config.retention, super::alarm::now().unix_ms)?;
    let (store, store_thread) = StoreHandle::spawn(store).map_err(runtime)?;
    let udp = socket::bind(config.listen).map_err(|source| PeerError::Udp {
        addr: config.listen,
        source,
    })?;
    let sender = socket::Sender::new(&udp).map_err(runtime)?;
    let local_addr = udp.local_addr().map_err(runtime)?;
    // A random seed (first seq, session indices) keeps a restarted daemon
    // from colliding with the server's replay cache of its previous run.
    let transport = Transport::new(
        loaded.identity,
        (config.server, server_key),
        local_addr,
        id,
        pins,
        last_ts,
        random_u64(),
        Instant::now(),
    );
    let nonces = Box::new(random_u64);
    let prepared = Prepared {
        listener,
        socket_file,
        store,
        udp,
        sender,
        registration: Registration::new(transport, config.server_text.clone())
            .with_servers(config.servers.clone()),
        delivery: Delivery::new(id, config.relay, config.path_keepalive, nonces),
        info: Arc::new(DaemonInfo {
            server: config.server_text.clone(),
            local_addr,
            started: Instant::now(),
        }),
        data_dir: config.data_dir.clone(),
        metrics: None,
        retention: config.retention,
    };
    let held = Held {
        _lock: lock,
        store_thread,
    };
    Ok((prepared, held))
}

/// The server's key: given (and then pinned, replacing an older pin), or
/// pinned by an earlier run, or not known yet (learned on first contact).
fn server_key(config: &Config) -> Result<Option<peerd_shared::proto::PublicKey>, PeerError> {
    let pinned = identity::pinned_server_key(&config.data_dir)?;
    match (config.server_key, pinned) {
        (Some(given), Some(old)) if given != old => {
            tracing::warn!(
                old = %old.fingerprint(),
                new = %given.fingerprint(),
                "re-pinning the server's key (--server-key)"
            );
            identity::pin_server_key(&config.data_dir, &given).map_err(runtime)?;
            Ok(Some(given))
        }
        (Some(given), None) => {
            identity::pin_server_key(&config.data_dir, &given).map_err(runtime)?;
            Ok(Some(given))
        }
        (given, pinned) => Ok(given.or(pinned)),
    }
}

/// Starts the actors (inside the actix system) and the signal watch.
fn start(p: Prepared) -> Result<(), PeerError> {
    let udp = tokio::net::UdpSocket::from_std(p.udp).map_err(runtime)?;
    let listener = tokio::net::UnixListener::from_std(p.listener).map_err(runtime)?;
    tracing::info!(
        udp = %p.info.local_addr,
        socket = %p.socket_file.path().display(),
        server = %p.info.server,
        "peerd started"
    );
    let (outbox_ctx, inbox_ctx) = (Context::<Outbox>::new(), Context::<Inbox>::new());
    let (outbox_addr, inbox_addr) = (outbox_ctx.address(), inbox_ctx.address());
    let link = RegistryLink::new(
        p.registration,
        udp,
        p.sender,
        outbox_addr,
        inbox_addr,
        p.store.clone(),
        p.data_dir,
    );
    let link = link.start();
    let mut outbox = Outbox::new(p.delivery, link.clone(), p.store.clone());
    outbox.metrics = p.metrics;
    let outbox = outbox_ctx.run(outbox);
    let inbox = inbox_ctx.run(Inbox::new(p.store.clone(), link.clone()));
    let (lifecycle, stopping) = Lifecycle::new(link.clone(), outbox.clone(), inbox.clone());
    let lifecycle = lifecycle.start();
    Retention::new(p.store.clone(), p.retention).start();
    let services = Services {
        info: p.info,
        stopping,
        store: p.store,
        link,
        outbox,
        inbox,
        lifecycle: lifecycle.clone(),
    };
    ControlListener::new(listener, p.socket_file, services).start();
    // WATCHDOG=1 while the actors' runtime turns (when systemd asks).
    actix::spawn(crate::notify::watchdog());
    actix::spawn(async move {
        let why = wait_for_signal().await;
        lifecycle.do_send(Stop { why, answer: None });
    });
    Ok(())
}

/// Runs the daemon until it is told to stop.
pub fn run(config: Config) -> Result<(), PeerError> {
    let (mut prepared, held) = prepare(&config)?;
    // The endpoint is bound before the actors start, so a busy address is
    // an error at start-up; it serves until the daemon has stopped.
    let endpoint = match config.metrics {
        Some(addr) => {
            let metrics = PeerMetrics::new();
            let served = MetricsServer::serve(addr, Arc::new(metrics.clone()))
                .map_err(|e| PeerError::Config(format!("--metrics {addr}: {e}")))?;
            prepared.metrics = Some(metrics);
            Some(served)
        }
        None => None,
    };
    let sys = System::new();
    sys.block_on(async { start(prepared) })?;
    let ran = sys.run();
    if let Some(endpoint) = endpoint {
        endpoint.stop();
    }
    tracing::info!("stopped");
    // The actors are gone, and with them every handle of the store thread.
    let Held {
        _lock: lock,
        store_thread,
    } = held;
    let _ = store_thread.join();
    // The data dir's lock goes last, with everything written.
    drop(lock);
    ran.map_err(runtime)
}

/// The first of SIGTERM and SIGINT.
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

//! Start-up and shutdown of the daemon: prepare the data dir, identity,
//! control socket, store and UDP socket, start the actors inside an actix
//! `System`, wait for SIGINT/SIGTERM or `stop`, and clean up.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use actix::prelude::*;
use peerd_shared::PeerId;

use super::args::Config;
use super::commands::{begin_shutdown, finish_shutdown, Services};
use super::control::{claim, ControlListener};
use super::db::StoreHandle;
use super::error::PeerError;
use super::identity;
use super::inbox::Inbox;
use super::outbox::Outbox;
use super::registry_link::RegistryLink;
use super::shared::Shared;
use super::socket::Socket;
use super::store::Store;

/// Runs the daemon until it is told to stop.
pub fn run(config: Config) -> Result<(), PeerError> {
    identity::ensure_private_dir(&config.data_dir)?;
    let token = identity::load_or_create(&config.data_dir)?;
    let (listener, socket_file) = claim(&config.socket)?;
    let store = Store::open(&config.data_dir)?;
    let id = store
        .meta("id")?
        .and_then(|s| s.parse::<u64>().ok())
        .and_then(PeerId::new);
    store.set_meta("server", &config.server_text)?;
    let (db, store_thread) =
        StoreHandle::spawn(store).map_err(|e| PeerError::Runtime(e.to_string()))?;
    let udp = bind_udp(config.listen).map_err(|source| PeerError::Udp {
        addr: config.listen,
        source,
    })?;
    udp.set_nonblocking(true)
        .map_err(|e| PeerError::Runtime(e.to_string()))?;
    let sender = udp
        .try_clone()
        .map_err(|e| PeerError::Runtime(e.to_string()))?;

    let sys = System::new();
    let started = sys.block_on(async {
        let udp =
            tokio::net::UdpSocket::from_std(udp).map_err(|e| PeerError::Runtime(e.to_string()))?;
        let listener = tokio::net::UnixListener::from_std(listener)
            .map_err(|e| PeerError::Runtime(e.to_string()))?;
        let shared = Arc::new(
            Shared::new(
                Arc::new(udp),
                sender,
                token,
                config.server,
                config.server_text.clone(),
                id,
            )
            .map_err(|e| PeerError::Runtime(e.to_string()))?,
        );
        tracing::info!(
            udp = %shared.local_addr,
            socket = %socket_file.path().display(),
            server = %config.server_text,
            "peerd started"
        );
        let outbox_ctx = Context::<Outbox>::new();
        let link = RegistryLink::new(shared.clone(), db.clone(), outbox_ctx.address()).start();
        let outbox = outbox_ctx.run(Outbox::new(
            shared.clone(),
            db.clone(),
            link.clone(),
            config.relay,
        ));
        let inbox = Inbox::new(shared.clone(), db.clone(), link.clone()).start();
        Socket::new(shared.clone(), link.clone(), outbox.clone(), inbox.clone()).start();
        let services = Services {
            shared,
            store: db.clone(),
            link,
            outbox,
            inbox,
            stopping: Arc::new(AtomicBool::new(false)),
        };
        ControlListener::new(listener, services.clone()).start();
        let on_signal = services.clone();
        actix::spawn(async move {
            wait_for_signal().await;
            begin_shutdown(&on_signal).await;
            finish_shutdown();
        });
        Ok::<_, PeerError>(services)
    });
    let services = started?;
    drop(services);
    drop(db);
    let ran = sys.run();
    tracing::info!("stopped");
    drop(socket_file);
    let _ = store_thread.join();
    ran.map_err(|e| PeerError::Runtime(e.to_string()))
}

/// Socket buffers asked for (the kernel may cap them at `rmem_max`/`wmem_max`).
const UDP_BUFFER: usize = 4 << 20;

/// Binds the daemon's UDP socket with large buffers, so bursts of messages
/// and acknowledgements are not dropped by the kernel.
fn bind_udp(addr: std::net::SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(UDP_BUFFER) {
        tracing::debug!(error = %e, "cannot enlarge the UDP receive buffer");
    }
    if let Err(e) = socket.set_send_buffer_size(UDP_BUFFER) {
        tracing::debug!(error = %e, "cannot enlarge the UDP send buffer");
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = int.recv() => tracing::info!("SIGINT"),
    }
}

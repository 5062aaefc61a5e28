//! The cluster engine: a thread of its own, with its own tokio runtime,
//! that speaks to PostgreSQL and NATS for the registry's thread, the way
//! the SQLite writer thread does for a single server ([`crate::server::store`]).
//! The UDP loop never waits on either: it queues claims, timestamps and
//! bus messages (bounded queues; what does not fit fails at once or is
//! dropped, as the bus is at-most-once anyway) and receives
//! [`FromEngine`] events: answered claims, messages from other nodes, and
//! the bus connecting or being lost.
//!
//! - Database: one connection; everything queued is taken as one batch
//!   (claims in one transaction, then timestamps); a lost connection is
//!   made again at the next batch, and while it cannot be, claims are
//!   answered with nothing (the daemon then hears `internal`) and
//!   timestamps are dropped with a log line.
//! - Bus: one NATS connection that reconnects by itself, forever; two
//!   subscriptions, `peerd.CLUSTER.all` (heartbeats, announcements,
//!   snapshot requests) and `peerd.CLUSTER.node.NAME` (what is for this
//!   node), where CLUSTER is derived from the server's public key, so
//!   several clusters may share one NATS.
//!
//! This file holds the engine, its thread and the database side;
//! `engine/bus.rs` the bus side.

use std::thread::JoinHandle;
use std::time::Duration;

use peerd_shared::proto::PublicKey;
use peerd_shared::PeerId;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use super::core::Claimed;
use super::db::{self, redact, BATCH_TIMEOUT};
use super::node::BusOut;
use crate::server::error::ServerError;
use crate::server::peers::Row;

mod bus;

use bus::bus_task;

/// Items queued for the database, at most.
const DB_QUEUE: usize = 65_536;
/// Messages queued for the bus, at most.
const BUS_QUEUE: usize = 65_536;
/// Events queued for the registry's thread, at most.
const EVENT_QUEUE: usize = 65_536;
/// Items stored in one batch, at most.
const MAX_BATCH: usize = 8192;
/// Wait before connecting to the database again after a failure.
const DB_RETRY: Duration = Duration::from_millis(500);

/// How to reach the cluster.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `postgres://...` (or a `key=value` connection string).
    pub db: String,
    /// `nats://HOST:PORT` (user and password, or a token, in the URL).
    pub bus: String,
    /// This node's name.
    pub node: String,
    /// The server's public key: names the cluster's subjects.
    pub server_key: PublicKey,
}

/// For the database.
#[derive(Debug, Clone, Copy)]
pub enum DbItem {
    /// Give this key its id.
    Claim(PublicKey),
    /// Store a newer handshake timestamp.
    Timestamp(PeerId, u64),
}

/// For the registry's thread.
#[derive(Debug)]
pub enum FromEngine {
    /// Claims answered (`None`: not stored).
    Claimed(Vec<Claimed>),
    /// A message from another node.
    Bus(Vec<u8>),
    /// The bus connected (`true`) or was lost.
    BusState(bool),
}

/// The engine thread and the queues to and from it.
pub struct Engine {
    db: Option<mpsc::Sender<DbItem>>,
    bus: Option<mpsc::Sender<BusOut>>,
    /// What the engine reports.
    pub events: mpsc::Receiver<FromEngine>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The subject prefix of the cluster of `key`.
pub fn subjects(key: &PublicKey) -> String {
    let digest = peerd_shared::proto::crypto::hash(&[b"peerd cluster subject", &key.0]);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("peerd.{hex}")
}

impl Engine {
    /// Starts the thread: connects to the database (failing if it cannot),
    /// creates the table when missing, loads every id, and connects to the
    /// bus in the background. Returns the ids of record.
    pub async fn start(settings: Settings) -> Result<(Self, Vec<Row>), ServerError> {
        let (db_tx, db_rx) = mpsc::channel(DB_QUEUE);
        let (bus_tx, bus_rx) = mpsc::channel(BUS_QUEUE);
        let (ev_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (loaded_tx, loaded_rx) = oneshot::channel();
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("peerd-cluster".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = loaded_tx.send(Err(ServerError::Runtime(e)));
                        return;
                    }
                };
                runtime.block_on(run(settings, db_rx, bus_rx, ev_tx, loaded_tx, stopped));
            })
            .map_err(ServerError::Thread)?;
        let mut engine = Self {
            db: Some(db_tx),
            bus: Some(bus_tx),
            events,
            stop: Some(stop),
            thread: Some(thread),
        };
        match loaded_rx.await {
            Ok(Ok(rows)) => Ok((engine, rows)),
            Ok(Err(e)) => {
                engine.shut();
                Err(e)
            }
            Err(_) => {
                engine.shut();
                Err(ServerError::ClusterGone)
            }
        }
    }

    /// Queues an item for the database; false when the queue is full or
    /// the engine is gone.
    pub fn store(&self, item: DbItem) -> bool {
        self.db.as_ref().is_some_and(|tx| tx.try_send(item).is_ok())
    }

    /// Queues a message for the bus; false when it is dropped.
    pub fn publish(&self, out: BusOut) -> bool {
        self.bus.as_ref().is_some_and(|tx| tx.try_send(out).is_ok())
    }

    /// Stores what is queued, closes both connections, waits for the thread.
    pub fn close(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.db = None;
        self.bus = None;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                error!("the cluster engine thread panicked");
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shut();
    }
}

async fn run(
    settings: Settings,
    db_rx: mpsc::Receiver<DbItem>,
    bus_rx: mpsc::Receiver<BusOut>,
    events: mpsc::Sender<FromEngine>,
    loaded: oneshot::Sender<Result<Vec<Row>, ServerError>>,
    stopped: oneshot::Receiver<()>,
) {
    let url = redact(&settings.db);
    let first = async {
        let mut client = db::connect(&settings.db, &settings.node).await?;
        db::migrate(&mut client).await?;
        let rows = db::load(&client).await?;
        Ok::<_, db::DbError>((client, rows))
    };
    let client = match first.await {
        Ok((client, rows)) => {
            info!("cluster database {url}: {} ids", rows.len());
            let _ = loaded.send(Ok(rows));
            client
        }
        Err(e) => {
            let _ = loaded.send(Err(ServerError::ClusterDb {
                url,
                message: e.to_string(),
            }));
            return;
        }
    };
    let bus = tokio::spawn(bus_task(settings.clone(), bus_rx, events.clone()));
    let db = tokio::spawn(db_task(settings, client, db_rx, events));
    // The registry's thread closes the queues, then says stop.
    let _ = stopped.await;
    let _ = db.await;
    bus.abort();
    let _ = bus.await;
}

async fn db_task(
    settings: Settings,
    client: tokio_postgres::Client,
    mut rx: mpsc::Receiver<DbItem>,
    events: mpsc::Sender<FromEngine>,
) {
    let url = redact(&settings.db);
    let mut client = Some(client);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut failing = false;
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if client
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            client = match db::connect(&settings.db, &settings.node).await {
                Ok(c) => {
                    info!("cluster database {url}: connected again");
                    Some(c)
                }
                Err(e) => {
                    if !failing {
                        error!(
                            "cluster database {url}: cannot connect: {e}; new keys get `internal`"
                        );
                    }
                    failing = true;
                    None
                }
            };
        }
        let claims: Vec<PublicKey> = batch
            .iter()
            .filter_map(|i| match i {
                DbItem::Claim(k) => Some(*k),
                DbItem::Timestamp(..) => None,
            })
            .collect();
        let stamps: Vec<(PeerId, u64)> = batch
            .iter()
            .filter_map(|i| match *i {
                DbItem::Timestamp(id, ts) => Some((id, ts)),
                DbItem::Claim(_) => None,
            })
            .collect();
        batch.clear();
        let mut answered: Vec<Claimed> = claims.iter().map(|k| (*k, None)).collect();
        if let Some(c) = client.as_mut() {
            if !claims.is_empty() {
                match tokio::time::timeout(BATCH_TIMEOUT, db::claim(c, &claims)).await {
                    Ok(Ok(found)) => {
                        answered = found;
                        if failing {
                            info!("cluster database {url}: storing new ids again");
                        }
                        failing = false;
                    }
                    Ok(Err(e)) => {
                        error!(
                            "cluster database {url}: cannot store {} new ids: {e}",
                            claims.len()
                        );
                        failing = true;
                    }
                    Err(_) => {
                        error!(
                            "cluster database {url}: storing {} new ids timed out",
                            claims.len()
                        );
                        client = None;
                        failing = true;
                    }
                }
            }
        }
        if let Some(c) = client.as_ref() {
            if !stamps.is_empty() {
                match tokio::time::timeout(BATCH_TIMEOUT, db::timestamps(c, &stamps)).await {
                    Ok(Ok(())) => debug!(n = stamps.len(), "stored handshake timestamps"),
                    Ok(Err(e)) => warn!(
                        "cluster database {url}: {} timestamps not stored: {e}",
                        stamps.len()
                    ),
                    Err(_) => {
                        warn!("cluster database {url}: storing timestamps timed out");
                        client = None;
                    }
                }
            }
        } else if !stamps.is_empty() {
            debug!(n = stamps.len(), "timestamps not stored: no database");
        }
        if !answered.is_empty() && events.send(FromEngine::Claimed(answered)).await.is_err() {
            break;
        }
        if failing && client.is_none() {
            // Do not hammer a database that is down: the next batch waits
            // a little (its daemons retry their REGISTER anyway).
            tokio::time::sleep(DB_RETRY).await;
        }
    }
}

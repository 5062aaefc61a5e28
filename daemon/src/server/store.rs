//! The durable registry of ids: an SQLite database (WAL mode) holding
//! `keys(id, key, created, last_ts)`, loaded whole at start, and a writer
//! thread that stores new ids and newer handshake timestamps in batches.
//!
//! The UDP loop never touches the disk. New ids go to the writer through a
//! channel; the writer takes everything queued, writes it in one
//! transaction, commits (with `synchronous=FULL`, so an acknowledged id
//! survives `kill -9` and power loss), and reports back the new ids and
//! whether they were stored. Only then does the loop send REGISTERED.
//! Timestamps of known keys ride in the same batches; nothing waits for
//! them (a crash loses at most the last batch of them).
//!
//! The database, its `-wal` and `-shm` files are mode 0600, in a directory
//! created mode 0700 ([`crate::private`]).
//!
//! A database of protocol v1 (table `peers` of tokens) is kept as it is:
//! its ids stay reserved, so no key ever gets an id a token had.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use peerd_shared::proto::PublicKey;
use peerd_shared::PeerId;
use rusqlite::{params, Connection};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tracing::{debug, error};

use super::error::ServerError;
use super::peers::Row;
use super::reply_buffer::Persist;

/// Most ids stored in one transaction.
const MAX_BATCH: usize = 8192;

/// The outcome of one batch: its ids, and whether they are on disk.
#[derive(Debug)]
pub struct Stored {
    pub ids: Vec<PeerId>,
    pub ok: bool,
}

/// What the database held at start.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rows: Vec<Row>,
    /// The highest id a protocol v1 token had (0: none).
    pub reserved: u64,
}

/// Opens (creating if needed) the database at `path` and reads every id.
pub fn open(path: &Path) -> Result<(Connection, Loaded), ServerError> {
    let db_err = |source| ServerError::Database {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_dir(dir)?;
    }
    let narrowed = crate::private::sqlite_files(path).map_err(|source| ServerError::FileMode {
        path: path.to_path_buf(),
        source,
    })?;
    for (file, mode) in narrowed {
        tracing::warn!(
            "{} was readable by others (mode {mode:o}); now 0600",
            file.display()
        );
    }
    let conn = Connection::open(path).map_err(db_err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(db_err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(db_err)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS keys (
             id      INTEGER PRIMARY KEY,
             key     BLOB NOT NULL UNIQUE,
             created INTEGER NOT NULL,
             last_ts INTEGER NOT NULL DEFAULT 0
         );",
    )
    .map_err(db_err)?;
    let loaded = load(&conn).map_err(db_err)?;
    Ok((conn, loaded))
}

/// Creates `dir` (and its missing parents) mode 0700. An existing one
/// that others may read is left as it is, and the log says so: it may be
/// a shared directory such as /tmp given with --db, and the files the
/// server keeps in it are 0600 whatever it is.
pub fn private_dir(dir: &Path) -> Result<(), ServerError> {
    let existed = crate::private::create_dir(dir).map_err(|source| ServerError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    if let Some(mode) = existed.then(|| crate::private::loose_dir(dir)).flatten() {
        tracing::info!(
            "the directory {} is open to other users (mode {mode:o}); the server's files \
             in it are 0600 (`chmod 700` it to hide their names too)",
            dir.display()
        );
    }
    Ok(())
}

fn load(conn: &Connection) -> rusqlite::Result<Loaded> {
    let mut stmt = conn.prepare("SELECT id, key, last_ts FROM keys ORDER BY id")?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, Vec<u8>>(1)?,
            row.get::<_, i64>(2)?,
        ))
    })?;
    let mut loaded = Loaded::default();
    for row in rows {
        let (id, key, ts) = row?;
        let id = u64::try_from(id).ok().and_then(PeerId::new);
        let key = <[u8; 32]>::try_from(key.as_slice()).ok().map(PublicKey);
        match (id, key) {
            (Some(id), Some(key)) => loaded.rows.push((id, key, ts as u64)),
            _ => error!("registry database: skipping a malformed row"),
        }
    }
    let v1: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'peers'",
        [],
        |r| r.get(0),
    )?;
    if v1 {
        let top: i64 =
            conn.query_row("SELECT COALESCE(MAX(id), 0) FROM peers", [], |r| r.get(0))?;
        loaded.reserved = u64::try_from(top).unwrap_or(0);
    }
    Ok(loaded)
}

/// The writer thread and the channels to and from it.
pub struct Writer {
    to_writer: Option<mpsc::Sender<Persist>>,
    /// Batches stored (or not), for the UDP loop.
    pub stored: UnboundedReceiver<Stored>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on `conn` (from [`open`]).
    pub fn start(conn: Connection, path: PathBuf) -> Result<Self, ServerError> {
        let (to_writer, from_loop) = mpsc::channel();
        let (to_loop, stored) = unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("peerd-db-writer".into())
            .spawn(move || run(conn, &path, &from_loop, &to_loop))
            .map_err(ServerError::Thread)?;
        Ok(Self {
            to_writer: Some(to_writer),
            stored,
            thread: Some(thread),
        })
    }

    /// Queues a new id or a timestamp for storage.
    pub fn store(&self, item: Persist) -> Result<(), ServerError> {
        self.to_writer
            .as_ref()
            .and_then(|tx| tx.send(item).ok())
            .ok_or(ServerError::WriterGone)
    }

    /// Stores what is queued, closes the database and waits for the thread.
    pub fn close(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.to_writer = None;
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                error!("the database writer thread panicked");
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shut();
    }
}

fn run(
    mut conn: Connection,
    path: &Path,
    from_loop: &mpsc::Receiver<Persist>,
    to_loop: &UnboundedSender<Stored>,
) {
    let mut batch = Vec::new();
    while let Ok(first) = from_loop.recv() {
        batch.clear();
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match from_loop.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let ok = match insert(&mut conn, &batch) {
            Ok(()) => {
                debug!(n = batch.len(), "stored a batch of ids and timestamps");
                true
            }
            Err(e) => {
                error!(
                    "cannot store {} registrations in {}: {e}",
                    batch.len(),
                    path.display()
                );
                false
            }
        };
        let ids: Vec<PeerId> = batch
            .iter()
            .filter_map(|p| match p {
                Persist::New { id, .. } => Some(*id),
                Persist::Timestamp { .. } => None,
            })
            .collect();
        if !ids.is_empty() && to_loop.send(Stored { ids, ok }).is_err() {
            break;
        }
    }
    if let Err((_, e)) = conn.close() {
        error!("cannot close {}: {e}", path.display());
    }
}

fn insert(conn: &mut Connection, batch: &[Persist]) -> rusqlite::Result<()> {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let tx = conn.transaction()?;
    {
        let mut new = tx.prepare_cached(
            "INSERT INTO keys (id, key, created, last_ts) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut ts =
            tx.prepare_cached("UPDATE keys SET last_ts = MAX(last_ts, ?2) WHERE id = ?1")?;
        for item in batch {
            match *item {
                Persist::New { id, key, ts: t } => {
                    let id = i64::try_from(id.get()).unwrap_or(i64::MAX);
                    new.execute(params![id, &key.0[..], created, t as i64])?;
                }
                Persist::Timestamp { id, ts: t } => {
                    let id = i64::try_from(id.get()).unwrap_or(i64::MAX);
                    ts.execute(params![id, t as i64])?;
                }
            }
        }
    }
    tx.commit()
}

//! The durable registry of ids: an SQLite database (WAL mode) holding
//! `(id, token, created)`, loaded whole at start, and a writer thread that
//! stores new ids in batches.
//!
//! The UDP loop never touches the disk. New ids go to the writer through a
//! channel; the writer takes everything queued, inserts it in one
//! transaction, commits (with `synchronous=FULL`, so an acknowledged id
//! survives `kill -9` and power loss), and reports back the batch and
//! whether it was stored. Only then does the loop send REGISTER_ACK.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use peerd_shared::{PeerId, Token};
use rusqlite::{params, Connection};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tracing::{debug, error};

use super::error::ServerError;

/// Most ids stored in one transaction.
const MAX_BATCH: usize = 8192;

/// The outcome of one batch: its ids, and whether they are on disk.
#[derive(Debug)]
pub struct Stored {
    pub ids: Vec<PeerId>,
    pub ok: bool,
}

/// Opens (creating if needed) the database at `path` and reads every id.
pub fn open(path: &Path) -> Result<(Connection, Vec<(PeerId, Token)>), ServerError> {
    let db_err = |source| ServerError::Database {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ServerError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let conn = Connection::open(path).map_err(db_err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(db_err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(db_err)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS peers (
             id      INTEGER PRIMARY KEY,
             token   BLOB NOT NULL UNIQUE,
             created INTEGER NOT NULL
         );",
    )
    .map_err(db_err)?;
    let loaded = load(&conn).map_err(db_err)?;
    Ok((conn, loaded))
}

fn load(conn: &Connection) -> rusqlite::Result<Vec<(PeerId, Token)>> {
    let mut stmt = conn.prepare("SELECT id, token FROM peers ORDER BY id")?;
    let rows = stmt.query_map([], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, token) = row?;
        let id = u64::try_from(id).ok().and_then(PeerId::new);
        let token = <[u8; 16]>::try_from(token.as_slice()).ok().map(Token);
        match (id, token) {
            (Some(id), Some(token)) => out.push((id, token)),
            _ => error!("registry database: skipping a malformed row"),
        }
    }
    Ok(out)
}

/// The writer thread and the channels to and from it.
pub struct Writer {
    to_writer: Option<mpsc::Sender<(PeerId, Token)>>,
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

    /// Queues a new id for storage.
    pub fn store(&self, id: PeerId, token: Token) -> Result<(), ServerError> {
        self.to_writer
            .as_ref()
            .and_then(|tx| tx.send((id, token)).ok())
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
    from_loop: &mpsc::Receiver<(PeerId, Token)>,
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
                debug!(n = batch.len(), "stored new ids");
                true
            }
            Err(e) => {
                error!(
                    "cannot store {} new ids in {}: {e}",
                    batch.len(),
                    path.display()
                );
                false
            }
        };
        let ids = batch.iter().map(|(id, _)| *id).collect();
        if to_loop.send(Stored { ids, ok }).is_err() {
            break;
        }
    }
    if let Err((_, e)) = conn.close() {
        error!("cannot close {}: {e}", path.display());
    }
}

fn insert(conn: &mut Connection, batch: &[(PeerId, Token)]) -> rusqlite::Result<()> {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let tx = conn.transaction()?;
    {
        let mut stmt =
            tx.prepare_cached("INSERT INTO peers (id, token, created) VALUES (?1, ?2, ?3)")?;
        for (id, token) in batch {
            let id = i64::try_from(id.get()).unwrap_or(i64::MAX);
            stmt.execute(params![id, &token.0[..], created])?;
        }
    }
    tx.commit()
}

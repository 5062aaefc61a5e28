//! The daemon's embedded database (SQLite, like the server's) in
//! `<data dir>/peerd.sqlite3`: the inbox (one row per `(from, msg)`, and
//! the ids of the messages removed from it), the
//! outbox (one row per message this daemon sent, with its status), the
//! peers' pinned keys, and a small key/value `meta` table (own id, next
//! message id, server, last handshake timestamp).
//!
//! WAL with `synchronous=NORMAL`: a committed transaction survives the death
//! of the process at any moment. All calls are blocking; the daemon runs them
//! on the store thread ([`super::thread`]), which batches them into
//! transactions. This file opens the database and holds what both tables
//! share; [`super::outbox_rows`] and [`super::inbox_rows`] hold the rest.

use std::path::Path;

use peerd_shared::control::{MsgStatus, PathKind};
use peerd_shared::{MsgId, PeerId};
use rusqlite::{Connection, OptionalExtension};

/// File name of the database inside the data dir.
pub const DB_FILE: &str = "peerd.sqlite3";

/// A failure of the database.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(String),
    #[error("the store thread has stopped")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e.to_string())
    }
}

/// A queued message as the outbox resumes it after a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedRow {
    pub msg: MsgId,
    pub to: PeerId,
    pub text: String,
    pub created_ms: u64,
    pub expires_ms: u64,
}

/// Row counts for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub inbox: u64,
    pub queued: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// The open database.
pub struct Store {
    pub(super) conn: Connection,
    pub(super) next_msg: u64,
    /// The `next_msg` the `meta` table holds (written at each commit when
    /// it changed, not once per message).
    saved_next_msg: u64,
}
/// The inbox table (also what an older inbox is copied into).
const INBOX_TABLE: &str = "
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sender INTEGER NOT NULL,
    msg INTEGER NOT NULL,
    text TEXT NOT NULL,
    addr TEXT NOT NULL,
    path TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    UNIQUE (sender, msg)
);
";
/// Every other table and index (after [`INBOX_TABLE`]).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    msg INTEGER PRIMARY KEY,
    target INTEGER NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    path TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    delivered_ms INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_status ON outbox (status);
-- Messages removed from the inbox (deleted or pruned), kept by id alone
-- so that a retransmission of one is acknowledged and not stored again;
-- dropped once older than any sender may retransmit (the longest ttl).
CREATE TABLE IF NOT EXISTS inbox_gone (
    sender INTEGER NOT NULL,
    msg INTEGER NOT NULL,
    gone_ms INTEGER NOT NULL,
    PRIMARY KEY (sender, msg)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inbox_received ON inbox (received_ms);
CREATE TABLE IF NOT EXISTS peer_keys (
    peer INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    pinned_ms INTEGER NOT NULL
);
";

/// An inbox of an older version numbers its rows without AUTOINCREMENT, so
/// SQLite reuses the number of a removed newest row; followers and
/// listings rely on numbers that only grow. Such a table is copied once
/// into one with AUTOINCREMENT.
fn never_reuse_inbox_rows(conn: &Connection) -> rusqlite::Result<()> {
    let sql: String = conn.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'inbox'",
        [],
        |r| r.get(0),
    )?;
    if sql.contains("AUTOINCREMENT") {
        return Ok(());
    }
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         ALTER TABLE inbox RENAME TO inbox_old;
         {INBOX_TABLE}
         INSERT INTO inbox SELECT seq, sender, msg, text, addr, path, sent_ms, received_ms
             FROM inbox_old;
         DROP TABLE inbox_old;
         CREATE INDEX IF NOT EXISTS inbox_received ON inbox (received_ms);
         COMMIT;"
    ))
}

pub(super) fn path_text(p: PathKind) -> &'static str {
    match p {
        PathKind::Direct => "direct",
        PathKind::Relayed => "relayed",
    }
}

pub(super) fn parse_path(s: &str) -> PathKind {
    if s == "relayed" {
        PathKind::Relayed
    } else {
        PathKind::Direct
    }
}

pub(super) fn parse_status(s: &str) -> MsgStatus {
    match s {
        "delivered" => MsgStatus::Delivered,
        "failed" => MsgStatus::Failed,
        _ => MsgStatus::Queued,
    }
}

/// SQLite integers are signed; ids and times are stored bit for bit.
pub(super) fn to_sql(n: u64) -> i64 {
    n as i64
}

pub(super) fn from_sql(n: i64) -> u64 {
    n as u64
}

pub(super) fn peer(n: i64) -> rusqlite::Result<PeerId> {
    PeerId::new(from_sql(n)).ok_or_else(|| rusqlite::Error::IntegralValueOutOfRange(0, n))
}

impl Store {
    /// Opens (creating) the database in `data_dir`: it and its `-wal` and
    /// `-shm` files are mode 0600 (narrowed, with a warning, when an older
    /// run left them looser).
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(DB_FILE);
        let narrowed = crate::private::sqlite_files(&path)
            .map_err(|e| StoreError::Sqlite(format!("{}: {e}", path.display())))?;
        for (file, mode) in narrowed {
            tracing::warn!(
                "{} was readable by others (mode {mode:o}); now 0600",
                file.display()
            );
        }
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Sorting and grouping stay in memory: a read such as `status` must
        // keep working when the disk is full.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(INBOX_TABLE)?;
        conn.execute_batch(SCHEMA)?;
        never_reuse_inbox_rows(&conn)?;
        let mut store = Self {
            conn,
            next_msg: 1,
            saved_next_msg: 0,
        };
        let max: i64 =
            store
                .conn
                .query_row("SELECT COALESCE(MAX(msg), 0) FROM outbox", [], |r| r.get(0))?;
        let kept = store
            .meta("next_msg")?
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(1);
        store.next_msg = kept.max(from_sql(max) + 1);
        store.saved_next_msg = kept;
        Ok(store)
    }

    /// Starts a write transaction (the store thread batches calls into it).
    pub fn begin(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// Commits the current transaction, with the next message id if it
    /// moved (so ids are never given twice, even when rows are deleted).
    pub fn commit(&mut self) -> Result<(), StoreError> {
        let moved = self.next_msg != self.saved_next_msg;
        if moved {
            self.set_meta("next_msg", &self.next_msg.to_string())?;
        }
        self.conn.execute_batch("COMMIT")?;
        if moved {
            self.saved_next_msg = self.next_msg;
        }
        Ok(())
    }

    /// Rolls back the current transaction, if any.
    pub fn rollback(&self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a value of the `meta` table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute([key, value])?;
        Ok(())
    }

    /// Row counts for `status`.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let inbox: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM inbox", [], |r| r.get(0))?;
        let mut c = Counts {
            inbox: from_sql(inbox),
            ..Counts::default()
        };
        let mut stmt = self
            .conn
            .prepare("SELECT status, COUNT(*) FROM outbox GROUP BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (status, n) = row?;
            match parse_status(&status) {
                MsgStatus::Queued => c.queued = from_sql(n),
                MsgStatus::Delivered => c.delivered = from_sql(n),
                MsgStatus::Failed => c.failed = from_sql(n),
            }
        }
        Ok(c)
    }
}

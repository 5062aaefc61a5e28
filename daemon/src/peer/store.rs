//! The daemon's embedded database (SQLite, like the server's) in
//! `<data dir>/peerd.sqlite3`: the inbox (one row per `(from, msg)`), the
//! outbox (one row per message this daemon sent, with its status) and a small
//! key/value `meta` table (own id, next message id, server).
//!
//! WAL with `synchronous=NORMAL`: a committed transaction survives the death
//! of the process at any moment. All calls are blocking; the daemon runs them
//! on the store thread ([`super::db`]), which batches them into transactions.

use std::path::Path;

use peerd_shared::control::{InboxEntry, MsgStatus, OutboxEntry, PathKind};
use peerd_shared::{MsgId, PeerId};
use rusqlite::{params, Connection, OptionalExtension};

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
    conn: Connection,
    next_msg: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY,
    sender INTEGER NOT NULL,
    msg INTEGER NOT NULL,
    text TEXT NOT NULL,
    addr TEXT NOT NULL,
    path TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    UNIQUE (sender, msg)
);
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
";

fn path_text(p: PathKind) -> &'static str {
    match p {
        PathKind::Direct => "direct",
        PathKind::Relayed => "relayed",
    }
}

fn parse_path(s: &str) -> PathKind {
    if s == "relayed" {
        PathKind::Relayed
    } else {
        PathKind::Direct
    }
}

fn parse_status(s: &str) -> MsgStatus {
    match s {
        "delivered" => MsgStatus::Delivered,
        "failed" => MsgStatus::Failed,
        _ => MsgStatus::Queued,
    }
}

/// SQLite integers are signed; ids and times are stored bit for bit.
fn to_sql(n: u64) -> i64 {
    n as i64
}

fn from_sql(n: i64) -> u64 {
    n as u64
}

fn peer(n: i64) -> rusqlite::Result<PeerId> {
    PeerId::new(from_sql(n)).ok_or_else(|| rusqlite::Error::IntegralValueOutOfRange(0, n))
}

impl Store {
    /// Opens (creating) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Sorting and grouping stay in memory: a read such as `status` must
        // keep working when the disk is full.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let mut store = Self { conn, next_msg: 1 };
        let max: i64 =
            store
                .conn
                .query_row("SELECT COALESCE(MAX(msg), 0) FROM outbox", [], |r| r.get(0))?;
        let kept = store
            .meta("next_msg")?
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(1);
        store.next_msg = kept.max(from_sql(max) + 1);
        Ok(store)
    }

    /// Starts a write transaction (the store thread batches calls into it).
    pub fn begin(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// Commits the current transaction.
    pub fn commit(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
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
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Stores a new queued message and gives it the next message id.
    pub fn queue(
        &mut self,
        to: PeerId,
        text: &str,
        created_ms: u64,
        expires_ms: u64,
        last_error: Option<&str>,
    ) -> Result<MsgId, StoreError> {
        let msg = self.next_msg;
        self.conn
            .prepare_cached(
                "INSERT INTO outbox (msg, target, text, status, created_ms, expires_ms, last_error)
                 VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6)",
            )?
            .execute(params![
                to_sql(msg),
                to_sql(to.get()),
                text,
                to_sql(created_ms),
                to_sql(expires_ms),
                last_error
            ])?;
        self.next_msg += 1;
        self.set_meta("next_msg", &self.next_msg.to_string())?;
        Ok(MsgId(msg))
    }

    /// Marks a message delivered.
    pub fn delivered(
        &self,
        msg: MsgId,
        path: PathKind,
        delivered_ms: u64,
        attempts: u32,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET status = 'delivered', path = ?2, delivered_ms = ?3,
                 attempts = ?4, last_error = NULL WHERE msg = ?1",
            )?
            .execute(params![
                to_sql(msg.0),
                path_text(path),
                to_sql(delivered_ms),
                attempts
            ])?;
        Ok(())
    }

    /// Marks a message failed with the reason.
    pub fn failed(&self, msg: MsgId, error: &str, attempts: u32) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET status = 'failed', last_error = ?2, attempts = ?3 WHERE msg = ?1",
            )?
            .execute(params![to_sql(msg.0), error, attempts])?;
        Ok(())
    }

    /// Records the latest problem of a still queued message.
    pub fn note(&self, msg: MsgId, error: &str, attempts: u32) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE outbox SET last_error = ?2, attempts = ?3 WHERE msg = ?1")?
            .execute(params![to_sql(msg.0), error, attempts])?;
        Ok(())
    }

    /// Every queued message, oldest first (the outbox resumes them).
    pub fn queued(&self) -> Result<Vec<QueuedRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT msg, target, text, created_ms, expires_ms FROM outbox
             WHERE status = 'queued' ORDER BY msg",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(QueuedRow {
                msg: MsgId(from_sql(r.get(0)?)),
                to: peer(r.get(1)?)?,
                text: r.get(2)?,
                created_ms: from_sql(r.get(3)?),
                expires_ms: from_sql(r.get(4)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest `limit` outbox entries, oldest first.
    pub fn outbox(&self, limit: Option<u32>) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT msg, target, text, status, path, attempts, created_ms, expires_ms,
                    delivered_ms, last_error
             FROM (SELECT * FROM outbox ORDER BY msg DESC LIMIT ?1) ORDER BY msg",
        )?;
        let limit = limit.map_or(-1, i64::from);
        let rows = stmt.query_map([limit], |r| {
            Ok(OutboxEntry {
                msg: MsgId(from_sql(r.get(0)?)),
                to: peer(r.get(1)?)?,
                text: r.get(2)?,
                status: parse_status(&r.get::<_, String>(3)?),
                path: r.get::<_, Option<String>>(4)?.as_deref().map(parse_path),
                attempts: r.get(5)?,
                created_ms: from_sql(r.get(6)?),
                expires_ms: from_sql(r.get(7)?),
                delivered_ms: r.get::<_, Option<i64>>(8)?.map(from_sql),
                last_error: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores a received message once per `(from, msg)`: its row number, or
    /// `None` when it was already stored.
    pub fn receive(&self, e: &InboxEntry) -> Result<Option<i64>, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO inbox (sender, msg, text, addr, path, sent_ms, received_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                to_sql(e.from.get()),
                to_sql(e.msg.0),
                e.text,
                e.addr,
                path_text(e.path),
                to_sql(e.sent_ms),
                to_sql(e.received_ms)
            ])?;
        Ok((n == 1).then(|| self.conn.last_insert_rowid()))
    }

    /// The newest `limit` received messages (from one sender if asked),
    /// oldest first, with their row numbers, each sender's messages in
    /// `msg` order ([`order_per_sender`]).
    pub fn inbox(
        &self,
        from: Option<PeerId>,
        limit: Option<u32>,
    ) -> Result<Vec<(i64, InboxEntry)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, sender, msg, text, addr, path, sent_ms, received_ms
             FROM (SELECT * FROM inbox WHERE ?1 IS NULL OR sender = ?1
                   ORDER BY seq DESC LIMIT ?2)
             ORDER BY seq",
        )?;
        let from = from.map(|p| to_sql(p.get()));
        let limit = limit.map_or(-1, i64::from);
        let rows = stmt.query_map(params![from, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                InboxEntry {
                    from: peer(r.get(1)?)?,
                    msg: MsgId(from_sql(r.get(2)?)),
                    text: r.get(3)?,
                    addr: r.get(4)?,
                    path: parse_path(&r.get::<_, String>(5)?),
                    sent_ms: from_sql(r.get(6)?),
                    received_ms: from_sql(r.get(7)?),
                },
            ))
        })?;
        let mut rows: Vec<(i64, InboxEntry)> = rows.collect::<Result<_, _>>()?;
        order_per_sender(&mut rows);
        Ok(rows)
    }

    /// The row number of the newest received message (0 when none).
    pub fn last_inbox_row(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM inbox", [], |r| r.get(0))?)
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

/// Puts each sender's messages in `msg` order while keeping the
/// interleaving of senders: the positions sender X's messages hold in
/// arrival order are filled with X's messages sorted by `msg`. Storage
/// stays in arrival order (a message is stored before it is acknowledged,
/// whatever arrived before it); only the listing is reordered, so a
/// retransmission that overtook a later message is listed in its place.
pub fn order_per_sender(rows: &mut [(i64, InboxEntry)]) {
    let mut by_sender: std::collections::HashMap<PeerId, Vec<usize>> =
        std::collections::HashMap::new();
    for (i, (_, e)) in rows.iter().enumerate() {
        by_sender.entry(e.from).or_default().push(i);
    }
    for positions in by_sender.values() {
        let mut own: Vec<(i64, InboxEntry)> = positions.iter().map(|&i| rows[i].clone()).collect();
        own.sort_by_key(|(_, e)| e.msg.0);
        for (&i, row) in positions.iter().zip(own) {
            rows[i] = row;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(from: u64, msg: u64) -> InboxEntry {
        InboxEntry {
            from: PeerId::new(from).unwrap(),
            msg: MsgId(msg),
            text: format!("m{msg}"),
            addr: "127.0.0.1:9".into(),
            path: PathKind::Direct,
            sent_ms: 1,
            received_ms: 2,
        }
    }

    #[test]
    fn inbox_dedups_and_lists_newest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.receive(&entry(1, 1)).unwrap().is_some());
        assert!(store.receive(&entry(1, 1)).unwrap().is_none());
        assert!(store.receive(&entry(2, 1)).unwrap().is_some());
        assert!(store.receive(&entry(1, u64::MAX)).unwrap().is_some());
        let all = store.inbox(None, None).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].1.msg, MsgId(u64::MAX));
        let last = store.inbox(PeerId::new(1), Some(1)).unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].1.msg, MsgId(u64::MAX));
        assert_eq!(store.counts().unwrap().inbox, 3);
    }

    #[test]
    fn listing_orders_each_sender_by_msg_keeping_the_interleaving() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for (from, msg) in [(1, 2), (2, 7), (1, 1), (1, 3), (2, 5)] {
            assert!(store.receive(&entry(from, msg)).unwrap().is_some());
        }
        let got: Vec<(u64, u64)> = store
            .inbox(None, None)
            .unwrap()
            .into_iter()
            .map(|(_, e)| (e.from.get(), e.msg.0))
            .collect();
        assert_eq!(got, [(1, 1), (2, 5), (1, 2), (1, 3), (2, 7)]);
        let one: Vec<u64> = store
            .inbox(PeerId::new(1), None)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.msg.0)
            .collect();
        assert_eq!(one, [1, 2, 3]);
    }

    #[test]
    fn outbox_ids_survive_reopen_and_statuses_count() {
        let dir = tempfile::tempdir().unwrap();
        let to = PeerId::new(2).unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let a = store.queue(to, "a", 1, 100, None).unwrap();
        let b = store.queue(to, "b", 1, 100, None).unwrap();
        assert_ne!(a, b);
        store.delivered(a, PathKind::Relayed, 5, 2).unwrap();
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        let c = store.queue(to, "c", 1, 100, Some("x")).unwrap();
        assert!(c.0 > b.0);
        store.failed(c, "expired", 3).unwrap();
        let queued = store.queued().unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].msg, b);
        let c2 = store.counts().unwrap();
        assert_eq!((c2.queued, c2.delivered, c2.failed), (1, 1, 1));
        let out = store.outbox(Some(2)).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].last_error.as_deref(), Some("expired"));
        assert_eq!(store.outbox(None).unwrap()[0].path, Some(PathKind::Relayed));
    }
}

//! The outbox table: messages this daemon queued, their status changes,
//! the listings of `outbox` and of the messages to resume, and removal.

use peerd_shared::control::{OutboxEntry, PathKind};
use peerd_shared::{MsgId, PeerId};
use rusqlite::params;

use super::database::{from_sql, parse_path, parse_status, path_text, peer, to_sql};
use super::{QueuedRow, Store, StoreError};

impl Store {
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

    /// Removes these messages, whatever their status; how many were stored.
    /// (The outbox stops sending a queued one first.)
    pub fn delete_outbox(&self, msgs: &[MsgId]) -> Result<u64, StoreError> {
        let mut delete = self
            .conn
            .prepare_cached("DELETE FROM outbox WHERE msg = ?1")?;
        let mut deleted = 0;
        for msg in msgs {
            deleted += delete.execute(params![to_sql(msg.0)])? as u64;
        }
        Ok(deleted)
    }

    /// Removes the delivered and failed messages created before
    /// `before_ms` (queued ones stay until their ttl); how many.
    pub fn prune_outbox(&self, before_ms: u64) -> Result<u64, StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM outbox WHERE status != 'queued' AND created_ms < ?1")?
            .execute(params![to_sql(before_ms)])?;
        Ok(n as u64)
    }

    /// The newest `limit` outbox entries (created at or after `since_ms`,
    /// if asked), oldest first.
    pub fn outbox(
        &self,
        limit: Option<u32>,
        since_ms: Option<u64>,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT msg, target, text, status, path, attempts, created_ms, expires_ms,
                    delivered_ms, last_error
             FROM (SELECT * FROM outbox WHERE ?2 IS NULL OR created_ms >= ?2
                   ORDER BY msg DESC LIMIT ?1)
             ORDER BY msg",
        )?;
        let limit = limit.map_or(-1, i64::from);
        let since = since_ms.map(to_sql);
        let rows = stmt.query_map(params![limit, since], |r| {
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
}

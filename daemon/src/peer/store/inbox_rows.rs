//! The inbox table: received messages, stored once per `(from, msg)`,
//! their listing in per-sender order, and their removal. A removed
//! message leaves its id in `inbox_gone`, so a late retransmission of it
//! is acknowledged but not stored again (exactly once holds across a
//! delete); those ids are forgotten after the longest ttl a sender may use
//! ([`peerd_shared::control::MAX_TTL_SECS`]).

use peerd_shared::control::history::MessageRef;
use peerd_shared::control::InboxEntry;
use peerd_shared::{MsgId, PeerId};
use rusqlite::params;

use super::database::{from_sql, parse_path, path_text, peer, to_sql};
use super::{Store, StoreError};

impl Store {
    /// Stores a received message once per `(from, msg)`: its row number, or
    /// `None` when it was already stored (or stored and then removed).
    pub fn receive(&self, e: &InboxEntry) -> Result<Option<i64>, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO inbox (sender, msg, text, addr, path, sent_ms, received_ms)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
                 WHERE NOT EXISTS (SELECT 1 FROM inbox_gone WHERE sender = ?1 AND msg = ?2)",
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

    /// The newest `limit` received messages (from one sender, received at
    /// or after `since_ms`, if asked), oldest first, with their row
    /// numbers, each sender's messages in `msg` order ([`order_per_sender`]).
    pub fn inbox(
        &self,
        from: Option<PeerId>,
        limit: Option<u32>,
        since_ms: Option<u64>,
    ) -> Result<Vec<(i64, InboxEntry)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, sender, msg, text, addr, path, sent_ms, received_ms
             FROM (SELECT * FROM inbox
                   WHERE (?1 IS NULL OR sender = ?1) AND (?3 IS NULL OR received_ms >= ?3)
                   ORDER BY seq DESC LIMIT ?2)
             ORDER BY seq",
        )?;
        let from = from.map(|p| to_sql(p.get()));
        let limit = limit.map_or(-1, i64::from);
        let since = since_ms.map(to_sql);
        let rows = stmt.query_map(params![from, limit, since], |r| {
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

    /// Removes these received messages (their ids stay, see
    /// [`Store::forget_gone`]); how many were stored.
    pub fn delete_inbox(&self, messages: &[MessageRef], now_ms: u64) -> Result<u64, StoreError> {
        let mut gone = self.conn.prepare_cached(
            "INSERT OR REPLACE INTO inbox_gone (sender, msg, gone_ms)
             SELECT sender, msg, ?3 FROM inbox WHERE sender = ?1 AND msg = ?2",
        )?;
        let mut delete = self
            .conn
            .prepare_cached("DELETE FROM inbox WHERE sender = ?1 AND msg = ?2")?;
        let mut deleted = 0;
        for m in messages {
            let (from, msg) = (to_sql(m.from.get()), to_sql(m.msg.0));
            gone.execute(params![from, msg, to_sql(now_ms)])?;
            deleted += delete.execute(params![from, msg])? as u64;
        }
        Ok(deleted)
    }

    /// Removes the messages received before `before_ms` (their ids stay);
    /// how many.
    pub fn prune_inbox(&self, before_ms: u64, now_ms: u64) -> Result<u64, StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO inbox_gone (sender, msg, gone_ms)
                 SELECT sender, msg, ?2 FROM inbox WHERE received_ms < ?1",
            )?
            .execute(params![to_sql(before_ms), to_sql(now_ms)])?;
        let n = self
            .conn
            .prepare_cached("DELETE FROM inbox WHERE received_ms < ?1")?
            .execute(params![to_sql(before_ms)])?;
        Ok(n as u64)
    }

    /// Forgets the ids of messages removed before `before_ms`: no sender
    /// retransmits them any more.
    pub fn forget_gone(&self, before_ms: u64) -> Result<u64, StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM inbox_gone WHERE gone_ms < ?1")?
            .execute(params![to_sql(before_ms)])?;
        Ok(n as u64)
    }

    /// The row number of the newest received message (0 when none).
    pub fn last_inbox_row(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM inbox", [], |r| r.get(0))?)
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

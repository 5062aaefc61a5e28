//! The inbox table: received messages, stored once per `(from, msg)`, and
//! their listing in per-sender order.

use peerd_shared::control::InboxEntry;
use peerd_shared::{MsgId, PeerId};
use rusqlite::params;

use super::database::{from_sql, parse_path, path_text, peer, to_sql};
use super::{Store, StoreError};

impl Store {
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

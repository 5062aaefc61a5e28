//! The keys the daemon pinned: each peer's, as the server first gave it
//! (docs/protocol.md 8), replaced only when the user trusts a new one; and
//! the last handshake timestamp sent, kept across restarts so timestamps
//! never go back (docs/protocol.md 1.1).

use peerd_shared::proto::PublicKey;
use peerd_shared::PeerId;
use rusqlite::params;

use super::database::{peer, to_sql, Store, StoreError};

/// `meta` key of the last handshake timestamp.
const LAST_TS: &str = "last_handshake_ts";

impl Store {
    /// Pins `key` for `peer` (replacing a pin the user replaced).
    pub fn pin_key(&self, peer: PeerId, key: &PublicKey, at_ms: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO peer_keys (peer, key, pinned_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (peer) DO UPDATE SET key = excluded.key, pinned_ms = excluded.pinned_ms",
            )?
            .execute(params![to_sql(peer.get()), &key.0[..], to_sql(at_ms)])?;
        Ok(())
    }

    /// Every pinned key.
    pub fn pinned_keys(&self) -> Result<Vec<(PeerId, PublicKey)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT peer, key FROM peer_keys ORDER BY peer")?;
        let rows = stmt.query_map([], |r| {
            let key: Vec<u8> = r.get(1)?;
            Ok((peer(r.get(0)?)?, key))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (p, key) = row?;
            match <[u8; 32]>::try_from(key.as_slice()) {
                Ok(k) => out.push((p, PublicKey(k))),
                Err(_) => tracing::error!(peer = %p, "skipping a malformed pinned key"),
            }
        }
        Ok(out)
    }

    /// The last handshake timestamp sent by an earlier run (0: none).
    pub fn last_timestamp(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta(LAST_TS)?
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0))
    }

    /// Keeps the last handshake timestamp sent (never lowering it).
    pub fn set_last_timestamp(&self, ts: u64) -> Result<(), StoreError> {
        if ts > self.last_timestamp()? {
            self.set_meta(LAST_TS, &ts.to_string())?;
        }
        Ok(())
    }
}

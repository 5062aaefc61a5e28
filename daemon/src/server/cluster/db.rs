//! The cluster database (PostgreSQL): the ids of record. One table,
//! `peerd_keys(id BIGSERIAL PRIMARY KEY, key BYTEA UNIQUE, created,
//! last_ts)`: a new key gets the next value of the id sequence, the unique
//! key column makes two nodes claiming the same new key at once agree on
//! one id, and an id is answered only once its transaction committed.
//!
//! A batch of claims is one transaction: `INSERT ... ON CONFLICT (key) DO
//! NOTHING` for all of them (sorted, so two batches never wait for each
//! other in a cycle), then a `SELECT` of every key of the batch, which in
//! READ COMMITTED sees rows another node committed while the insert waited.
//! A sequence value drawn for a key that turned out to exist is skipped:
//! ids may have gaps; they are never reused.

use std::time::Duration;

use peerd_shared::proto::PublicKey;
use peerd_shared::PeerId;
use tokio_postgres::{Client, NoTls};
use tracing::{debug, error, warn};

use super::core::Claimed;
use crate::server::peers::Row;

/// How long connecting may take when the URL does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one batch may take before it counts as failed.
pub const BATCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Tries of a batch that hit a deadlock or a serialization failure.
const TRIES: u32 = 3;
/// The advisory lock that serialises the schema set-up of nodes starting
/// together.
const SCHEMA_LOCK: i64 = 0x7065_6572_6431; // "peerd1"

/// Why the cluster database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{}", chain(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Url(String),
}

/// An error with its causes: "error connecting to server: Connection
/// refused (os error 111)".
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The URL without its password, for logs and errors.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let auth_end = rest.find('/').unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) if rest[..at].contains(':') => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end], &rest[at..])
        }
        _ => url.to_owned(),
    }
}

/// Connects to `url` (a `postgres://` URL or a `key=value` string); the
/// connection is driven by a task of the current runtime, which ends when
/// the connection does.
pub async fn connect(url: &str, node: &str) -> Result<Client, DbError> {
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e| DbError::Url(format!("{e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name(format!("peerd server {node}"));
    }
    let connecting = config.connect(NoTls);
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT * 2, connecting)
        .await
        .map_err(|_| DbError::Timeout(CONNECT_TIMEOUT * 2))??;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            warn!("cluster database connection lost: {e}");
        }
    });
    Ok(client)
}

/// Creates the table when missing (nodes starting together take turns).
pub async fn migrate(client: &mut Client) -> Result<(), DbError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS peerd_keys (
             id      BIGSERIAL PRIMARY KEY,
             key     BYTEA NOT NULL UNIQUE CHECK (length(key) = 32),
             created TIMESTAMPTZ NOT NULL DEFAULT now(),
             last_ts BIGINT NOT NULL DEFAULT 0
         )",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every id of record, with its key and newest handshake timestamp.
pub async fn load(client: &Client) -> Result<Vec<Row>, DbError> {
    let rows = client
        .query("SELECT id, key, last_ts FROM peerd_keys ORDER BY id", &[])
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.get(0);
        let key: &[u8] = row.get(1);
        let ts: i64 = row.get(2);
        let id = u64::try_from(id).ok().and_then(PeerId::new);
        let key = <[u8; 32]>::try_from(key).ok().map(PublicKey);
        match (id, key) {
            (Some(id), Some(key)) => out.push((id, key, u64::try_from(ts).unwrap_or(0))),
            _ => error!("cluster database: skipping a malformed row"),
        }
    }
    Ok(out)
}

/// Gives each of `keys` its id (the one it has, or a new one), in one
/// committed transaction. Every key is answered: with its id and
/// timestamp, or with nothing when the database did not give one.
pub async fn claim(client: &mut Client, keys: &[PublicKey]) -> Result<Vec<Claimed>, DbError> {
    let mut sorted: Vec<PublicKey> = keys.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut tries = 0;
    loop {
        tries += 1;
        match claim_once(client, &sorted).await {
            Ok(found) => {
                return Ok(sorted
                    .iter()
                    .map(|k| (*k, found.iter().find(|(f, _)| f == k).map(|(_, v)| *v)))
                    .collect())
            }
            Err(e) if tries < TRIES && retryable(&e) => {
                debug!("claiming {} ids: {e}; again", sorted.len());
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    })
}

async fn claim_once(
    client: &mut Client,
    sorted: &[PublicKey],
) -> Result<Vec<(PublicKey, (PeerId, u64))>, tokio_postgres::Error> {
    let bytes: Vec<&[u8]> = sorted.iter().map(|k| &k.0[..]).collect();
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO peerd_keys (key)
         SELECT k FROM unnest($1::bytea[]) WITH ORDINALITY AS t(k, n) ORDER BY n
         ON CONFLICT (key) DO NOTHING",
        &[&bytes],
    )
    .await?;
    let rows = tx
        .query(
            "SELECT id, key, last_ts FROM peerd_keys WHERE key = ANY($1::bytea[])",
            &[&bytes],
        )
        .await?;
    tx.commit().await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.get(0);
        let key: &[u8] = row.get(1);
        let ts: i64 = row.get(2);
        if let (Some(id), Ok(key)) = (
            u64::try_from(id).ok().and_then(PeerId::new),
            <[u8; 32]>::try_from(key),
        ) {
            found.push((PublicKey(key), (id, u64::try_from(ts).unwrap_or(0))));
        }
    }
    Ok(found)
}

/// Stores newer handshake timestamps (nothing waits for them).
pub async fn timestamps(client: &Client, items: &[(PeerId, u64)]) -> Result<(), DbError> {
    let mut newest: std::collections::HashMap<PeerId, u64> = std::collections::HashMap::new();
    for &(id, ts) in items {
        let e = newest.entry(id).or_default();
        *e = (*e).max(ts);
    }
    let ids: Vec<i64> = newest
        .keys()
        .map(|id| i64::try_from(id.get()).unwrap_or(i64::MAX))
        .collect();
    let tss: Vec<i64> = newest
        .values()
        .map(|ts| i64::try_from(*ts).unwrap_or(i64::MAX))
        .collect();
    client
        .execute(
            "UPDATE peerd_keys k SET last_ts = GREATEST(k.last_ts, v.ts)
             FROM unnest($1::bigint[], $2::bigint[]) AS v(id, ts)
             WHERE k.id = v.id",
            &[&ids, &tss],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_kept_out_of_logs() {
        assert_eq!(
            redact("postgres://peerd:secret@db.example:5432/peerd"),
            "postgres://peerd:***@db.example:5432/peerd"
        );
        assert_eq!(
            redact("postgres://peerd@db:5432/peerd"),
            "postgres://peerd@db:5432/peerd"
        );
        assert_eq!(redact("nats://u:p@[::1]:4222"), "nats://u:***@[::1]:4222");
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact("host=/tmp user=x"), "host=/tmp user=x");
    }
}

//! Retention: what keeps the store bounded. At start ([`sweep`], before
//! the daemon answers anything) and then every [`Retention::interval`]
//! (the actor), it removes the received messages older
//! than `inbox_retention`, the delivered and failed ones older than
//! `outbox_retention` (queued messages stay until their ttl), and the ids
//! of removed received messages older than [`GONE_KEEP`], which no sender
//! retransmits any more (see the store's `inbox_gone`).

use std::time::Duration;

use actix::prelude::*;
use peerd_shared::control::MAX_TTL_SECS;

use super::alarm::now;
use super::args::Retention as Settings;
use super::store::{Store, StoreError, StoreHandle};

/// How long the id of a removed message is kept: the longest ttl, and a
/// day for clocks that disagree.
pub const GONE_KEEP: Duration = Duration::from_secs(MAX_TTL_SECS + 86_400);
/// Longest time between two sweeps.
const SWEEP_MAX: Duration = Duration::from_secs(3600);
/// Shortest time between two sweeps.
const SWEEP_MIN: Duration = Duration::from_secs(1);

/// The actor that removes what is kept too long.
pub struct Retention {
    store: StoreHandle,
    settings: Settings,
}

impl Retention {
    pub fn new(store: StoreHandle, settings: Settings) -> Self {
        Self { store, settings }
    }

    /// Half the shortest retention, between [`SWEEP_MIN`] and
    /// [`SWEEP_MAX`]: a message is gone at most half its retention late.
    pub fn interval(&self) -> Duration {
        [self.settings.inbox, self.settings.outbox]
            .into_iter()
            .flatten()
            .map(|d| d / 2)
            .min()
            .unwrap_or(SWEEP_MAX)
            .clamp(SWEEP_MIN, SWEEP_MAX)
    }

    fn sweep(&mut self, _ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let settings = self.settings;
        actix::spawn(async move {
            let swept = store
                .call(move |st| sweep(st, settings, now().unix_ms))
                .await;
            if let Err(e) = swept {
                tracing::error!(error = %e, "retention: cannot remove old messages");
            }
        });
    }
}

/// Removes from `store` what `settings` keeps no longer at `now_ms` (and
/// the ids of removed messages older than [`GONE_KEEP`]); logs what it
/// removed. Run at start, before the daemon answers anything, then by the
/// actor.
pub fn sweep(store: &Store, settings: Settings, now_ms: u64) -> Result<(), StoreError> {
    let before =
        |d: Duration| now_ms.saturating_sub(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let inbox = match settings.inbox {
        Some(keep) => store.prune_inbox(before(keep), now_ms)?,
        None => 0,
    };
    let outbox = match settings.outbox {
        Some(keep) => store.prune_outbox(before(keep))?,
        None => 0,
    };
    store.forget_gone(before(GONE_KEEP))?;
    if inbox + outbox > 0 {
        tracing::info!(
            inbox,
            outbox,
            "retention: removed {inbox} received and {outbox} sent messages"
        );
    }
    Ok(())
}

impl Actor for Retention {
    type Context = Context<Self>;

    /// The first sweep was made at start ([`sweep`]); the next ones come
    /// every [`Retention::interval`].
    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.interval(), Self::sweep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_at_half_the_shortest_retention_within_bounds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::peer::store::Store::open(dir.path()).expect("store");
        let (handle, _join) = StoreHandle::spawn(store).expect("thread");
        let at = |inbox: Option<u64>, outbox: Option<u64>| {
            let settings = Settings {
                inbox: inbox.map(Duration::from_secs),
                outbox: outbox.map(Duration::from_secs),
            };
            Retention::new(handle.clone(), settings).interval()
        };
        assert_eq!(at(None, None), SWEEP_MAX);
        assert_eq!(at(Some(90 * 86_400), None), SWEEP_MAX);
        assert_eq!(at(Some(600), Some(60)), Duration::from_secs(30));
        assert_eq!(at(None, Some(1)), SWEEP_MIN);
    }
}

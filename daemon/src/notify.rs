//! Telling systemd how a `Type=notify` service is doing (sd_notify(3)),
//! through the `sd-notify` crate: `READY=1` once the program serves,
//! `STATUS=` lines a person sees in `systemctl status`, `WATCHDOG=1` pings
//! while the program's event loop turns, `STOPPING=1` when it shuts down.
//!
//! Every call does nothing when `NOTIFY_SOCKET` is unset (not started by
//! systemd), and a failure to reach the socket is logged at debug level and
//! otherwise ignored: notification must never stop the program. Used by
//! `peerd server` and meant for `peerd start` too.

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::debug;

fn send(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        debug!("sd_notify: {e}");
    }
}

/// `READY=1` with a `STATUS=` line: start-up is complete.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A `STATUS=` line alone.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// `STOPPING=1` with a `STATUS=` line: shutdown has begun.
pub fn stopping(status: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(status)]);
}

/// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC` when systemd
/// set it for this process (`WatchdogSec=`), else `None`.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// Sends `WATCHDOG=1` every [`watchdog_interval`], forever; never completes
/// when no watchdog is asked for. Run it on the same runtime as the event
/// loop it vouches for (with `select!` or `spawn_local`), so that pings stop
/// when that loop stalls.
pub async fn watchdog() {
    let Some(every) = watchdog_interval() else {
        return std::future::pending().await;
    };
    debug!("systemd watchdog: a ping every {every:?}");
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        send(&[NotifyState::Watchdog]);
    }
}

//! Telling systemd how a `Type=notify` service is doing (sd_notify(3)),
//! through the `sd-notify` crate: `READY=1` once the program serves,
//! `STATUS=` lines a person sees in `systemctl status`, `WATCHDOG=1` pings
//! while the program's event loop turns, `STOPPING=1` when it shuts down.
//!
//! Every call does nothing when `NOTIFY_SOCKET` is unset (not started by
//! systemd), and a failure to reach the socket is logged at debug level and
//! otherwise ignored: notification must never stop the program. Used by
//! `peerd server` and `peerd start`.

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::debug;

/// Sends one notification without ever blocking. The `sd-notify` crate
/// formats the states, but its `notify` sends on a blocking socket: a Unix
/// datagram socket blocks its sender once the receiver's queue is full
/// (`net.unix.max_dgram_qlen`, 10 here), so a manager that does not read
/// would stall the event loop that sends the watchdog pings (seen in a
/// test). Here the send is non-blocking, and a full queue drops the
/// notification (logged at debug level). `@name` is an abstract address.
fn send(states: &[NotifyState<'_>]) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let message: String = states.iter().map(|s| format!("{s}\n")).collect();
    if let Err(e) = send_to(&path, message.as_bytes()) {
        debug!("sd_notify: {e}");
    }
}

fn send_to(path: &std::ffi::OsStr, message: &[u8]) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};

    let bytes = path.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(path)?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    socket.send_to_addr(message, &addr)?;
    Ok(())
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

//! What each control command does, in terms of the actors: the one place
//! that turns a [`Command`] into a [`Response`] or a [`ControlError`].
//! `follow` and `stop` also involve the session's writer; see
//! [`super::session`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use peerd_shared::control::{
    Command, ControlError, ErrorKind, MsgStatus, Response, Status, DEFAULT_TTL_SECS,
};
use peerd_shared::wire::{self, EncodeError, Packet, MAX_DATAGRAM, MAX_TEXT};
use peerd_shared::{MsgId, PeerId};

use super::db::StoreHandle;
use super::inbox::{CloseFollowers, Inbox};
use super::outbox::{Enqueue, ListPaths, Outbox, Ping};
use super::registry_link::{GetLinkStatus, LinkError, ListPeers, RegistryLink, Unregister};
use super::shared::Shared;
use super::store::StoreError;

/// Handles to everything a control session needs.
#[derive(Clone)]
pub struct Services {
    pub shared: Arc<Shared>,
    pub store: StoreHandle,
    pub link: Addr<RegistryLink>,
    pub outbox: Addr<Outbox>,
    pub inbox: Addr<Inbox>,
    /// Set once shutdown has begun.
    pub stopping: Arc<AtomicBool>,
}

fn error(code: ErrorKind, message: impl Into<String>) -> ControlError {
    ControlError {
        code,
        message: message.into(),
    }
}

fn storage(e: StoreError) -> ControlError {
    error(ErrorKind::Storage, e.to_string())
}

fn gone<E: std::fmt::Display>(e: E) -> ControlError {
    error(
        ErrorKind::ShuttingDown,
        format!("the daemon is stopping ({e})"),
    )
}

/// Checks a text against the protocol's limits before anything is stored.
pub fn check_text(text: &str) -> Result<(), ControlError> {
    if text.len() > MAX_TEXT {
        return Err(error(
            ErrorKind::TextTooLong,
            format!(
                "text of {} bytes exceeds the limit of {MAX_TEXT} bytes",
                text.len()
            ),
        ));
    }
    // The largest header any MESSAGE can have, so the real one fits too.
    let big = PeerId::new(peerd_shared::ids::MAX_SAFE_INTEGER).expect("max id is valid");
    let probe = Packet::Message {
        from: big,
        to: big,
        msg: MsgId(u64::MAX),
        text: text.to_owned(),
        ts: u64::MAX,
    };
    match wire::encode(&probe) {
        Ok(_) => Ok(()),
        Err(EncodeError::TooLarge { len }) | Err(EncodeError::TextTooLong { len }) => Err(error(
            ErrorKind::TextTooLong,
            format!(
                "the encoded message would be {len} bytes, over the {MAX_DATAGRAM}-byte datagram \
                 limit (escaped characters count more); the text limit is {MAX_TEXT} bytes"
            ),
        )),
    }
}

/// Runs one command other than `follow` and `stop`.
pub async fn execute(s: &Services, cmd: Command) -> Result<Response, ControlError> {
    if s.stopping.load(Ordering::Relaxed) {
        return Err(error(ErrorKind::ShuttingDown, "the daemon is stopping"));
    }
    match cmd {
        Command::Id => Ok(Response::Id { id: s.shared.id() }),
        Command::Status => status(s).await.map(Response::Status),
        Command::List => match s.link.send(ListPeers).await.map_err(gone)? {
            Ok(peers) => Ok(Response::Peers { peers }),
            Err(LinkError::NotRegistered(reason)) => Err(error(
                ErrorKind::NotRegistered,
                format!("not registered with the server: {reason}"),
            )),
            Err(e) => Err(error(ErrorKind::Internal, e.to_string())),
        },
        Command::Send {
            to,
            text,
            ttl_secs,
            wait,
        } => send(s, to, text, ttl_secs, wait).await,
        Command::Outbox { limit } => s
            .store
            .read(move |st| st.outbox(limit))
            .await
            .map(|messages| Response::Outbox { messages })
            .map_err(storage),
        Command::Inbox { from, limit } => s
            .store
            .read(move |st| st.inbox(from, limit))
            .await
            .map(|rows| Response::Inbox {
                messages: rows.into_iter().map(|(_, e)| e).collect(),
            })
            .map_err(storage),
        Command::Peers => s
            .outbox
            .send(ListPaths)
            .await
            .map(|peers| Response::Paths { peers })
            .map_err(gone),
        Command::Ping { to } => {
            if s.shared.id() == Some(to) {
                return Err(error(
                    ErrorKind::SelfTarget,
                    format!("peer {to} is this daemon itself"),
                ));
            }
            let (reply, rx) = tokio::sync::oneshot::channel();
            s.outbox.send(Ping { to, reply }).await.map_err(gone)?;
            rx.await.map_err(gone)?.map(Response::Pong)
        }
        Command::Follow { .. } | Command::Stop => Err(error(
            ErrorKind::Internal,
            "follow and stop are served by the session",
        )),
    }
}

async fn status(s: &Services) -> Result<Status, ControlError> {
    let link = s.link.send(GetLinkStatus).await.map_err(gone)?;
    let counts = s.store.read(|st| st.counts()).await.map_err(storage)?;
    Ok(Status {
        id: s.shared.id(),
        server: s.shared.server_text.clone(),
        state: link.state,
        reason: link.reason,
        public_addr: link.public_addr.map(|a| a.to_string()),
        local_addr: s.shared.local_addr.to_string(),
        uptime_secs: s.shared.started.elapsed().as_secs(),
        inbox: counts.inbox,
        outbox_queued: counts.queued,
        outbox_delivered: counts.delivered,
        outbox_failed: counts.failed,
        pid: Some(std::process::id()),
    })
}

async fn send(
    s: &Services,
    to: PeerId,
    text: String,
    ttl_secs: Option<u64>,
    wait: bool,
) -> Result<Response, ControlError> {
    check_text(&text)?;
    if s.shared.id() == Some(to) {
        return Err(error(
            ErrorKind::SelfTarget,
            format!("peer {to} is this daemon itself"),
        ));
    }
    let ttl = ttl_secs.unwrap_or(DEFAULT_TTL_SECS);
    if ttl == 0 {
        return Err(error(ErrorKind::BadRequest, "ttl_secs must be at least 1"));
    }
    let accepted = s
        .outbox
        .send(Enqueue {
            to,
            text,
            ttl: Duration::from_secs(ttl),
            wait,
        })
        .await
        .map_err(gone)??;
    let outcome = match accepted.delivered {
        Some(rx) => rx.await.unwrap_or(accepted.queued),
        None => accepted.queued,
    };
    if outcome.status == MsgStatus::Failed {
        return Err(error(
            ErrorKind::Expired,
            format!(
                "message {} to {to} failed: {}",
                outcome.msg,
                outcome.note.unwrap_or_default()
            ),
        ));
    }
    Ok(Response::Sent(outcome))
}

/// The one shutdown path (SIGINT, SIGTERM, `stop`): unregister, close the
/// followers. [`finish`] then stops the actor system.
pub async fn begin_shutdown(s: &Services) {
    if s.stopping.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::info!("stopping: unregistering");
    let _ = s.link.send(Unregister).await;
    s.inbox.do_send(CloseFollowers);
}

/// Stops the actor system shortly (followers get their `closing` line).
pub fn finish_shutdown() {
    actix::spawn(async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        actix::System::current().stop();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limits_name_the_limit() {
        assert!(check_text(&"a".repeat(MAX_TEXT)).is_ok());
        let e = check_text(&"a".repeat(MAX_TEXT + 1)).unwrap_err();
        assert_eq!(e.code, ErrorKind::TextTooLong);
        assert!(e.message.contains("1000"), "{}", e.message);
        let e = check_text(&"\"".repeat(MAX_TEXT)).unwrap_err();
        assert_eq!(e.code, ErrorKind::TextTooLong);
        assert!(e.message.contains("1200"), "{}", e.message);
    }
}

//! What each control command does, in terms of the actors: the one place
//! that turns a [`Command`] (or a [`HistoryCommand`]) into a [`Response`]
//! or a [`ControlError`].
//! `follow` and `stop` also involve the session's writer; see
//! [`super::session`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;
use peerd_shared::control::history::HistoryCommand;
use peerd_shared::control::{
    Command, ControlError, Deleted, ErrorKind, KeyInfo, MsgStatus, Response, Status, Trusted,
    DEFAULT_TTL_SECS, MAX_TTL_SECS,
};
use peerd_shared::proto::MAX_TEXT;
use peerd_shared::PeerId;
use tokio::sync::oneshot;

use crate::peer::alarm::now;
use crate::peer::core::registration::LinkError;
use crate::peer::inbox::Inbox;
use crate::peer::lifecycle::Lifecycle;
use crate::peer::outbox::{Delete, Enqueue, ListPaths, Outbox, Ping};
use crate::peer::registry_link::{
    GetLinkStatus, GetPeerKey, ListPeers, RegistryLink, Trust, TrustOutcome,
};
use crate::peer::store::{StoreError, StoreHandle};

/// What does not change while the daemon runs, for `status`.
#[derive(Debug)]
pub struct DaemonInfo {
    /// The server as configured.
    pub server: String,
    /// The UDP socket's bound address.
    pub local_addr: SocketAddr,
    /// When the daemon started.
    pub started: Instant,
}

/// Handles to everything a control session needs.
#[derive(Clone)]
pub struct Services {
    pub info: Arc<DaemonInfo>,
    /// Turns `true` when shutdown begins ([`Lifecycle`]'s announcement).
    pub stopping: tokio::sync::watch::Receiver<bool>,
    pub store: StoreHandle,
    pub link: Addr<RegistryLink>,
    pub outbox: Addr<Outbox>,
    pub inbox: Addr<Inbox>,
    pub lifecycle: Addr<Lifecycle>,
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

/// Checks a text against the protocol's limits before anything is stored:
/// between 1 and [`MAX_TEXT`] bytes of UTF-8 (protocol.md, MESSAGE). The
/// text travels as raw bytes inside an encrypted frame, so its length is
/// the only limit; no escaping counts against it.
pub fn check_text(text: &str) -> Result<(), ControlError> {
    if text.is_empty() {
        return Err(error(
            ErrorKind::BadRequest,
            "the text is empty; a message carries 1 to 1000 bytes",
        ));
    }
    if text.len() > MAX_TEXT {
        return Err(error(
            ErrorKind::TextTooLong,
            format!(
                "text of {} bytes exceeds the limit of {MAX_TEXT} bytes",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// Runs one command other than `follow` and `stop`.
pub async fn execute(s: &Services, cmd: Command) -> Result<Response, ControlError> {
    if *s.stopping.borrow() {
        return Err(error(ErrorKind::ShuttingDown, "the daemon is stopping"));
    }
    match cmd {
        Command::Id => {
            let link = s.link.send(GetLinkStatus).await.map_err(gone)?;
            Ok(Response::Id {
                id: link.id,
                key: Some(link.key.to_base64()),
                fingerprint: Some(link.key.fingerprint()),
            })
        }
        Command::Status => status(s).await.map(Response::Status),
        Command::List => match s.link.send(ListPeers).await.map_err(gone)? {
            Ok(peers) => Ok(Response::Peers { peers }),
            Err(LinkError::NotRegistered(reason)) => Err(error(
                ErrorKind::NotRegistered,
                format!("not registered with the server: {reason}"),
            )),
            Err(LinkError::Stopping) => {
                Err(error(ErrorKind::ShuttingDown, "the daemon is stopping"))
            }
            Err(e) => Err(error(ErrorKind::Internal, e.to_string())),
        },
        Command::Send {
            to,
            text,
            ttl_secs,
            wait,
        } => send(s, to, text, ttl_secs, wait).await,
        Command::Outbox { limit } => {
            let since_ms = None;
            history(s, HistoryCommand::Outbox { limit, since_ms }).await
        }
        Command::Inbox { from, limit } => {
            let since_ms = None;
            history(
                s,
                HistoryCommand::Inbox {
                    from,
                    limit,
                    since_ms,
                },
            )
            .await
        }
        Command::Peers => s
            .outbox
            .send(ListPaths)
            .await
            .map(|peers| Response::Paths { peers })
            .map_err(gone),
        Command::Ping { to } => {
            let (reply, rx) = oneshot::channel();
            s.outbox.do_send(Ping { to, reply });
            rx.await.map_err(gone)?.map(Response::Pong)
        }
        Command::Key { id } => key(s, id).await.map(Response::Key),
        Command::Trust { id, fingerprint } => trust(s, id, fingerprint).await.map(Response::Trust),
        Command::Follow { .. } | Command::Stop => Err(error(
            ErrorKind::Internal,
            "follow and stop are served by the session",
        )),
    }
}

/// Runs a request on the stored history (`docs/control.md`): listings
/// with `since_ms`, and the removal of stored messages.
pub async fn history(s: &Services, cmd: HistoryCommand) -> Result<Response, ControlError> {
    if *s.stopping.borrow() {
        return Err(error(ErrorKind::ShuttingDown, "the daemon is stopping"));
    }
    let now_ms = now().unix_ms;
    let before = |secs: u64| now_ms.saturating_sub(secs.saturating_mul(1000));
    match cmd {
        HistoryCommand::Inbox {
            from,
            limit,
            since_ms,
        } => s
            .store
            .read(move |st| st.inbox(from, limit, since_ms))
            .await
            .map(|rows| Response::Inbox {
                messages: rows.into_iter().map(|(_, e)| e).collect(),
            })
            .map_err(storage),
        HistoryCommand::Outbox { limit, since_ms } => s
            .store
            .read(move |st| st.outbox(limit, since_ms))
            .await
            .map(|messages| Response::Outbox { messages })
            .map_err(storage),
        HistoryCommand::InboxDelete { messages } => s
            .store
            .call(move |st| st.delete_inbox(&messages, now_ms))
            .await
            .map(|deleted| Response::InboxDelete(Deleted { deleted }))
            .map_err(storage),
        HistoryCommand::InboxPrune { older_than_secs } => {
            let before_ms = before(older_than_secs);
            s.store
                .call(move |st| st.prune_inbox(before_ms, now_ms))
                .await
                .map(|deleted| Response::InboxPrune(Deleted { deleted }))
                .map_err(storage)
        }
        HistoryCommand::OutboxDelete { msgs } => {
            let (reply, deleted) = oneshot::channel();
            s.outbox.do_send(Delete { msgs, reply });
            let deleted = deleted.await.map_err(gone)??;
            Ok(Response::OutboxDelete(Deleted { deleted }))
        }
        HistoryCommand::OutboxPrune { older_than_secs } => {
            let before_ms = before(older_than_secs);
            s.store
                .call(move |st| st.prune_outbox(before_ms))
                .await
                .map(|deleted| Response::OutboxPrune(Deleted { deleted }))
                .map_err(storage)
        }
        HistoryCommand::Follow { .. } => Err(error(
            ErrorKind::Internal,
            "follow is served by the session",
        )),
    }
}

async fn status(s: &Services) -> Result<Status, ControlError> {
    let link = s.link.send(GetLinkStatus).await.map_err(gone)?;
    let counts = s.store.read(|st| st.counts()).await.map_err(storage)?;
    Ok(Status {
        id: link.id,
        server: link.server,
        state: link.state,
        reason: link.reason,
        public_addr: link.public_addr.map(|a| a.to_string()),
        local_addr: s.info.local_addr.to_string(),
        uptime_secs: s.info.started.elapsed().as_secs(),
        inbox: counts.inbox,
        outbox_queued: counts.queued,
        outbox_delivered: counts.delivered,
        outbox_failed: counts.failed,
        pid: Some(std::process::id()),
        key: Some(link.key.to_base64()),
        fingerprint: Some(link.key.fingerprint()),
        server_key: link.server_key.map(|k| k.to_base64()),
        server_fingerprint: link.server_key.map(|k| k.fingerprint()),
    })
}

fn never_introduced(peer: PeerId) -> ControlError {
    error(
        ErrorKind::UnknownPeer,
        format!(
            "no key is known for peer {peer}: the server has not introduced it yet \
             (a message to it, or its message to you, does)"
        ),
    )
}

async fn key(s: &Services, id: Option<PeerId>) -> Result<KeyInfo, ControlError> {
    let Some(peer) = id else {
        let link = s.link.send(GetLinkStatus).await.map_err(gone)?;
        return Ok(KeyInfo {
            id: None,
            key: link.key.to_base64(),
            fingerprint: link.key.fingerprint(),
            offered: None,
            offered_fingerprint: None,
        });
    };
    let known = s
        .link
        .send(GetPeerKey(peer))
        .await
        .map_err(gone)?
        .ok_or_else(|| never_introduced(peer))?;
    Ok(KeyInfo {
        id: Some(peer),
        key: known.pinned.to_base64(),
        fingerprint: known.pinned.fingerprint(),
        offered: known.offered.map(|k| k.to_base64()),
        offered_fingerprint: known.offered.map(|k| k.fingerprint()),
    })
}

async fn trust(
    s: &Services,
    peer: PeerId,
    expect: Option<String>,
) -> Result<Trusted, ControlError> {
    let outcome = s
        .link
        .send(Trust {
            peer,
            expect: expect.clone(),
        })
        .await
        .map_err(gone)?;
    match outcome {
        TrustOutcome::Unknown => Err(never_introduced(peer)),
        TrustOutcome::Unchanged(key) => Ok(Trusted {
            id: peer,
            key: key.to_base64(),
            fingerprint: key.fingerprint(),
            replaced: None,
        }),
        TrustOutcome::Replaced { old, new } => Ok(Trusted {
            id: peer,
            key: new.to_base64(),
            fingerprint: new.fingerprint(),
            replaced: Some(old.fingerprint()),
        }),
        TrustOutcome::Mismatch { current } => Err(error(
            ErrorKind::KeyChanged,
            format!(
                "peer {peer}'s key is {}, not {}; nothing was trusted",
                current.fingerprint(),
                expect.unwrap_or_default().trim()
            ),
        )),
    }
}

async fn send(
    s: &Services,
    to: PeerId,
    text: String,
    ttl_secs: Option<u64>,
    wait: bool,
) -> Result<Response, ControlError> {
    check_text(&text)?;
    let ttl = ttl_secs.unwrap_or(DEFAULT_TTL_SECS);
    if ttl == 0 {
        return Err(error(ErrorKind::BadRequest, "ttl_secs must be at least 1"));
    }
    if ttl > MAX_TTL_SECS {
        return Err(error(
            ErrorKind::BadRequest,
            format!(
                "ttl_secs must be at most {MAX_TTL_SECS} (30 days), got {ttl}; \
                 a message does not wait longer"
            ),
        ));
    }
    let (reply, accepted) = oneshot::channel();
    s.outbox.do_send(Enqueue {
        to,
        text,
        ttl: Duration::from_secs(ttl),
        wait,
        reply,
    });
    let accepted = accepted.await.map_err(gone)??;
    let outcome = match accepted.delivered {
        Some(rx) => rx.await.unwrap_or(accepted.queued),
        None => accepted.queued,
    };
    if outcome.status == MsgStatus::Failed {
        return Err(error(
            outcome.code.unwrap_or(ErrorKind::Expired),
            format!(
                "message {} to {to} failed: {}",
                outcome.msg,
                outcome.note.unwrap_or_default()
            ),
        ));
    }
    Ok(Response::Sent(outcome))
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
        assert!(
            check_text(&"\"".repeat(MAX_TEXT)).is_ok(),
            "bytes, not JSON"
        );
        let e = check_text(&"é".repeat(MAX_TEXT / 2 + 1)).unwrap_err();
        assert_eq!(
            e.code,
            ErrorKind::TextTooLong,
            "1002 bytes in 501 characters"
        );
        assert_eq!(check_text("").unwrap_err().code, ErrorKind::BadRequest);
    }
}

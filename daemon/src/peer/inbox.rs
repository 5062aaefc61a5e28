//! The inbox: every MESSAGE addressed to this daemon. It is stored once per
//! `(from, msg)` and committed BEFORE its MESSAGE_ACK goes out; every copy,
//! duplicate or not, is acknowledged over the path it came by. Messages
//! arriving together are written together (one store job per commit, their
//! acknowledgements in one [`Transmit`]). New messages are logged (their
//! control characters escaped) and fanned out to followers, each with a bounded buffer: a follower that
//! falls that far behind is cut off. At shutdown the followers are told
//! `closing`, and [`CloseFollowers`] answers once they have written it.

use std::time::Duration;

use actix::prelude::*;
use peerd_shared::control::{ControlError, ErrorKind, InboxEntry, PathKind};
use peerd_shared::text::escape_control;
use peerd_shared::{MsgId, PeerId};
use tokio::sync::{mpsc, oneshot};

use super::alarm::now;
use super::core::transport::{Origin, PeerPacket, Route};
use super::registry_link::{Outgoing, RegistryLink, Transmit};
use super::store::batch::{self, Batch, Done, Write, Writer};
use super::store::{Store, StoreError, StoreHandle};

/// Events a follower may lag behind before it is cut off.
pub const FOLLOW_BUFFER: usize = 4096;
/// How long shutdown waits for followers to write their last line.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// A MESSAGE for this daemon arrived.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MessageReceived {
    pub origin: Origin,
    pub msg: MsgId,
    pub text: String,
    pub ts: u64,
}

/// Start following: the stored messages (the newest `limit`, those
/// received at or after `since_ms`), then new ones.
#[derive(Message)]
#[rtype(result = "Result<Subscription, ControlError>")]
pub struct Subscribe {
    pub from: Option<PeerId>,
    pub limit: Option<u32>,
    pub since_ms: Option<u64>,
}

/// Shutdown: tell every follower `closing`; answered once they wrote it
/// (or [`CLOSE_WAIT`] passed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseFollowers;

/// Why a follower's stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The daemon is stopping.
    Closing,
    /// The follower fell [`FOLLOW_BUFFER`] messages behind.
    Overflow,
}

/// What a follower gets: the replay, then live messages with their row
/// numbers (skip those at or below `replayed_upto`: the replay has them),
/// then why the stream ended. `done` is dropped once the last line is out.
pub struct Subscription {
    pub replay: Vec<InboxEntry>,
    pub replayed_upto: i64,
    pub live: mpsc::Receiver<(i64, InboxEntry)>,
    pub end: oneshot::Receiver<End>,
    pub done: oneshot::Sender<()>,
}

struct Follower {
    from: Option<PeerId>,
    tx: mpsc::Sender<(i64, InboxEntry)>,
    /// Taken when the stream is ended by the inbox.
    end: Option<oneshot::Sender<End>>,
    done: oneshot::Receiver<()>,
}

/// A received message, stored once per `(from, msg)`.
pub struct Receipt(InboxEntry);

impl Write for Receipt {
    /// The new row, or `None` for a copy already stored.
    type Output = Option<i64>;

    fn apply(&self, s: &mut Store) -> Result<Option<i64>, StoreError> {
        s.receive(&self.0)
    }
}

/// The actor that receives this daemon's messages.
pub struct Inbox {
    link: Addr<RegistryLink>,
    batch: Batch<Receipt, (InboxEntry, Origin)>,
    followers: Vec<Follower>,
    closing: bool,
}

impl Inbox {
    /// An inbox with no followers.
    pub fn new(store: StoreHandle, link: Addr<RegistryLink>) -> Self {
        Self {
            link,
            batch: Batch::new(store),
            followers: Vec::new(),
            closing: false,
        }
    }

    fn fan_out(&mut self, row: i64, entry: &InboxEntry) {
        self.followers.retain_mut(|f| {
            if f.from.is_some_and(|p| p != entry.from) {
                return !f.tx.is_closed();
            }
            match f.tx.try_send((row, entry.clone())) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        "a follower fell {FOLLOW_BUFFER} messages behind; cutting it off"
                    );
                    if let Some(end) = f.end.take() {
                        let _ = end.send(End::Overflow);
                    }
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }
}

impl Actor for Inbox {
    type Context = Context<Self>;
}

impl Handler<MessageReceived> for Inbox {
    type Result = ();

    fn handle(&mut self, m: MessageReceived, ctx: &mut Self::Context) {
        let path = match m.origin.route {
            Route::Direct(_) => PathKind::Direct,
            Route::Relayed => PathKind::Relayed,
        };
        let entry = InboxEntry {
            from: m.origin.peer,
            msg: m.msg,
            text: m.text,
            addr: m.origin.src.to_string(),
            path,
            sent_ms: m.ts,
            received_ms: now().unix_ms,
        };
        self.batch.push(Receipt(entry.clone()), (entry, m.origin));
        batch::flush(self, ctx);
    }
}

impl Writer for Inbox {
    type Write = Receipt;
    type Then = (InboxEntry, Origin);

    fn batch(&mut self) -> &mut Batch<Receipt, (InboxEntry, Origin)> {
        &mut self.batch
    }

    fn committed(&mut self, done: Done<Receipt, (InboxEntry, Origin)>, _ctx: &mut Context<Self>) {
        let mut acks = Vec::with_capacity(done.len());
        for (result, (entry, origin)) in done {
            let row = match result {
                Ok(row) => row,
                // Not stored, so not acknowledged: the sender retransmits.
                Err(e) => {
                    tracing::error!(error = %e, "cannot store a received message");
                    continue;
                }
            };
            acks.push(Outgoing {
                peer: entry.from,
                route: origin.route,
                packet: PeerPacket::MessageAck { msg: entry.msg },
            });
            if let Some(row) = row {
                // Escaped: a newline in a text must not forge a log line,
                // nor an escape sequence repaint the terminal showing it.
                tracing::info!(
                    "message from {} ({}): {}",
                    entry.from,
                    entry.addr,
                    escape_control(&entry.text)
                );
                self.fan_out(row, &entry);
            }
        }
        if !acks.is_empty() {
            self.link.do_send(Transmit(acks));
        }
    }
}

impl Handler<Subscribe> for Inbox {
    type Result = ResponseFuture<Result<Subscription, ControlError>>;

    fn handle(&mut self, s: Subscribe, _ctx: &mut Self::Context) -> Self::Result {
        if self.closing {
            return Box::pin(async {
                Err(ControlError {
                    code: ErrorKind::ShuttingDown,
                    message: "the daemon is stopping".into(),
                })
            });
        }
        // Registered before the replay is read, so nothing falls in between.
        let (tx, live) = mpsc::channel(FOLLOW_BUFFER);
        let (end_tx, end) = oneshot::channel();
        let (done, done_rx) = oneshot::channel();
        self.followers.push(Follower {
            from: s.from,
            tx,
            end: Some(end_tx),
            done: done_rx,
        });
        let store = self.batch.store().clone();
        Box::pin(async move {
            let (rows, upto) = store
                .read(move |st| {
                    let replay = st.inbox(s.from, s.limit, s.since_ms)?;
                    Ok((replay, st.last_inbox_row()?))
                })
                .await
                .map_err(|e| ControlError {
                    code: ErrorKind::Storage,
                    message: e.to_string(),
                })?;
            Ok(Subscription {
                replay: rows.into_iter().map(|(_, e)| e).collect(),
                replayed_upto: upto,
                live,
                end,
                done,
            })
        })
    }
}

impl Handler<CloseFollowers> for Inbox {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: CloseFollowers, _ctx: &mut Self::Context) -> Self::Result {
        self.closing = true;
        let mut written = Vec::with_capacity(self.followers.len());
        for mut f in self.followers.drain(..) {
            if let Some(end) = f.end.take() {
                let _ = end.send(End::Closing);
            }
            written.push(f.done);
        }
        Box::pin(async move {
            let all = futures_util::future::join_all(written);
            let _ = tokio::time::timeout(CLOSE_WAIT, all).await;
        })
    }
}

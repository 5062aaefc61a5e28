//! The inbox: every MESSAGE addressed to this daemon. It is stored once per
//! `(from, msg)` and committed BEFORE its MESSAGE_ACK goes out; every copy,
//! duplicate or not, is acknowledged over the path it came by. New messages
//! are logged like the original did and fanned out to followers, each with
//! a bounded buffer: a follower that falls that far behind is cut off.

use std::net::SocketAddr;
use std::sync::Arc;

use actix::prelude::*;
use peerd_shared::control::{InboxEntry, PathKind};
use peerd_shared::wire::{self, Packet};
use peerd_shared::{MsgId, PeerId};
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::db::StoreHandle;
use super::registry_link::{RegistryLink, RelayData};
use super::shared::{now_ms, Shared};
use super::store::StoreError;

/// Events a follower may lag behind before it is cut off.
pub const FOLLOW_BUFFER: usize = 4096;

/// A MESSAGE for this daemon arrived.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MessageReceived {
    pub from: PeerId,
    pub msg: MsgId,
    pub text: String,
    pub ts: u64,
    pub src: SocketAddr,
    pub path: PathKind,
}

/// Start following: the stored messages, then new ones.
#[derive(Message)]
#[rtype(result = "Result<Subscription, StoreError>")]
pub struct Subscribe {
    pub from: Option<PeerId>,
    pub limit: Option<u32>,
}

/// Drop every follower (shutdown); their streams end with `closing`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseFollowers;

/// What a follower gets: the replay, then live messages with their row
/// numbers (skip those at or below `replayed_upto`: the replay has them).
pub struct Subscription {
    pub replay: Vec<InboxEntry>,
    pub replayed_upto: i64,
    pub live: mpsc::Receiver<(i64, InboxEntry)>,
}

struct Follower {
    from: Option<PeerId>,
    tx: mpsc::Sender<(i64, InboxEntry)>,
}

/// The actor that receives this daemon's messages.
pub struct Inbox {
    shared: Arc<Shared>,
    store: StoreHandle,
    link: Addr<RegistryLink>,
    followers: Vec<Follower>,
}

impl Inbox {
    /// An inbox with no followers.
    pub fn new(shared: Arc<Shared>, store: StoreHandle, link: Addr<RegistryLink>) -> Self {
        Self {
            shared,
            store,
            link,
            followers: Vec::new(),
        }
    }

    fn ack(&self, to: PeerId, msg: MsgId, src: SocketAddr, path: PathKind) {
        let Some(me) = self.shared.id() else {
            return;
        };
        let ack = Packet::MessageAck { from: me, to, msg };
        match path {
            PathKind::Direct => {
                let _ = self.shared.send(&ack, src);
            }
            PathKind::Relayed => {
                let Ok(bytes) = wire::encode(&ack) else {
                    return;
                };
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if let Ok(data) = RawValue::from_string(text) {
                    self.link.do_send(RelayData { target: to, data });
                }
            }
        }
    }

    fn fan_out(&mut self, row: i64, entry: &InboxEntry) {
        self.followers.retain(|f| {
            if f.from.is_some_and(|p| p != entry.from) {
                return !f.tx.is_closed();
            }
            match f.tx.try_send((row, entry.clone())) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        "a follower fell {FOLLOW_BUFFER} messages behind; cutting it off"
                    );
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
        let entry = InboxEntry {
            from: m.from,
            msg: m.msg,
            text: m.text,
            addr: m.src.to_string(),
            path: m.path,
            sent_ms: m.ts,
            received_ms: now_ms(),
        };
        let store = self.store.clone();
        let stored = entry.clone();
        let fut = async move { store.call(move |s| s.receive(&stored)).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(row) => {
                act.ack(entry.from, entry.msg, m.src, entry.path);
                if let Some(row) = row {
                    tracing::info!(
                        "message from {} ({}): {}",
                        entry.from,
                        entry.addr,
                        entry.text
                    );
                    act.fan_out(row, &entry);
                }
            }
            // Not stored, so not acknowledged: the sender retransmits.
            Err(e) => tracing::error!(error = %e, "cannot store a received message"),
        }));
    }
}

impl Handler<Subscribe> for Inbox {
    type Result = ResponseFuture<Result<Subscription, StoreError>>;

    fn handle(&mut self, s: Subscribe, _ctx: &mut Self::Context) -> Self::Result {
        // Registered before the replay is read, so nothing falls in between.
        let (tx, live) = mpsc::channel(FOLLOW_BUFFER);
        self.followers.push(Follower { from: s.from, tx });
        let store = self.store.clone();
        Box::pin(async move {
            let (rows, upto) = store
                .read(move |st| {
                    let rows = st.inbox(s.from, s.limit)?;
                    let upto = st.last_inbox_row()?;
                    Ok((rows, upto))
                })
                .await?;
            Ok(Subscription {
                replay: rows.into_iter().map(|(_, e)| e).collect(),
                replayed_upto: upto,
                live,
            })
        })
    }
}

impl Handler<CloseFollowers> for Inbox {
    type Result = ();

    fn handle(&mut self, _: CloseFollowers, _ctx: &mut Self::Context) {
        self.followers.clear();
    }
}

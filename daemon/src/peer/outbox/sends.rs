//! Queueing a message and the outbox's writes. A new message is admitted
//! by the core (or held until its peer is looked up), written to the store
//! with the other writes waiting, and answered once its commit lands; only
//! then does the core get it. An outcome (delivered, failed, a new
//! problem) is recorded the same way and answered after its commit, so
//! what `send` says and what `outbox` lists agree the moment `send`
//! returns. A deleted message leaves the core before it leaves the store.

use actix::prelude::*;
use peerd_shared::control::{ControlError, ErrorKind, MsgStatus, SendOutcome};
use peerd_shared::{MsgId, PeerId};
use tokio::sync::oneshot;

use super::actor::{Accepted, Delete, Enqueue, Outbox};
use crate::peer::alarm::{now, Driven};
use crate::peer::core::clock::Now;
use crate::peer::core::delivery::{Admission, Change, LookupAnswer};
use crate::peer::core::queue::OutMsg;
use crate::peer::store::batch::{Batch, Done, Write, Writer};
use crate::peer::store::{Store, StoreError};

/// A write of the outbox.
pub enum OutboxWrite {
    /// A new message (the store gives it its id).
    Queue {
        to: PeerId,
        text: String,
        created_ms: u64,
        expires_ms: u64,
        problem: Option<String>,
    },
    /// A message's new status or problem.
    Change { msg: MsgId, change: Change },
}

impl Write for OutboxWrite {
    type Output = Option<MsgId>;

    fn apply(&self, s: &mut Store) -> Result<Option<MsgId>, StoreError> {
        match self {
            Self::Queue {
                to,
                text,
                created_ms,
                expires_ms,
                problem,
            } => s
                .queue(*to, text, *created_ms, *expires_ms, problem.as_deref())
                .map(Some),
            Self::Change { msg, change } => {
                match change {
                    Change::Delivered {
                        path,
                        at_ms,
                        attempts,
                    } => s.delivered(*msg, *path, *at_ms, *attempts),
                    Change::Failed { error, attempts } => s.failed(*msg, error, *attempts),
                    Change::Noted { error, attempts } => s.note(*msg, error, *attempts),
                }?;
                Ok(None)
            }
        }
    }
}

/// A `send` being written.
pub struct NewMessage {
    send: Enqueue,
    created_ms: u64,
    expires_ms: u64,
    /// Why it will wait (the note of the `send` answer).
    problem: Option<String>,
}

/// What the outbox does once a write is committed.
pub enum Then {
    /// Answer the `send` and give the message to the core.
    Accept(NewMessage),
    /// Answer the callers waiting for `msg`.
    Answer { msg: MsgId, outcome: SendOutcome },
}

impl Outbox {
    /// Writes a new message; it is answered and sent once committed.
    fn store_new(&mut self, send: Enqueue, problem: Option<String>, now: Now) {
        let created_ms = now.unix_ms;
        let ttl_ms = u64::try_from(send.ttl.as_millis()).unwrap_or(u64::MAX);
        let expires_ms = created_ms.saturating_add(ttl_ms);
        let write = OutboxWrite::Queue {
            to: send.to,
            text: send.text.clone(),
            created_ms,
            expires_ms,
            problem: problem.clone(),
        };
        let then = Then::Accept(NewMessage {
            send,
            created_ms,
            expires_ms,
            problem,
        });
        self.batch.push(write, then);
    }

    /// A lookup ended: the sends held for it are written (or refused).
    pub(super) fn found(&mut self, peer: PeerId, answer: &LookupAnswer, now: Now) {
        for send in self.held.remove(&peer).unwrap_or_default() {
            match answer {
                LookupAnswer::Unknown => {
                    let _ = send.reply.send(Err(ControlError {
                        code: ErrorKind::UnknownPeer,
                        message: format!("peer {peer} was never registered with the server"),
                    }));
                }
                LookupAnswer::KeyChanged(reason) => {
                    let _ = send.reply.send(Err(ControlError {
                        code: ErrorKind::KeyChanged,
                        message: reason.clone(),
                    }));
                }
                LookupAnswer::Found => self.store_new(send, None, now),
                LookupAnswer::Offline(reason) | LookupAnswer::Unreachable(reason) => {
                    self.store_new(send, Some(reason.clone()), now);
                }
            }
        }
    }

    /// A new message is stored as `id`: answer `send`, then send it.
    fn accepted(&mut self, id: MsgId, new: NewMessage, now: Now) {
        let NewMessage {
            send,
            created_ms,
            expires_ms,
            problem,
        } = new;
        if let Some(metrics) = &self.metrics {
            metrics.queued();
        }
        let mut m = OutMsg::new(send.to, send.text, created_ms, expires_ms, now.at);
        // The note is why it waits, one clause; until when is `expires_ms`
        // (peerctl makes the sentence, in the user's time zone).
        let note = problem.clone();
        m.last_error = problem;
        let queued = m.outcome(id, MsgStatus::Queued, None, note.clone());
        let delivered = (send.wait && note.is_none()).then(|| {
            let (tx, rx) = oneshot::channel();
            self.waiters.entry(id).or_default().push(tx);
            rx
        });
        let waiting = delivered.is_some();
        let _ = send.reply.send(Ok(Accepted { queued, delivered }));
        self.core.queued(id, m, waiting, now);
    }
}

impl Handler<Enqueue> for Outbox {
    type Result = ();

    fn handle(&mut self, send: Enqueue, ctx: &mut Self::Context) {
        if self.stopping {
            let _ = send.reply.send(Err(ControlError {
                code: ErrorKind::ShuttingDown,
                message: "the daemon is stopping".into(),
            }));
            return;
        }
        let now = now();
        match self.core.admit(send.to, now) {
            Admission::Now { problem } => self.store_new(send, problem, now),
            Admission::AfterLookup => self.held.entry(send.to).or_default().push(send),
            Admission::Refused(e) => {
                let _ = send.reply.send(Err(e));
            }
        }
        self.carry_out(ctx);
    }
}

impl Handler<Delete> for Outbox {
    type Result = ();

    fn handle(&mut self, d: Delete, ctx: &mut Self::Context) {
        let now = now();
        for &msg in &d.msgs {
            let Some(m) = self.core.forget(msg, now) else {
                continue;
            };
            let mut outcome = m.outcome(
                msg,
                MsgStatus::Failed,
                None,
                Some("deleted from the outbox before it was delivered".into()),
            );
            outcome.code = Some(ErrorKind::Expired);
            for w in self.waiters.remove(&msg).unwrap_or_default() {
                let _ = w.send(outcome.clone());
            }
        }
        self.carry_out(ctx);
        let store = self.batch.store().clone();
        let Delete { msgs, reply } = d;
        actix::spawn(async move {
            let deleted = store.call(move |s| s.delete_outbox(&msgs)).await;
            let _ = reply.send(deleted.map_err(|e| ControlError {
                code: ErrorKind::Storage,
                message: e.to_string(),
            }));
        });
    }
}

impl Writer for Outbox {
    type Write = OutboxWrite;
    type Then = Then;

    fn batch(&mut self) -> &mut Batch<OutboxWrite, Then> {
        &mut self.batch
    }

    fn committed(&mut self, done: Done<OutboxWrite, Then>, ctx: &mut Context<Self>) {
        let now = now();
        for (result, then) in done {
            match (then, result) {
                (Then::Accept(new), Ok(Some(id))) => self.accepted(id, new, now),
                (Then::Accept(NewMessage { send, .. }), other) => {
                    let e = other.err().map_or("no id".to_owned(), |e| e.to_string());
                    let _ = send.reply.send(Err(ControlError {
                        code: ErrorKind::Storage,
                        message: format!("cannot store the message: {e}"),
                    }));
                }
                (Then::Answer { msg, outcome }, result) => {
                    if let Err(e) = result {
                        tracing::error!(%msg, error = %e, "cannot record a message's outcome");
                    }
                    for w in self.waiters.remove(&msg).unwrap_or_default() {
                        let _ = w.send(outcome.clone());
                    }
                }
            }
        }
        self.carry_out(ctx);
    }
}

//! One control client: reads request [`lines`](super::lines), runs each
//! command and answers exactly once per request, in request order,
//! through the [`writer`](super::writer) task that owns the socket's write
//! half. A malformed line gets a `bad_request` (or `line_too_long`) reply
//! and the session keeps serving. `follow` turns the connection into a
//! stream: `following`, the replay, `live`, then new messages until the
//! client leaves; later request lines on it are ignored. `stop` goes to
//! the one shutdown path, which lets this session write its answer before
//! the daemon exits.
//!
//! The cost of a client is bounded ([`super::limits`]): at most
//! [`MAX_PENDING`] requests wait for their reply. When that many wait, the
//! session reads no further line until one is answered, unless the writer
//! holds [`MAX_UNSENT`](super::limits::MAX_UNSENT) bytes the client has not
//! read: then the client pipelines without reading, and it is cut off.

use std::sync::Arc;

use actix::prelude::*;
use futures_util::{Stream, StreamExt};
use peerd_shared::control::history::{HistoryCommand, HistoryRequest};
use peerd_shared::control::{Command, ControlError, ErrorKind, Reply, Request, MAX_LINE};
use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::commands::{execute, history, Services};
use super::limits::MAX_PENDING;
use super::lines::{lines, Line};
use super::writer::{self, Pending, Slot};
use crate::peer::inbox::Subscribe;
use crate::peer::lifecycle::Stop;

/// What the session reads: a line with its place among the pending
/// replies, or the verdict that the client does not read its replies.
pub enum Input {
    Line(Line, OwnedSemaphorePermit),
    CutOff,
}

/// A request as parsed: one of [`Command`], or of the history requests
/// ([`HistoryCommand`], which also covers `inbox`, `outbox` and `follow`).
enum Asked {
    Plain(Command),
    History(HistoryCommand),
}

/// The `cmd` words [`HistoryCommand`] parses.
const HISTORY: [&str; 7] = [
    "inbox",
    "outbox",
    "follow",
    "inbox_delete",
    "inbox_prune",
    "outbox_delete",
    "outbox_prune",
];

/// The actor serving one control connection.
pub struct Session {
    services: Services,
    slots: mpsc::UnboundedSender<Slot>,
    following: bool,
    /// Stops the writer at once (the client was cut off).
    cut: CancellationToken,
}

impl Session {
    /// Serves `stream` until the client disconnects (or is cut off).
    pub fn start(stream: UnixStream, services: Services) {
        let (read, write) = stream.into_split();
        let (slots, rx) = mpsc::unbounded_channel();
        let (stalled_tx, stalled) = watch::channel(false);
        let cut = CancellationToken::new();
        actix::spawn(writer::run(write, rx, stalled_tx, cut.clone()));
        Session::create(move |ctx| {
            ctx.add_stream(gate(Box::pin(lines(read)), stalled));
            Session {
                services,
                slots,
                following: false,
                cut,
            }
        });
    }

    fn send(&self, pending: Pending, permit: OwnedSemaphorePermit) {
        let slot = Slot {
            pending,
            _permit: permit,
        };
        let _ = self.slots.send(slot);
    }

    fn reply_now(&self, reply: Reply, permit: OwnedSemaphorePermit) {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(reply);
        self.send(Pending::Reply(rx), permit);
    }

    /// The request on `text`, or the reply that refuses it. The line is
    /// parsed once, into a JSON value the request is read from.
    fn parse(text: &str) -> Result<(Option<u64>, Asked), Box<Reply>> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| refuse(None, &e))?;
        let req = value.get("req").and_then(serde_json::Value::as_u64);
        let cmd = value.get("cmd").and_then(serde_json::Value::as_str);
        if cmd.is_some_and(|c| HISTORY.contains(&c)) {
            let request = HistoryRequest::deserialize(&value).map_err(|e| refuse(req, &e))?;
            known_fields(&value, &request, request.req)?;
            Ok((request.req, Asked::History(request.command)))
        } else {
            let request = Request::deserialize(&value).map_err(|e| refuse(req, &e))?;
            known_fields(&value, &request, request.req)?;
            Ok((request.req, Asked::Plain(request.command)))
        }
    }

    fn serve(&mut self, req: Option<u64>, asked: Asked, permit: OwnedSemaphorePermit) {
        let services = self.services.clone();
        let pending = match asked {
            Asked::History(HistoryCommand::Follow {
                from,
                limit,
                since_ms,
            }) => {
                self.following = true;
                let (tx, rx) = oneshot::channel();
                actix::spawn(async move {
                    let subscribe = Subscribe {
                        from,
                        limit,
                        since_ms,
                    };
                    let sub = match services.inbox.send(subscribe).await {
                        Ok(sub) => sub,
                        Err(e) => Err(stopping(e)),
                    };
                    let _ = tx.send(sub);
                });
                Pending::Follow(req, rx)
            }
            Asked::Plain(Command::Follow { from, limit }) => {
                let follow = HistoryCommand::Follow {
                    from,
                    limit,
                    since_ms: None,
                };
                return self.serve(req, Asked::History(follow), permit);
            }
            Asked::Plain(Command::Stop) => {
                let (answer, rx) = oneshot::channel();
                let why = "stop requested";
                let stop = Stop {
                    why,
                    answer: Some(answer),
                };
                services.lifecycle.do_send(stop);
                Pending::Stop(req, rx)
            }
            // A listing may be large: it is read from the store only when
            // the writer gets to it, so a connection holds at most one.
            Asked::History(
                command @ (HistoryCommand::Inbox { .. } | HistoryCommand::Outbox { .. }),
            ) => Pending::Lazy(Box::pin(async move {
                answer(req, history(&services, command).await)
            })),
            Asked::History(command) => {
                spawn_reply(async move { answer(req, history(&services, command).await) })
            }
            Asked::Plain(command) => {
                spawn_reply(async move { answer(req, execute(&services, command).await) })
            }
        };
        self.send(pending, permit);
    }
}

/// Runs `reply` now, on its own; the writer takes its outcome in turn.
fn spawn_reply(reply: impl std::future::Future<Output = Reply> + 'static) -> Pending {
    let (tx, rx) = oneshot::channel();
    actix::spawn(async move {
        let _ = tx.send(reply.await);
    });
    Pending::Reply(rx)
}

fn answer(
    req: Option<u64>,
    outcome: Result<peerd_shared::control::Response, ControlError>,
) -> Reply {
    match outcome {
        Ok(r) => Reply::ok(req, r),
        Err(e) => Reply::err(req, e.code, e.message),
    }
}

fn refuse(req: Option<u64>, e: &dyn std::fmt::Display) -> Box<Reply> {
    let msg = format!("malformed request: {e}");
    Box::new(Reply::err(req, ErrorKind::BadRequest, msg))
}

fn stopping(e: impl std::fmt::Display) -> ControlError {
    ControlError {
        code: ErrorKind::ShuttingDown,
        message: format!("the daemon is stopping ({e})"),
    }
}

/// The lines of a client, each with a permit among [`MAX_PENDING`]; when
/// none is left and the writer says the client reads nothing
/// (`stalled`), [`Input::CutOff`] and the end.
fn gate(
    lines: std::pin::Pin<Box<dyn Stream<Item = Line>>>,
    stalled: watch::Receiver<bool>,
) -> impl Stream<Item = Input> {
    let permits = Arc::new(Semaphore::new(MAX_PENDING));
    futures_util::stream::unfold(Some((lines, permits, stalled)), |state| async move {
        let (mut lines, permits, mut stalled) = state?;
        let permit = tokio::select! {
            biased;
            permit = permits.clone().acquire_owned() => permit.ok()?,
            seen = stalled.wait_for(|s| *s) => {
                // No permit left and nothing read: cut off. (An error:
                // the writer is gone, so is the client.)
                return seen.is_ok().then_some((Input::CutOff, None));
            }
        };
        let line = lines.next().await?;
        Some((Input::Line(line, permit), Some((lines, permits, stalled))))
    })
}

impl Actor for Session {
    type Context = Context<Self>;
}

impl StreamHandler<Input> for Session {
    fn handle(&mut self, input: Input, ctx: &mut Self::Context) {
        let (line, permit) = match input {
            Input::Line(line, permit) => (line, permit),
            Input::CutOff => {
                tracing::warn!(
                    "a control client sent {MAX_PENDING} requests without reading the replies; \
                     closing its connection"
                );
                self.cut.cancel();
                return ctx.stop();
            }
        };
        if self.following {
            return;
        }
        let text = match line {
            Line::Text(t) if t.trim().is_empty() => return,
            Line::Text(t) => t,
            Line::TooLong => {
                let msg = format!("request line exceeds {MAX_LINE} bytes");
                return self.reply_now(Reply::err(None, ErrorKind::LineTooLong, msg), permit);
            }
            Line::NotUtf8 => {
                let msg = "request is not UTF-8";
                return self.reply_now(Reply::err(None, ErrorKind::BadRequest, msg), permit);
            }
        };
        match Self::parse(&text) {
            Ok((req, asked)) => self.serve(req, asked, permit),
            Err(reply) => self.reply_now(*reply, permit),
        }
    }
}

/// Refuses a field of the request line that the request type does not
/// know (serde cannot deny unknown fields through `#[serde(flatten)]`, so
/// it is checked here: every non-null key must come back when the request
/// is written out).
fn known_fields<T: Serialize>(
    value: &serde_json::Value,
    request: &T,
    req: Option<u64>,
) -> Result<(), Box<Reply>> {
    let serde_json::Value::Object(input) = value else {
        return Ok(());
    };
    let Ok(serde_json::Value::Object(known)) = serde_json::to_value(request) else {
        return Ok(());
    };
    match input
        .iter()
        .find(|(k, v)| !v.is_null() && !known.contains_key(*k))
    {
        Some((field, _)) => Err(refuse(req, &format!("unknown field `{field}`"))),
        None => Ok(()),
    }
}

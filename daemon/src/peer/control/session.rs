//! One control client: reads request [`lines`](super::lines), runs each
//! command concurrently and answers exactly once per request, in request
//! order, through the [`writer`](super::writer) task that owns the socket's
//! write half. A malformed line gets a `bad_request` (or `line_too_long`)
//! reply and the session keeps serving. `follow` turns the connection into
//! a stream: `following`, the replay, `live`, then new messages until the
//! client leaves; later request lines on it are ignored. `stop` goes to
//! the one shutdown path, which lets this session write its answer before
//! the daemon exits.

use actix::prelude::*;
use peerd_shared::control::{Command, ControlError, ErrorKind, Reply, Request, MAX_LINE};
use serde::Deserialize;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

use super::commands::{execute, Services};
use super::lines::{lines, Line};
use super::writer::{self, Slot};
use crate::peer::inbox::Subscribe;
use crate::peer::lifecycle::Stop;

/// The actor serving one control connection.
pub struct Session {
    services: Services,
    slots: mpsc::UnboundedSender<Slot>,
    following: bool,
}

impl Session {
    /// Serves `stream` until the client disconnects.
    pub fn start(stream: UnixStream, services: Services) {
        let (read, write) = stream.into_split();
        let (slots, rx) = mpsc::unbounded_channel();
        actix::spawn(writer::run(write, rx));
        Session::create(move |ctx| {
            ctx.add_stream(lines(read));
            Session {
                services,
                slots,
                following: false,
            }
        });
    }

    fn reply_now(&self, reply: Reply) {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(reply);
        let _ = self.slots.send(Slot::Reply(rx));
    }

    /// The request on `text`, or the reply that refuses it. The line is
    /// parsed once, into a JSON value the request is read from.
    fn parse(text: &str) -> Result<Request, Box<Reply>> {
        let refuse = |req, e: &dyn std::fmt::Display| {
            let msg = format!("malformed request: {e}");
            Box::new(Reply::err(req, ErrorKind::BadRequest, msg))
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| refuse(None, &e))?;
        let req = value.get("req").and_then(serde_json::Value::as_u64);
        let request = Request::deserialize(&value).map_err(|e| refuse(req, &e))?;
        if let Some(field) = unknown_field(&value, &request) {
            return Err(refuse(request.req, &format!("unknown field `{field}`")));
        }
        Ok(request)
    }

    fn serve(&mut self, request: Request) {
        let services = self.services.clone();
        let req = request.req;
        let slot = match request.command {
            Command::Follow { from, limit } => {
                self.following = true;
                let (tx, rx) = oneshot::channel();
                actix::spawn(async move {
                    let sub = match services.inbox.send(Subscribe { from, limit }).await {
                        Ok(sub) => sub,
                        Err(e) => Err(stopping(e)),
                    };
                    let _ = tx.send(sub);
                });
                Slot::Follow(req, rx)
            }
            Command::Stop => {
                let (answer, rx) = oneshot::channel();
                let why = "stop requested";
                let stop = Stop {
                    why,
                    answer: Some(answer),
                };
                services.lifecycle.do_send(stop);
                Slot::Stop(req, rx)
            }
            command => {
                let (tx, rx) = oneshot::channel();
                actix::spawn(async move {
                    let reply = match execute(&services, command).await {
                        Ok(r) => Reply::ok(req, r),
                        Err(e) => Reply::err(req, e.code, e.message),
                    };
                    let _ = tx.send(reply);
                });
                Slot::Reply(rx)
            }
        };
        let _ = self.slots.send(slot);
    }
}

fn stopping(e: impl std::fmt::Display) -> ControlError {
    ControlError {
        code: ErrorKind::ShuttingDown,
        message: format!("the daemon is stopping ({e})"),
    }
}

impl Actor for Session {
    type Context = Context<Self>;
}

impl StreamHandler<Line> for Session {
    fn handle(&mut self, line: Line, _ctx: &mut Self::Context) {
        if self.following {
            return;
        }
        let text = match line {
            Line::Text(t) if t.trim().is_empty() => return,
            Line::Text(t) => t,
            Line::TooLong => {
                let msg = format!("request line exceeds {MAX_LINE} bytes");
                return self.reply_now(Reply::err(None, ErrorKind::LineTooLong, msg));
            }
            Line::NotUtf8 => {
                let msg = "request is not UTF-8";
                return self.reply_now(Reply::err(None, ErrorKind::BadRequest, msg));
            }
        };
        match Self::parse(&text) {
            Ok(request) => self.serve(request),
            Err(reply) => self.reply_now(*reply),
        }
    }
}

/// A field of the request line that the request type does not know (serde
/// cannot deny unknown fields through `#[serde(flatten)]`, so it is checked
/// here: every non-null key must come back when the request is written out).
fn unknown_field(value: &serde_json::Value, request: &Request) -> Option<String> {
    let serde_json::Value::Object(input) = value else {
        return None;
    };
    let serde_json::Value::Object(known) = serde_json::to_value(request).ok()? else {
        return None;
    };
    input
        .iter()
        .find(|(k, v)| !v.is_null() && !known.contains_key(*k))
        .map(|(k, _)| k.clone())
}

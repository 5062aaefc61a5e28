//! One control client: reads JSON request lines (at most `MAX_LINE` bytes),
//! runs each command concurrently and answers exactly once per request, in
//! request order, through a writer task that owns the socket's write half.
//! A malformed line gets a `bad_request` (or `line_too_long`) reply and the
//! session keeps serving. `follow` turns the connection into a stream:
//! `following`, the replay, `live`, then new messages until the client
//! leaves; later request lines on it are ignored.

use actix::prelude::*;
use peerd_shared::control::{
    Command, ControlError, ErrorKind, Event, Reply, Request, Response, MAX_LINE,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

use super::commands::{begin_shutdown, execute, finish_shutdown, Services};
use super::inbox::{Subscribe, Subscription};

/// One line read from the client.
pub enum Line {
    Text(String),
    TooLong,
    NotUtf8,
}

/// What the writer sends next, in request order.
enum Slot {
    Reply(oneshot::Receiver<Reply>),
    Follow(
        Option<u64>,
        oneshot::Receiver<Result<Subscription, ControlError>>,
    ),
    Stop(oneshot::Receiver<Reply>),
}

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
        actix::spawn(writer(write, rx, services.clone()));
        Session::create(move |ctx| {
            ctx.add_stream(lines(read));
            Session {
                services,
                slots,
                following: false,
            }
        });
    }

    fn reply_later<F>(&self, fut: F)
    where
        F: std::future::Future<Output = Reply> + 'static,
    {
        let (tx, rx) = oneshot::channel();
        actix::spawn(async move {
            let _ = tx.send(fut.await);
        });
        let _ = self.slots.send(Slot::Reply(rx));
    }

    fn reply_now(&self, reply: Reply) {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(reply);
        let _ = self.slots.send(Slot::Reply(rx));
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
                return self.reply_now(Reply::err(
                    None,
                    ErrorKind::BadRequest,
                    "request is not UTF-8",
                ));
            }
        };
        let request: Request = match serde_json::from_str(&text) {
            Ok(r) => r,
            Err(e) => {
                let req = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v.get("req").and_then(serde_json::Value::as_u64));
                let msg = format!("malformed request: {e}");
                return self.reply_now(Reply::err(req, ErrorKind::BadRequest, msg));
            }
        };
        let req = request.req;
        if let Some(field) = unknown_field(&text, &request) {
            let msg = format!("malformed request: unknown field `{field}`");
            return self.reply_now(Reply::err(req, ErrorKind::BadRequest, msg));
        }
        let services = self.services.clone();
        match request.command {
            Command::Follow { from, limit } => {
                self.following = true;
                let (tx, rx) = oneshot::channel();
                actix::spawn(async move {
                    let sub = match services.inbox.send(Subscribe { from, limit }).await {
                        Ok(Ok(sub)) => Ok(sub),
                        Ok(Err(e)) => Err(ControlError {
                            code: ErrorKind::Storage,
                            message: e.to_string(),
                        }),
                        Err(e) => Err(ControlError {
                            code: ErrorKind::ShuttingDown,
                            message: format!("the daemon is stopping ({e})"),
                        }),
                    };
                    let _ = tx.send(sub);
                });
                let _ = self.slots.send(Slot::Follow(req, rx));
            }
            Command::Stop => {
                let (tx, rx) = oneshot::channel();
                actix::spawn(async move {
                    begin_shutdown(&services).await;
                    let _ = tx.send(Reply::ok(req, Response::Stopping));
                });
                let _ = self.slots.send(Slot::Stop(rx));
            }
            command => self.reply_later(async move {
                match execute(&services, command).await {
                    Ok(r) => Reply::ok(req, r),
                    Err(e) => Reply::err(req, e.code, e.message),
                }
            }),
        }
    }
}

/// A field of the request line that the request type does not know (serde
/// cannot deny unknown fields through `#[serde(flatten)]`, so it is checked
/// here: every non-null key must come back when the request is written out).
fn unknown_field(text: &str, request: &Request) -> Option<String> {
    let serde_json::Value::Object(input) = serde_json::from_str(text).ok()? else {
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

/// The client's lines, each at most `MAX_LINE` bytes (longer ones are
/// skipped up to their newline and reported as [`Line::TooLong`]).
fn lines(read: OwnedReadHalf) -> impl futures_util::Stream<Item = Line> {
    futures_util::stream::unfold(BufReader::new(read), |mut r| async move {
        let mut buf = Vec::new();
        let mut too_long = false;
        loop {
            let chunk = match r.fill_buf().await {
                Ok(c) => c,
                Err(_) => return None,
            };
            if chunk.is_empty() {
                if buf.is_empty() && !too_long {
                    return None;
                }
                break;
            }
            let (part, used, end) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (&chunk[..i], i + 1, true),
                None => (chunk, chunk.len(), false),
            };
            if !too_long {
                buf.extend_from_slice(part);
                if buf.len() > MAX_LINE {
                    too_long = true;
                    buf = Vec::new();
                }
            }
            r.consume(used);
            if end {
                break;
            }
        }
        let line = if too_long {
            Line::TooLong
        } else {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            String::from_utf8(buf).map_or(Line::NotUtf8, Line::Text)
        };
        Some((line, r))
    })
}

async fn write_line<T: serde::Serialize>(
    out: &mut BufWriter<OwnedWriteHalf>,
    value: &T,
) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    out.write_all(&bytes).await
}

/// Writes replies in request order, then (after `follow`) the event stream.
async fn writer(
    write: OwnedWriteHalf,
    mut slots: mpsc::UnboundedReceiver<Slot>,
    services: Services,
) {
    let mut out = BufWriter::new(write);
    while let Some(slot) = slots.recv().await {
        let result = match slot {
            Slot::Reply(rx) => {
                let reply = rx.await.unwrap_or_else(|_| {
                    Reply::err(None, ErrorKind::ShuttingDown, "the daemon is stopping")
                });
                write_line(&mut out, &reply).await
            }
            Slot::Stop(rx) => {
                let reply = rx
                    .await
                    .unwrap_or_else(|_| Reply::ok(None, Response::Stopping));
                let r = async {
                    write_line(&mut out, &reply).await?;
                    out.flush().await
                }
                .await;
                finish_shutdown();
                r
            }
            Slot::Follow(req, rx) => {
                let sub = rx.await.unwrap_or_else(|_| {
                    Err(ControlError {
                        code: ErrorKind::ShuttingDown,
                        message: "the daemon is stopping".into(),
                    })
                });
                let _ = follow(&mut out, &mut slots, req, sub, &services).await;
                return;
            }
        };
        if result.is_err() {
            return;
        }
        if slots.is_empty() && out.flush().await.is_err() {
            return;
        }
    }
    let _ = out.flush().await;
}

async fn follow(
    out: &mut BufWriter<OwnedWriteHalf>,
    slots: &mut mpsc::UnboundedReceiver<Slot>,
    req: Option<u64>,
    sub: Result<Subscription, ControlError>,
    services: &Services,
) -> std::io::Result<()> {
    let mut sub = match sub {
        Ok(s) => s,
        Err(e) => {
            write_line(out, &Reply::err(req, e.code, e.message)).await?;
            return out.flush().await;
        }
    };
    write_line(out, &Reply::ok(req, Response::Following)).await?;
    for message in std::mem::take(&mut sub.replay) {
        write_line(out, &Event::Message { message }).await?;
    }
    write_line(out, &Event::Live).await?;
    out.flush().await?;
    loop {
        tokio::select! {
            item = sub.live.recv() => match item {
                Some((row, _)) if row <= sub.replayed_upto => {}
                Some((_, message)) => {
                    write_line(out, &Event::Message { message }).await?;
                    if sub.live.is_empty() {
                        out.flush().await?;
                    }
                }
                None => {
                    let stopping = services.stopping.load(std::sync::atomic::Ordering::Relaxed);
                    let event = if stopping { Event::Closing } else { Event::Overflow };
                    write_line(out, &event).await?;
                    return out.flush().await;
                }
            },
            // The session ended: the client went away.
            slot = slots.recv() => if slot.is_none() {
                return Ok(());
            },
        }
    }
}

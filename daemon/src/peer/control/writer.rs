//! The writing side of a control session: replies in request order (each
//! slot waits for its command), written from a buffer as fast as the client
//! reads them, and after `follow` the event stream until the client leaves
//! or the stream ends (`closing` at shutdown, `overflow` for a follower cut
//! off).
//!
//! The buffer holds the reply lines the client has not read yet. While it
//! holds [`MAX_UNSENT`] bytes or more, no further reply is taken (nor a
//! listing read from the store) and the session is told the writer is
//! stalled; it cuts a client off that keeps sending requests meanwhile.
//! A reply line longer than [`MAX_REPLY_LINE`] is replaced by a
//! `reply_too_large` error.

use std::future::Future;
use std::pin::Pin;

use futures_util::SinkExt;
use peerd_shared::control::{ControlError, ErrorKind, Event, Reply, Response, MAX_REPLY_LINE};
use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit};
use tokio_util::bytes::{BufMut, BytesMut};
use tokio_util::codec::{FramedWrite, LinesCodec};
use tokio_util::sync::CancellationToken;

use super::limits::MAX_UNSENT;
use super::lines::codec;
use crate::peer::inbox::{End, Subscription};

/// A buffer emptied after holding more than this keeps no more capacity.
const KEEP_CAPACITY: usize = 64 * 1024;

/// One request's reply, in request order, and its place among the
/// requests pending on the connection (given back once the reply is in
/// the buffer).
pub struct Slot {
    pub pending: Pending,
    /// Held, not read: dropping it frees the place.
    pub _permit: OwnedSemaphorePermit,
}

/// How the reply of a slot comes.
pub enum Pending {
    /// From a command already running.
    Reply(oneshot::Receiver<Reply>),
    /// From a command run when the writer gets to it (a listing).
    Lazy(Pin<Box<dyn Future<Output = Reply>>>),
    Follow(
        Option<u64>,
        oneshot::Receiver<Result<Subscription, ControlError>>,
    ),
    /// `stop`: the answer is written when the shutdown path hands over
    /// the sender to signal once it is.
    Stop(Option<u64>, oneshot::Receiver<oneshot::Sender<()>>),
}

/// The next thing the writer has to write.
enum Next {
    Line(String),
    Stop(String, Option<oneshot::Sender<()>>),
    Follow(Option<u64>, Result<Subscription, ControlError>),
    /// The session ended and every reply is taken.
    Closed,
}

fn stopping() -> ControlError {
    ControlError {
        code: ErrorKind::ShuttingDown,
        message: "the daemon is stopping".into(),
    }
}

/// The line of `reply`, or of a `reply_too_large` error in its place.
fn line(reply: &Reply) -> String {
    line_within(reply, MAX_REPLY_LINE)
}

fn line_within(reply: &Reply, max: usize) -> String {
    let text = match serde_json::to_string(reply) {
        Ok(text) => text,
        Err(e) => {
            let why = format!("cannot encode the reply: {e}");
            return line_within(&Reply::err(reply.req, ErrorKind::Internal, why), max);
        }
    };
    if text.len() <= max {
        return text;
    }
    let why = format!(
        "the reply would be {} bytes, over the {max} bytes a reply line may hold; \
         ask for fewer messages (limit, since_ms) or remove old ones (inbox_prune, outbox_prune)",
        text.len()
    );
    line_within(&Reply::err(reply.req, ErrorKind::ReplyTooLarge, why), max)
}

/// Waits for the reply of the slot at the head (taking one when there is
/// none); the slot, and its permit, go once it is there. Cancel-safe: a
/// reply not there yet stays at the head.
async fn next(slots: &mut mpsc::UnboundedReceiver<Slot>, head: &mut Option<Slot>) -> Next {
    if head.is_none() {
        match slots.recv().await {
            Some(slot) => *head = Some(slot),
            None => return Next::Closed,
        }
    }
    let Some(slot) = head.as_mut() else {
        return Next::Closed;
    };
    let next = match &mut slot.pending {
        Pending::Reply(rx) => {
            let reply = rx
                .await
                .unwrap_or_else(|_| Reply::err(None, ErrorKind::ShuttingDown, stopping().message));
            Next::Line(line(&reply))
        }
        Pending::Lazy(reply) => Next::Line(line(&reply.as_mut().await)),
        Pending::Follow(req, rx) => {
            Next::Follow(*req, rx.await.unwrap_or_else(|_| Err(stopping())))
        }
        Pending::Stop(req, rx) => {
            let signal = rx.await.ok();
            Next::Stop(line(&Reply::ok(*req, Response::Stopping)), signal)
        }
    };
    *head = None;
    next
}

fn push(out: &mut BytesMut, line: &str) {
    out.reserve(line.len() + 1);
    out.put_slice(line.as_bytes());
    out.put_u8(b'\n');
}

/// Writes replies in request order, then (after `follow`) the event
/// stream; returns at once when `cut`.
pub async fn run(
    mut write: OwnedWriteHalf,
    mut slots: mpsc::UnboundedReceiver<Slot>,
    stalled: watch::Sender<bool>,
    cut: CancellationToken,
) {
    let mut out = BytesMut::new();
    let mut head: Option<Slot> = None;
    let mut open = true;
    loop {
        if out.is_empty() {
            if !open {
                return;
            }
            if out.capacity() > KEEP_CAPACITY {
                out = BytesMut::new();
            }
        }
        let room = out.len() < MAX_UNSENT;
        stalled.send_if_modified(|s| std::mem::replace(s, !room) == room);
        tokio::select! {
            biased;
            () = cut.cancelled() => return,
            written = write.write_buf(&mut out), if !out.is_empty() => {
                if !matches!(written, Ok(1..)) {
                    return;
                }
            }
            next = next(&mut slots, &mut head), if room && open => match next {
                Next::Line(line) => push(&mut out, &line),
                Next::Closed => open = false,
                Next::Stop(line, signal) => {
                    push(&mut out, &line);
                    let written = write.write_all_buf(&mut out).await;
                    drop(signal);
                    if written.is_err() {
                        return;
                    }
                }
                Next::Follow(req, sub) => {
                    if write.write_all_buf(&mut out).await.is_ok() {
                        let mut framed = FramedWrite::new(write, codec());
                        let _ = follow(&mut framed, &mut slots, req, sub).await;
                    }
                    return;
                }
            },
        }
    }
}

type Out = FramedWrite<OwnedWriteHalf, LinesCodec>;

async fn feed<T: serde::Serialize>(out: &mut Out, value: &T) -> std::io::Result<()> {
    let line = serde_json::to_string(value).map_err(std::io::Error::other)?;
    out.feed(line).await.map_err(std::io::Error::other)
}

async fn flush(out: &mut Out) -> std::io::Result<()> {
    SinkExt::<String>::flush(out)
        .await
        .map_err(std::io::Error::other)
}

async fn follow(
    out: &mut Out,
    slots: &mut mpsc::UnboundedReceiver<Slot>,
    req: Option<u64>,
    sub: Result<Subscription, ControlError>,
) -> std::io::Result<()> {
    let mut sub = match sub {
        Ok(s) => s,
        Err(e) => {
            out.feed(line(&Reply::err(req, e.code, e.message)))
                .await
                .map_err(std::io::Error::other)?;
            return flush(out).await;
        }
    };
    feed(out, &Reply::ok(req, Response::Following)).await?;
    for message in std::mem::take(&mut sub.replay) {
        feed(out, &Event::Message { message }).await?;
    }
    feed(out, &Event::Live).await?;
    flush(out).await?;
    loop {
        tokio::select! {
            item = sub.live.recv() => match item {
                Some((row, _)) if row <= sub.replayed_upto => {}
                Some((_, message)) => {
                    feed(out, &Event::Message { message }).await?;
                    if sub.live.is_empty() {
                        flush(out).await?;
                    }
                }
                None => {
                    let event = match (&mut sub.end).await {
                        Ok(End::Overflow) => Event::Overflow,
                        _ => Event::Closing,
                    };
                    feed(out, &event).await?;
                    // `sub.done` is dropped on return: the line is out.
                    return flush(out).await;
                }
            },
            // The session ended: the client went away.
            slot = slots.recv() => if slot.is_none() {
                return Ok(());
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerd_shared::control::{InboxEntry, PathKind};

    #[test]
    fn a_reply_over_the_limit_becomes_reply_too_large_with_its_req() {
        let message = InboxEntry {
            from: peerd_shared::PeerId::new(2).expect("id"),
            msg: peerd_shared::MsgId(1),
            text: "z".repeat(1000),
            addr: "127.0.0.1:9".into(),
            path: PathKind::Direct,
            sent_ms: 1,
            received_ms: 2,
        };
        let reply = Reply::ok(
            Some(7),
            Response::Inbox {
                messages: vec![message; 3],
            },
        );
        let whole = line_within(&reply, 4000);
        assert!(whole.len() > 3000 && whole.contains("zzz"), "{whole}");
        let refused: Reply = serde_json::from_str(&line_within(&reply, 2000)).expect("JSON");
        assert_eq!(refused.req, Some(7));
        let e = refused.error.expect("an error");
        assert_eq!(e.code, ErrorKind::ReplyTooLarge);
        assert!(e.message.contains("over the 2000 bytes"), "{}", e.message);
    }
}

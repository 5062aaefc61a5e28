//! The writing side of a control session: replies in request order (each
//! slot waits for its command), flushed when no other reply is ready, and
//! after `follow` the event stream until the client leaves or the stream
//! ends (`closing` at shutdown, `overflow` for a follower cut off).

use futures_util::SinkExt;
use peerd_shared::control::{ControlError, ErrorKind, Event, Reply, Response};
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedWrite, LinesCodec};

use super::lines::codec;
use crate::peer::inbox::{End, Subscription};

/// What the writer sends next, in request order.
pub enum Slot {
    Reply(oneshot::Receiver<Reply>),
    Follow(
        Option<u64>,
        oneshot::Receiver<Result<Subscription, ControlError>>,
    ),
    /// `stop`: the answer is written when the shutdown path hands over
    /// the sender to signal once it is.
    Stop(Option<u64>, oneshot::Receiver<oneshot::Sender<()>>),
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

/// Writes replies in request order, then (after `follow`) the event stream.
pub async fn run(write: OwnedWriteHalf, mut slots: mpsc::UnboundedReceiver<Slot>) {
    let mut out = FramedWrite::new(write, codec());
    while let Some(slot) = slots.recv().await {
        let written = match slot {
            Slot::Reply(rx) => {
                let reply = rx.await.unwrap_or_else(|_| {
                    Reply::err(None, ErrorKind::ShuttingDown, "the daemon is stopping")
                });
                feed(&mut out, &reply).await
            }
            Slot::Stop(req, rx) => {
                let signal = rx.await.ok();
                let reply = Reply::ok(req, Response::Stopping);
                let written = async {
                    feed(&mut out, &reply).await?;
                    flush(&mut out).await
                }
                .await;
                drop(signal);
                written
            }
            Slot::Follow(req, rx) => {
                let sub = rx.await.unwrap_or_else(|_| {
                    Err(ControlError {
                        code: ErrorKind::ShuttingDown,
                        message: "the daemon is stopping".into(),
                    })
                });
                let _ = follow(&mut out, &mut slots, req, sub).await;
                return;
            }
        };
        if written.is_err() {
            return;
        }
        if slots.is_empty() && flush(&mut out).await.is_err() {
            return;
        }
    }
    let _ = flush(&mut out).await;
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
            feed(out, &Reply::err(req, e.code, e.message)).await?;
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

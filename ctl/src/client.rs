//! A small client of the daemon's control socket, usable by any program:
//! [`Client::connect`] dials the Unix socket, [`Client::request`] sends one
//! request and returns its [`Response`] ([`Client::submit`] and
//! [`Client::next_reply`] pipeline many), and [`Client::follow`] turns
//! the connection into a [`Follower`] that yields inbox [`Event`]s as the
//! daemon streams them.
//!
//! The protocol is `docs/control.md`: one JSON object per line (framed by
//! `tokio_util`'s [`LinesCodec`]), a request at most
//! [`MAX_LINE`](peerd_shared::control::MAX_LINE) bytes
//! and a reply or event at most [`MAX_REPLY_LINE`], one reply per request,
//! in order.

use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use peerd_shared::control::{
    Command, ControlError, ErrorKind, Event, Reply, Response, MAX_REPLY_LINE,
};
use peerd_shared::proto::MAX_TEXT;
use peerd_shared::PeerId;
use serde::Serialize;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec, LinesCodecError};

/// Everything that can go wrong between a client and the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No socket file: the daemon is not running (or uses another path).
    #[error("peerd is not running (no socket at {}); start it with `peerd start`", .path.display())]
    NotRunning { path: PathBuf },
    /// A socket file with nothing listening: a daemon died without cleaning up.
    #[error("peerd is not running (stale socket at {}); start it with `peerd start`", .path.display())]
    StaleSocket { path: PathBuf },
    /// The path exists but is no socket (a regular file, a directory, ...):
    /// no daemon ever listened there; the path is probably wrong.
    #[error(
        "{} is not a socket but {what}: no peerd listens there; check --socket \
         (or PEERD_SOCKET, `socket` in the config file, --data-dir)",
        .path.display()
    )]
    NotASocket { path: PathBuf, what: &'static str },
    /// Any other failure to dial the socket (permissions, ...).
    #[error("cannot connect to peerd at {}: {source}", .path.display())]
    Connect { path: PathBuf, source: io::Error },
    /// Reading or writing the established connection failed.
    #[error("lost the connection to peerd: {0}")]
    Io(#[from] io::Error),
    /// The daemon closed the connection (before answering, or mid-stream).
    #[error("peerd closed the connection")]
    Closed,
    /// The daemon sent something that is not the control protocol.
    #[error("unexpected answer from peerd: {0}")]
    Protocol(String),
    /// No answer within the allowed time.
    #[error("peerd did not answer within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// The daemon answered with an error.
    #[error("{0}")]
    Daemon(ControlError),
}

impl ClientError {
    /// A stable snake_case code, the daemon's own for [`ClientError::Daemon`]:
    /// `not_running`, `not_a_socket`, `connect`, `io`, `closed`, `protocol`,
    /// `timeout`.
    pub fn code(&self) -> String {
        match self {
            Self::NotRunning { .. } | Self::StaleSocket { .. } => "not_running".into(),
            Self::NotASocket { .. } => "not_a_socket".into(),
            Self::Connect { .. } => "connect".into(),
            Self::Io(_) => "io".into(),
            Self::Closed => "closed".into(),
            Self::Protocol(_) => "protocol".into(),
            Self::Timeout(_) => "timeout".into(),
            Self::Daemon(e) => kind_code(e.code),
        }
    }

    /// True when no daemon is listening on the socket.
    pub fn is_not_running(&self) -> bool {
        matches!(self, Self::NotRunning { .. } | Self::StaleSocket { .. })
    }

    /// True when the connection to a daemon that was there ended (it
    /// stopped or crashed): the cases a follower reconnects after.
    pub fn is_lost(&self) -> bool {
        matches!(self, Self::Io(_) | Self::Closed)
    }
}

/// The wire spelling of an [`ErrorKind`] (`unknown_peer`, ...).
pub fn kind_code(kind: ErrorKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".into(),
    }
}

/// What kind of file `path` is when it exists and is not a socket.
fn not_a_socket(path: &Path) -> Option<&'static str> {
    let kind = std::fs::metadata(path).ok()?.file_type();
    (!kind.is_socket()).then(|| peerd_shared::paths::file_kind(&kind))
}

/// One request line: `req` and the command's fields, flattened.
#[derive(Serialize)]
struct Envelope<'a, C> {
    req: u64,
    #[serde(flatten)]
    command: &'a C,
}

/// One connection to the daemon's control socket.
#[derive(Debug)]
pub struct Client {
    reader: FramedRead<OwnedReadHalf, LinesCodec>,
    writer: FramedWrite<OwnedWriteHalf, LinesCodec>,
    next_req: u64,
}

impl Client {
    /// Dials the control socket at `path`, telling "not running" (no file),
    /// "stale socket" (a socket file nobody listens on) and "not a socket"
    /// (any other file) apart from other errors.
    pub async fn connect(path: &Path) -> Result<Self, ClientError> {
        let stream = UnixStream::connect(path).await.map_err(|source| {
            let path = path.to_path_buf();
            if source.kind() == io::ErrorKind::NotFound {
                return ClientError::NotRunning { path };
            }
            if let Some(what) = not_a_socket(&path) {
                return ClientError::NotASocket { path, what };
            }
            match source.kind() {
                io::ErrorKind::ConnectionRefused => ClientError::StaleSocket { path },
                _ => ClientError::Connect { path, source },
            }
        })?;
        let (read, write) = stream.into_split();
        Ok(Self {
            reader: FramedRead::new(read, LinesCodec::new_with_max_length(MAX_REPLY_LINE)),
            writer: FramedWrite::new(write, LinesCodec::new()),
            next_req: 1,
        })
    }

    /// Sends `command` (a [`Command`], or any request type of
    /// `peerd_shared::control` tagged by `cmd`) and waits for its reply; a
    /// daemon error becomes [`ClientError::Daemon`].
    pub async fn request<C: Serialize>(&mut self, command: C) -> Result<Response, ClientError> {
        let req = self.submit(command).await?;
        let (answered, outcome) = self.next_reply().await?;
        if answered.is_some_and(|r| r != req) {
            return Err(ClientError::Protocol(format!(
                "reply to request {answered:?}, expected {req}"
            )));
        }
        outcome.map_err(ClientError::Daemon)
    }

    /// Writes a request without waiting for its reply, for pipelining many
    /// requests on one connection; returns the `req` number it carries.
    /// Replies come back in request order through [`Client::next_reply`].
    pub async fn submit<C: Serialize>(&mut self, command: C) -> Result<u64, ClientError> {
        let req = self.next_req;
        self.next_req += 1;
        let line = serde_json::to_string(&Envelope {
            req,
            command: &command,
        })
        .map_err(|e| ClientError::Protocol(format!("cannot encode request: {e}")))?;
        self.writer.send(line).await.map_err(codec_error)?;
        Ok(req)
    }

    /// Reads the next reply: the `req` it echoes and its outcome.
    pub async fn next_reply(
        &mut self,
    ) -> Result<(Option<u64>, Result<Response, ControlError>), ClientError> {
        let line = next_line(&mut self.reader)
            .await?
            .ok_or(ClientError::Closed)?;
        let reply: Reply = serde_json::from_str(&line)
            .map_err(|e| ClientError::Protocol(format!("{e} in reply {}", clip(&line))))?;
        Ok((reply.req, reply.into_result()))
    }

    /// Like [`Client::request`], failing with [`ClientError::Timeout`] after
    /// `limit`; `None` waits without limit.
    pub async fn request_within<C: Serialize>(
        &mut self,
        command: C,
        limit: Option<Duration>,
    ) -> Result<Response, ClientError> {
        match limit {
            Some(limit) => tokio::time::timeout(limit, self.request(command))
                .await
                .map_err(|_| ClientError::Timeout(limit))?,
            None => self.request(command).await,
        }
    }

    /// Asks the daemon to stream the inbox (optionally only `from` one peer,
    /// replaying at most the newest `limit`), then new messages.
    pub async fn follow(
        self,
        from: Option<PeerId>,
        limit: Option<u32>,
    ) -> Result<Follower, ClientError> {
        self.follow_with(Command::Follow { from, limit }).await
    }

    /// Like [`Client::follow`] with any `follow` request (e.g. one with
    /// `since_ms`, `peerd_shared::control::history::HistoryCommand::Follow`).
    pub async fn follow_with<C: Serialize>(mut self, command: C) -> Result<Follower, ClientError> {
        match self.request(command).await? {
            Response::Following => Ok(Follower {
                reader: self.reader,
                _writer: self.writer,
            }),
            other => Err(ClientError::Protocol(format!(
                "expected `follow`, got {other:?}"
            ))),
        }
    }

    /// Waits until the daemon closes the connection (after `stop`), at most
    /// `limit` (`None`: without limit). Returns whether it did.
    pub async fn wait_closed(mut self, limit: Option<Duration>) -> bool {
        let drain = async { while let Some(Ok(_)) = self.reader.next().await {} };
        match limit {
            Some(limit) => tokio::time::timeout(limit, drain).await.is_ok(),
            None => {
                drain.await;
                true
            }
        }
    }
}

/// The inbox stream of a `follow` request.
#[derive(Debug)]
pub struct Follower {
    reader: FramedRead<OwnedReadHalf, LinesCodec>,
    /// Kept so the daemon does not see the client go away.
    _writer: FramedWrite<OwnedWriteHalf, LinesCodec>,
}

impl Follower {
    /// The next event; `None` when the daemon closed the connection.
    /// Events of kinds this client does not know are skipped.
    pub async fn next_event(&mut self) -> Result<Option<Event>, ClientError> {
        loop {
            let Some(line) = next_line(&mut self.reader).await? else {
                return Ok(None);
            };
            match serde_json::from_str::<Event>(&line) {
                Ok(event) => return Ok(Some(event)),
                Err(e) => {
                    let value: serde_json::Value = serde_json::from_str(&line).map_err(|_| {
                        ClientError::Protocol(format!("{e} in event {}", clip(&line)))
                    })?;
                    if value.get("event").is_none() {
                        return Err(ClientError::Protocol(format!(
                            "not an event: {}",
                            clip(&line)
                        )));
                    }
                }
            }
        }
    }
}

/// The next line of at most [`MAX_REPLY_LINE`] bytes; `None` at end of stream.
async fn next_line(
    reader: &mut FramedRead<OwnedReadHalf, LinesCodec>,
) -> Result<Option<String>, ClientError> {
    reader.next().await.transpose().map_err(codec_error)
}

fn codec_error(e: LinesCodecError) -> ClientError {
    match e {
        LinesCodecError::MaxLineLengthExceeded => {
            ClientError::Protocol(format!("line longer than {MAX_REPLY_LINE} bytes"))
        }
        LinesCodecError::Io(e) if e.kind() == io::ErrorKind::InvalidData => {
            ClientError::Protocol("line is not UTF-8".into())
        }
        LinesCodecError::Io(e) => ClientError::Io(e),
    }
}

/// The start of `line`, for error messages.
fn clip(line: &str) -> String {
    let mut end = line.len().min(120);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}", &line[..end])
}

/// Why `text` cannot be sent, checked before any contact with the
/// daemon: a stable code (`empty_text`, `text_too_long`) and a sentence;
/// `None` when it can go. A text of only white space counts as empty.
pub fn refuse_text(text: &str) -> Option<(&'static str, String)> {
    if text.trim().is_empty() {
        return Some(("empty_text", "the text is empty".into()));
    }
    (text.len() > MAX_TEXT).then(|| {
        (
            "text_too_long",
            format!(
                "the text is {} bytes; a message holds at most {MAX_TEXT} bytes",
                text.len()
            ),
        )
    })
}

#[cfg(test)]
mod tests;

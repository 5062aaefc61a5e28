//! A small client of the daemon's control socket, usable by any program:
//! [`Client::connect`] dials the Unix socket, [`Client::request`] sends one
//! [`Command`] and returns its [`Response`] ([`Client::submit`] and
//! [`Client::next_reply`] pipeline many), and [`Client::follow`] turns
//! the connection into a [`Follower`] that yields inbox [`Event`]s as the
//! daemon streams them.
//!
//! The protocol is `docs/control.md`: one JSON object per line, every line
//! at most [`MAX_LINE`] bytes, one reply per request, in order.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use peerd_shared::control::{
    Command, ControlError, ErrorKind, Event, Reply, Request, Response, MAX_LINE,
};
use peerd_shared::wire::MAX_TEXT;
use peerd_shared::PeerId;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

/// Everything that can go wrong between a client and the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No socket file: the daemon is not running (or uses another path).
    #[error("peerd is not running (no socket at {}); start it with `peerd start`", .path.display())]
    NotRunning { path: PathBuf },
    /// A socket file with nothing listening: a daemon died without cleaning up.
    #[error("peerd is not running (stale socket at {}); start it with `peerd start`", .path.display())]
    StaleSocket { path: PathBuf },
    /// Any other failure to dial the socket (permissions, not a socket, ...).
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
    #[error("peerd did not answer within {}", crate::duration::format(*.0))]
    Timeout(Duration),
    /// The daemon answered with an error.
    #[error("{0}")]
    Daemon(ControlError),
}

impl ClientError {
    /// A stable snake_case code, the daemon's own for [`ClientError::Daemon`]:
    /// `not_running`, `connect`, `io`, `closed`, `protocol`, `timeout`.
    pub fn code(&self) -> String {
        match self {
            Self::NotRunning { .. } | Self::StaleSocket { .. } => "not_running".into(),
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
}

/// The wire spelling of an [`ErrorKind`] (`unknown_peer`, ...).
pub fn kind_code(kind: ErrorKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".into(),
    }
}

/// One connection to the daemon's control socket.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_req: u64,
}

impl Client {
    /// Dials the control socket at `path`, telling "not running" (no file)
    /// and "stale socket" (a file nobody listens on) apart from other errors.
    pub async fn connect(path: &Path) -> Result<Self, ClientError> {
        let stream = UnixStream::connect(path).await.map_err(|source| {
            let path = path.to_path_buf();
            match source.kind() {
                io::ErrorKind::NotFound => ClientError::NotRunning { path },
                io::ErrorKind::ConnectionRefused => ClientError::StaleSocket { path },
                _ => ClientError::Connect { path, source },
            }
        })?;
        let (read, writer) = stream.into_split();
        Ok(Self {
            reader: BufReader::new(read),
            writer,
            next_req: 1,
        })
    }

    /// Sends `command` and waits for its reply; a daemon error becomes
    /// [`ClientError::Daemon`].
    pub async fn request(&mut self, command: Command) -> Result<Response, ClientError> {
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
    pub async fn submit(&mut self, command: Command) -> Result<u64, ClientError> {
        let req = self.next_req;
        self.next_req += 1;
        self.write(&Request {
            req: Some(req),
            command,
        })
        .await?;
        Ok(req)
    }

    /// Reads the next reply: the `req` it echoes and its outcome.
    pub async fn next_reply(
        &mut self,
    ) -> Result<(Option<u64>, Result<Response, ControlError>), ClientError> {
        let line = read_line(&mut self.reader)
            .await?
            .ok_or(ClientError::Closed)?;
        let reply: Reply = serde_json::from_str(&line)
            .map_err(|e| ClientError::Protocol(format!("{e} in reply {}", clip(&line))))?;
        Ok((reply.req, reply.into_result()))
    }

    /// Like [`Client::request`], failing with [`ClientError::Timeout`] after `limit`.
    pub async fn request_within(
        &mut self,
        command: Command,
        limit: Duration,
    ) -> Result<Response, ClientError> {
        tokio::time::timeout(limit, self.request(command))
            .await
            .map_err(|_| ClientError::Timeout(limit))?
    }

    /// Asks the daemon to stream the inbox (optionally only `from` one peer,
    /// replaying at most the newest `limit`), then new messages.
    pub async fn follow(
        mut self,
        from: Option<PeerId>,
        limit: Option<u32>,
    ) -> Result<Follower, ClientError> {
        match self.request(Command::Follow { from, limit }).await? {
            Response::Following => Ok(Follower {
                reader: self.reader,
                _writer: self.writer,
            }),
            other => Err(ClientError::Protocol(format!(
                "expected `following`, got {other:?}"
            ))),
        }
    }

    /// Waits until the daemon closes the connection (after `stop`), at most `limit`.
    /// Returns whether it did.
    pub async fn wait_closed(mut self, limit: Duration) -> bool {
        let drain = async {
            let mut buf = [0u8; 4096];
            while let Ok(1..) = self.reader.read(&mut buf).await {}
        };
        tokio::time::timeout(limit, drain).await.is_ok()
    }

    async fn write(&mut self, request: &Request) -> Result<(), ClientError> {
        let mut line = serde_json::to_vec(request)
            .map_err(|e| ClientError::Protocol(format!("cannot encode request: {e}")))?;
        line.push(b'\n');
        self.writer.write_all(&line).await?;
        Ok(())
    }
}

/// The inbox stream of a `follow` request.
#[derive(Debug)]
pub struct Follower {
    reader: BufReader<OwnedReadHalf>,
    /// Kept so the daemon does not see the client go away.
    _writer: OwnedWriteHalf,
}

impl Follower {
    /// The next event; `None` when the daemon closed the connection.
    /// Events of kinds this client does not know are skipped.
    pub async fn next_event(&mut self) -> Result<Option<Event>, ClientError> {
        loop {
            let Some(line) = read_line(&mut self.reader).await? else {
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

/// Reads one line of at most [`MAX_LINE`] bytes; `None` at end of stream.
async fn read_line(reader: &mut BufReader<OwnedReadHalf>) -> Result<Option<String>, ClientError> {
    let mut buf = Vec::new();
    let n = reader
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE {
        return Err(ClientError::Protocol(format!(
            "line longer than {MAX_LINE} bytes"
        )));
    } else {
        return Err(ClientError::Closed);
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| ClientError::Protocol("line is not UTF-8".into()))
}

/// The start of `line`, for error messages.
fn clip(line: &str) -> String {
    let mut end = line.len().min(120);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}", &line[..end])
}

/// Why `text` cannot be sent (over the protocol's 1000-byte limit), checked
/// before any contact with the daemon; `None` when it fits.
pub fn text_too_long(text: &str) -> Option<String> {
    (text.len() > MAX_TEXT).then(|| {
        format!(
            "the text is {} bytes; a message holds at most {MAX_TEXT} bytes",
            text.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    #[tokio::test]
    async fn missing_and_stale_sockets_are_told_apart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("peerd.sock");
        let err = Client::connect(&path).await.unwrap_err();
        assert!(matches!(err, ClientError::NotRunning { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "peerd is not running (no socket at {}); start it with `peerd start`",
                path.display()
            )
        );
        drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
        let err = Client::connect(&path).await.unwrap_err();
        assert!(matches!(err, ClientError::StaleSocket { .. }), "{err:?}");
        assert_eq!(err.code(), "not_running");
    }

    #[tokio::test]
    async fn request_reply_and_follow_against_a_fake_daemon() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("peerd.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let first = lines.next_line().await.expect("read").expect("line");
            assert_eq!(first, r#"{"req":1,"cmd":"id"}"#);
            write
                .write_all(b"{\"req\":1,\"ok\":true,\"result\":{\"kind\":\"id\",\"id\":7}}\n")
                .await
                .expect("write");
            let second = lines.next_line().await.expect("read").expect("line");
            assert!(second.contains("\"cmd\":\"send\""), "{second}");
            write
                .write_all(b"{\"req\":2,\"ok\":false,\"error\":{\"code\":\"unknown_peer\",\"message\":\"no peer 9\"}}\n")
                .await
                .expect("write");
            let third = lines.next_line().await.expect("read").expect("line");
            assert!(third.contains("\"cmd\":\"follow\""), "{third}");
            write
                .write_all(b"{\"req\":3,\"ok\":true,\"result\":{\"kind\":\"following\"}}\n{\"event\":\"future_thing\"}\n{\"event\":\"live\"}\n")
                .await
                .expect("write");
        });
        let mut client = Client::connect(&path).await.expect("connect");
        let id = client.request(Command::Id).await.expect("id");
        assert_eq!(id, Response::Id { id: PeerId::new(7) });
        let err = client
            .request(Command::Send {
                to: PeerId::new(9).expect("id"),
                text: "hi".into(),
                ttl_secs: None,
                wait: false,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), "unknown_peer");
        assert_eq!(err.to_string(), "no peer 9");
        let mut follower = client.follow(None, None).await.expect("follow");
        assert_eq!(
            follower.next_event().await.expect("event"),
            Some(Event::Live)
        );
        server.await.expect("fake daemon");
        assert_eq!(follower.next_event().await.expect("eof"), None);
    }

    #[tokio::test]
    async fn pipelined_requests_get_their_replies_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("peerd.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            // Read all three requests before answering any.
            let mut reqs = Vec::new();
            for _ in 0..3 {
                let line = lines.next_line().await.expect("read").expect("line");
                let v: serde_json::Value = serde_json::from_str(&line).expect("json");
                reqs.push(v["req"].as_u64().expect("req"));
            }
            for req in reqs {
                let reply = format!(
                    "{{\"req\":{req},\"ok\":true,\"result\":{{\"kind\":\"id\",\"id\":{req}}}}}\n"
                );
                write.write_all(reply.as_bytes()).await.expect("write");
            }
        });
        let mut client = Client::connect(&path).await.expect("connect");
        let mut sent = Vec::new();
        for _ in 0..3 {
            sent.push(client.submit(Command::Id).await.expect("submit"));
        }
        for req in sent {
            let (answered, outcome) = client.next_reply().await.expect("reply");
            assert_eq!(answered, Some(req));
            assert_eq!(
                outcome,
                Ok(Response::Id {
                    id: PeerId::new(req)
                })
            );
        }
        server.await.expect("fake daemon");
    }
}

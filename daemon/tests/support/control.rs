//! The daemon's control socket from a test: typed requests through the
//! `peerctl` library (`peerctl::Client`, made blocking here), and, for the
//! tests whose very point is the bytes on the socket (malformed lines,
//! pipelining by hand), a raw line connection.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use peerctl::{Client, ClientError, Follower};
use peerd_shared::control::{Command, ControlError, Event, Response};
use peerd_shared::PeerId;
use tokio::runtime::Runtime;

use super::poll::DEADLINE;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the control client")
}

/// Runs `fut` on `rt` for at most [`DEADLINE`]; `None` if it did not end.
fn within<F: std::future::Future>(rt: &Runtime, fut: F) -> Option<F::Output> {
    rt.block_on(async { tokio::time::timeout(DEADLINE, fut).await.ok() })
}

/// One connection to a daemon's control socket, typed and blocking.
pub struct Ctl {
    rt: Runtime,
    client: Client,
}

impl Ctl {
    /// Connects to the socket at `path`.
    pub fn try_connect(path: &Path) -> Result<Self, ClientError> {
        let rt = runtime();
        let client = rt.block_on(Client::connect(path))?;
        Ok(Self { rt, client })
    }

    /// Connects, or fails the test.
    pub fn connect(path: &Path) -> Self {
        Self::try_connect(path)
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", path.display()))
    }

    /// Sends one request and waits (at most [`DEADLINE`]) for its reply.
    pub fn request(&mut self, command: Command) -> Result<Response, ClientError> {
        let Self { rt, client } = self;
        rt.block_on(client.request_within(command, Some(DEADLINE)))
    }

    /// Writes a request without waiting for its reply; its `req` number.
    pub fn submit(&mut self, command: Command) -> u64 {
        let Self { rt, client } = self;
        rt.block_on(client.submit(command))
            .unwrap_or_else(|e| panic!("cannot submit a request: {e}"))
    }

    /// The next reply: the `req` it echoes and its outcome.
    pub fn next_reply(&mut self) -> (Option<u64>, Result<Response, ControlError>) {
        let Self { rt, client } = self;
        within(rt, client.next_reply())
            .unwrap_or_else(|| panic!("no reply within {DEADLINE:?}"))
            .unwrap_or_else(|e| panic!("cannot read a reply: {e}"))
    }

    /// Turns the connection into an inbox stream (`follow`).
    pub fn follow(self, from: Option<PeerId>, limit: Option<u32>) -> Events {
        let Self { rt, client } = self;
        let follower = within(&rt, client.follow(from, limit))
            .unwrap_or_else(|| panic!("no answer to follow within {DEADLINE:?}"))
            .unwrap_or_else(|e| panic!("follow refused: {e}"));
        Events { rt, follower }
    }
}

/// The events of a `follow` connection.
pub struct Events {
    rt: Runtime,
    follower: Follower,
}

impl Events {
    /// The next event (at most [`DEADLINE`]); `None` once the daemon
    /// closed the stream.
    pub fn next(&mut self) -> Option<Event> {
        let Self { rt, follower } = self;
        within(rt, follower.next_event())
            .unwrap_or_else(|| panic!("no event within {DEADLINE:?}"))
            .unwrap_or_else(|e| panic!("cannot read an event: {e}"))
    }
}

/// A raw control connection: bytes in, JSON lines out.
pub struct RawCtl {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl RawCtl {
    /// Connects, or fails the test.
    pub fn connect(path: &Path) -> Self {
        let stream = UnixStream::connect(path)
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", path.display()));
        stream
            .set_read_timeout(Some(DEADLINE))
            .expect("read timeout");
        let writer = stream.try_clone().expect("clone the stream");
        Self {
            reader: BufReader::new(stream),
            writer,
        }
    }

    /// Writes raw bytes (a line must end with `\n`).
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .expect("write to the control socket");
    }

    /// Reads one line as JSON, or fails the test.
    pub fn read(&mut self) -> serde_json::Value {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .expect("a line from the daemon");
        assert!(n > 0, "the daemon closed the connection");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    }

    /// Writes one line (a newline is added) and reads the reply.
    pub fn request(&mut self, line: &str) -> serde_json::Value {
        self.write_raw(format!("{line}\n").as_bytes());
        self.read()
    }
}

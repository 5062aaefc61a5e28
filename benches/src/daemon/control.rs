//! One control connection to a daemon: JSON lines over its Unix socket,
//! with the shared [`Request`]/[`Reply`]/[`Event`] types. Writes are
//! buffered so a caller can pipeline many requests and flush once.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use peerd_shared::control::{Command, Event, Reply, Request, Response, Status};

use crate::error::BenchError;

/// A control connection; the read half and the write half may be split
/// with [`Conn::split`] to write from one thread and read from another.
pub struct Conn {
    pub reader: Reader,
    pub writer: Writer,
}

/// The reading half of a [`Conn`].
pub struct Reader {
    inner: BufReader<UnixStream>,
    line: String,
}

/// The writing half of a [`Conn`].
pub struct Writer {
    inner: BufWriter<UnixStream>,
    line: Vec<u8>,
}

impl Conn {
    /// Connects to the daemon's control socket.
    pub fn connect(path: &Path) -> Result<Self, BenchError> {
        let stream = UnixStream::connect(path)
            .map_err(|e| BenchError::io(format!("cannot connect to {}", path.display()), e))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| BenchError::io("cannot set a read timeout", e))?;
        let read = stream
            .try_clone()
            .map_err(|e| BenchError::io("cannot clone the control stream", e))?;
        Ok(Self {
            reader: Reader {
                inner: BufReader::with_capacity(1 << 16, read),
                line: String::new(),
            },
            writer: Writer {
                inner: BufWriter::with_capacity(1 << 16, stream),
                line: Vec::with_capacity(256),
            },
        })
    }

    /// One request, its reply, as a result.
    pub fn call(&mut self, command: Command) -> Result<Response, BenchError> {
        self.writer.write(command)?;
        self.writer.flush()?;
        self.reader
            .reply()?
            .into_result()
            .map_err(|e| BenchError::Setup(format!("daemon refused: {e:?}")))
    }

    /// `status`.
    pub fn status(&mut self) -> Result<Status, BenchError> {
        match self.call(Command::Status)? {
            Response::Status(s) => Ok(s),
            other => Err(BenchError::Setup(format!("status answered with {other:?}"))),
        }
    }

    /// Splits into the two halves.
    pub fn split(self) -> (Reader, Writer) {
        (self.reader, self.writer)
    }
}

impl Writer {
    /// Queues one request line (sent on [`Writer::flush`] or when the buffer fills).
    pub fn write(&mut self, command: Command) -> Result<(), BenchError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, &Request { req: None, command })
            .map_err(|e| BenchError::Setup(format!("cannot encode a request: {e}")))?;
        self.line.push(b'\n');
        self.inner
            .write_all(&self.line)
            .map_err(|e| BenchError::io("cannot write to the control socket", e))
    }

    /// Sends everything queued.
    pub fn flush(&mut self) -> Result<(), BenchError> {
        self.inner
            .flush()
            .map_err(|e| BenchError::io("cannot write to the control socket", e))
    }
}

impl Reader {
    fn next_line(&mut self) -> Result<&str, BenchError> {
        self.line.clear();
        let n = self
            .inner
            .read_line(&mut self.line)
            .map_err(|e| BenchError::io("cannot read from the control socket", e))?;
        if n == 0 {
            return Err(BenchError::Setup("the daemon closed the connection".into()));
        }
        Ok(self.line.trim_end())
    }

    /// The next reply line.
    pub fn reply(&mut self) -> Result<Reply, BenchError> {
        let line = self.next_line()?;
        serde_json::from_str(line)
            .map_err(|e| BenchError::Setup(format!("undecodable reply {line:?}: {e}")))
    }

    /// The next event line (after `following`).
    pub fn event(&mut self) -> Result<Event, BenchError> {
        let line = self.next_line()?;
        serde_json::from_str(line)
            .map_err(|e| BenchError::Setup(format!("undecodable event {line:?}: {e}")))
    }
}

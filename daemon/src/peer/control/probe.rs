//! Asking a control socket who answers on it, with plain blocking I/O and
//! a short time limit: for the error that names a daemon already running
//! on a socket, and for `peerd start --detach`, which waits for its daemon
//! to answer and register.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use peerd_shared::control::{Reply, Response, Status};

/// The `status` of the daemon answering on `socket`, if one answers
/// within `wait`.
pub fn status(socket: &Path, wait: Duration) -> Option<Status> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(wait)).ok()?;
    stream.set_write_timeout(Some(wait)).ok()?;
    stream.write_all(b"{\"cmd\":\"status\"}\n").ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    match serde_json::from_str::<Reply>(&line)
        .ok()?
        .into_result()
        .ok()?
    {
        Response::Status(status) => Some(status),
        _ => None,
    }
}

/// The pid of the daemon answering on `socket`, if it says.
pub fn pid(socket: &Path) -> Option<u32> {
    status(socket, Duration::from_secs(1))?.pid
}

//! One daemon per identity: `peerd start` takes an exclusive OS lock
//! (`flock`) on `<data dir>/peerd.lock` before it touches anything else in
//! the data dir, and holds it for its whole life (the kernel drops it when
//! the process ends, however it ends). The file says who holds it (pid and
//! control socket), so that a second start on the same data dir, whatever
//! its socket, fails at once with an error naming the running daemon.
//!
//! The file itself is never removed: removing a lock file while another
//! process may have it open lets two daemons lock two different files.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

use super::error::PeerError;

/// File name of the lock inside the data dir.
pub const LOCK_FILE: &str = "peerd.lock";

/// The lock on a data dir, held until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Who holds a data dir's lock, as its lock file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub socket: Option<PathBuf>,
}

impl Holder {
    fn parse(text: &str) -> Self {
        let mut holder = Self::default();
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("pid", pid)) => holder.pid = pid.trim().parse().ok(),
                Some(("socket", path)) => holder.socket = Some(PathBuf::from(path)),
                _ => {}
            }
        }
        holder
    }
}

fn open(data_dir: &Path) -> Result<File, PeerError> {
    let path = data_dir.join(LOCK_FILE);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| PeerError::Lock(format!("cannot open {}: {e}", path.display())))
}

/// Locks `data_dir` for this process and writes `socket` and the pid in
/// the lock file; fails at once if another daemon holds it.
pub fn acquire(data_dir: &Path, socket: &Path) -> Result<DataDirLock, PeerError> {
    let file = try_lock(data_dir)?;
    let text = format!("pid {}\nsocket {}\n", std::process::id(), socket.display());
    file.set_len(0)
        .and_then(|()| file.write_all_at(text.as_bytes(), 0))
        .map_err(|e| PeerError::Lock(format!("cannot write {LOCK_FILE}: {e}")))?;
    Ok(DataDirLock { _file: file })
}

/// Fails with the holder named if `data_dir` is locked now (for `--detach`,
/// which checks before it starts the daemon; the daemon itself locks).
pub fn check_free(data_dir: &Path) -> Result<(), PeerError> {
    try_lock(data_dir).map(drop)
}

fn try_lock(data_dir: &Path) -> Result<File, PeerError> {
    let file = open(data_dir)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
            let mut text = String::new();
            let _ = (&file).take(4096).read_to_string(&mut text);
            Err(in_use(data_dir, &Holder::parse(&text)))
        }
        Err(e) => Err(PeerError::Lock(format!(
            "cannot lock {}: {e}",
            data_dir.join(LOCK_FILE).display()
        ))),
    }
}

fn in_use(data_dir: &Path, holder: &Holder) -> PeerError {
    let who = match holder.pid {
        Some(pid) => format!("another peerd (pid {pid})"),
        None => "another peerd".to_owned(),
    };
    let (on, stop) = match &holder.socket {
        Some(s) => (
            format!(", control socket {}", s.display()),
            format!("peerctl --socket {} stop", s.display()),
        ),
        None => (String::new(), "peerctl stop".to_owned()),
    };
    PeerError::DataDirInUse(format!(
        "{who} is running with the data dir {}{on}: one identity, one daemon; \
         stop it with `{stop}`, or give this one another --data-dir",
        data_dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_a_dropped_one_frees() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("peerd.sock");
        let held = acquire(dir.path(), &socket).expect("first lock");
        let e = acquire(dir.path(), Path::new("/elsewhere.sock")).expect_err("second");
        let text = e.to_string();
        let pid = std::process::id();
        assert!(text.contains(&format!("pid {pid}")), "{text}");
        assert!(text.contains(&socket.display().to_string()), "{text}");
        assert!(check_free(dir.path()).is_err());
        drop(held);
        check_free(dir.path()).expect("free once dropped");
        acquire(dir.path(), &socket).expect("locked again");
    }

    #[test]
    fn holder_lines_parse() {
        let h = Holder::parse("pid 42\nsocket /run/a b.sock\n");
        assert_eq!(h.pid, Some(42));
        assert_eq!(h.socket, Some(PathBuf::from("/run/a b.sock")));
        assert_eq!(Holder::parse(""), Holder::default());
    }
}

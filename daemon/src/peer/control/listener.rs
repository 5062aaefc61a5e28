//! The control listener: the Unix domain socket `peerctl` talks to. The
//! socket lives in a directory only its owner can enter (created 0700 when
//! missing) and is itself mode 0600. A socket file left by a dead daemon is
//! detected by dialling it (refused: nobody listens) and replaced; a live
//! one makes start-up fail, and a path that is not a socket (a regular
//! file, a directory, a link) is never removed.
//! Every accepted connection gets its own [`Session`] actor. The socket
//! file is removed when the listener stops (at shutdown).

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use actix::prelude::*;
use tokio::net::{UnixListener, UnixStream};

use super::commands::Services;
use super::session::Session;
use crate::peer::error::PeerError;
use crate::peer::identity::ensure_private_dir;

/// Wait before accepting again after `accept` failed (out of descriptors
/// and the like), so a persistent failure does not spin or flood the log.
const ACCEPT_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// The bound socket file; removed on drop if it is still the one we bound.
pub struct SocketFile {
    path: PathBuf,
    inode: Option<(u64, u64)>,
}

impl SocketFile {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let current = std::fs::symlink_metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if current.is_some() && current == self.inode {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds the control socket at `path`, replacing a stale one.
pub fn claim(path: &Path) -> Result<(std::os::unix::net::UnixListener, SocketFile), PeerError> {
    let err = |message: String| PeerError::Control {
        path: path.to_path_buf(),
        message,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        ensure_private_dir(dir)?;
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(err(format!(
                "it is {}, not a socket; peerd removes nothing but a socket file \
                 left by a daemon that died: pick another --socket",
                peerd_shared::paths::file_kind(&meta.file_type())
            )));
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(already_running(path)),
            // Nobody listens: a daemon died without removing it.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                tracing::info!(path = %path.display(), "replacing a stale control socket");
                std::fs::remove_file(path)
                    .map_err(|e| err(format!("cannot remove the stale socket: {e}")))?;
            }
            Err(e) => return Err(err(format!("cannot tell whether a daemon listens: {e}"))),
        }
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            already_running(path)
        } else {
            err(e.to_string())
        }
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| err(format!("cannot set mode 0600: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| err(e.to_string()))?;
    let inode = std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()));
    Ok((
        listener,
        SocketFile {
            path: path.to_path_buf(),
            inode,
        },
    ))
}

/// A daemon answers on `path`: the error names its pid when it says.
fn already_running(path: &Path) -> PeerError {
    PeerError::AlreadyRunning {
        path: path.to_path_buf(),
        pid: super::probe::pid(path),
    }
}

/// The actor that accepts control connections.
pub struct ControlListener {
    listener: Option<UnixListener>,
    /// Removed when the listener stops.
    file: Option<SocketFile>,
    services: Services,
}

impl ControlListener {
    /// Serves `listener` (already bound by [`claim`] at `file`).
    pub fn new(listener: UnixListener, file: SocketFile, services: Services) -> Self {
        Self {
            listener: Some(listener),
            file: Some(file),
            services,
        }
    }
}

impl Actor for ControlListener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let accepts = futures_util::stream::unfold(listener, |l| async move {
            loop {
                match l.accept().await {
                    Ok((stream, _)) => return Some((stream, l)),
                    Err(e) => {
                        tracing::warn!(error = %e, "control socket accept failed");
                        // Out of descriptors and the like: give it a moment.
                        tokio::time::sleep(ACCEPT_RETRY).await;
                    }
                }
            }
        });
        ctx.add_stream(accepts);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        drop(self.file.take());
    }
}

impl StreamHandler<UnixStream> for ControlListener {
    fn handle(&mut self, stream: UnixStream, _ctx: &mut Self::Context) {
        Session::start(stream, self.services.clone());
    }

    /// Accepting never ends on its own; keep the actor.
    fn finished(&mut self, _ctx: &mut Self::Context) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_socket_is_replaced_and_live_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join("peerd.sock");
        let (live, file) = claim(&path).expect("first bind");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert!(matches!(
            claim(&path),
            Err(PeerError::AlreadyRunning { .. })
        ));
        drop(live);
        std::mem::forget(file); // leave the file behind: a stale socket
        assert!(path.exists());
        let (_l, file) = claim(&path).expect("stale socket replaced");
        drop(file);
        assert!(!path.exists(), "our socket file is removed on drop");
    }
}

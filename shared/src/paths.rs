//! Where peerd keeps its files, from the `directories` crate: the daemon's
//! data (identity, store, log), its control socket, the server's registry
//! database and the optional config file.

use std::path::{Path, PathBuf};

use directories::ProjectDirs;

/// File name of the control socket.
pub const SOCKET_FILE: &str = "peerd.sock";

fn project() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "peerd")
}

/// The user's data directory for peerd (e.g. `~/.local/share/peerd`);
/// `./peerd-data` when the platform has no home directory.
pub fn default_data_dir() -> PathBuf {
    project().map_or_else(
        || PathBuf::from("peerd-data"),
        |p| p.data_dir().to_path_buf(),
    )
}

/// The server's registry database by default: `<data dir>/server/registry.sqlite3`.
pub fn default_server_db() -> PathBuf {
    default_data_dir().join("server").join("registry.sqlite3")
}

/// The optional config file of the peer daemon (e.g. `~/.config/peerd/config.toml`).
pub fn config_file() -> Option<PathBuf> {
    project().map(|p| p.config_dir().join("config.toml"))
}

/// The control socket path, decided the same way by `peerd` and `peerctl`:
/// an explicit path wins; with an explicit data dir the socket lives in it,
/// so side-by-side daemons never collide; otherwise the user's runtime dir
/// (`$XDG_RUNTIME_DIR/peerd/peerd.sock`), falling back to the data dir.
pub fn socket_path(explicit: Option<&Path>, data_dir: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(d) = data_dir {
        return d.join(SOCKET_FILE);
    }
    match project().and_then(|p| p.runtime_dir().map(Path::to_path_buf)) {
        Some(run) => run.join(SOCKET_FILE),
        None => default_data_dir().join(SOCKET_FILE),
    }
}

/// What a file that is not a socket is, in words ("a regular file", "a
/// directory", ...), for errors about a control socket path.
pub fn file_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "another kind of file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_socket_and_data_dir_win() {
        let d = Path::new("/tmp/x");
        assert_eq!(
            socket_path(Some(Path::new("/s.sock")), Some(d)),
            PathBuf::from("/s.sock")
        );
        assert_eq!(socket_path(None, Some(d)), d.join(SOCKET_FILE));
        assert!(socket_path(None, None).ends_with(SOCKET_FILE));
    }
}

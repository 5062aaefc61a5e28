//! The daemon's identity: the secret token, created on first start and kept
//! in `<data dir>/token` (mode 0600, the directory 0700). The same data dir
//! always comes back with the same token, hence the same id from the server.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use peerd_shared::Token;

use super::error::PeerError;

/// File name of the token inside the data dir.
pub const TOKEN_FILE: &str = "token";

/// Creates `dir` (and its parents) with mode 0700 when it does not exist.
pub fn ensure_private_dir(dir: &Path) -> Result<(), PeerError> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| PeerError::Dir {
            path: dir.to_path_buf(),
            source,
        })
}

/// Reads the token from the data dir, or creates it on first start.
pub fn load_or_create(data_dir: &Path) -> Result<Token, PeerError> {
    let path = data_dir.join(TOKEN_FILE);
    let err = |message: String| PeerError::Identity {
        path: path.clone(),
        message,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let token = Token::parse(text.trim())
                .map_err(|e| err(format!("{e}; delete the file to get a new identity")))?;
            let meta = std::fs::metadata(&path).map_err(|e| err(e.to_string()))?;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "identity file was readable by others; setting mode 0600");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| err(e.to_string()))?;
            }
            Ok(token)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = Token::generate().map_err(|e| err(e.to_string()))?;
            let tmp = data_dir.join(format!("{TOKEN_FILE}.tmp"));
            let _ = std::fs::remove_file(&tmp);
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| err(e.to_string()))?;
            file.write_all(format!("{}\n", token.to_hex()).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| err(e.to_string()))?;
            std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))?;
            tracing::info!(path = %path.display(), "created a new identity");
            Ok(token)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_created_private_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("a").join("b");
        ensure_private_dir(&data).expect("dir");
        let mode = std::fs::metadata(&data).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let t1 = load_or_create(&data).expect("create");
        let mode = std::fs::metadata(data.join(TOKEN_FILE))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(&data).expect("load"), t1);
        std::fs::write(data.join(TOKEN_FILE), "garbage").expect("write");
        assert!(load_or_create(&data).is_err());
    }
}

//! The daemon's identity: its X25519 key pair, created on first start and
//! kept in `<data dir>/identity.key` (mode 0600, written atomically, the
//! directory 0700). The same data dir always comes back with the same key,
//! hence the same id from the server. The private key is never logged or
//! shown; its public key and fingerprint are.
//!
//! A data dir of protocol v1 holds a `token` instead: it is retired (renamed
//! `token.v1`) and a key is created; the server gives the new key a new id,
//! and the old id stays reserved for the old token forever.
//!
//! Beside it, `server.pub` holds the server's pinned public key.
//!
//! The data dir is private: created mode 0700, and an existing one that
//! other users may read is refused with the command that fixes it (as ssh
//! refuses a readable key), rather than changed: the path may be a
//! directory the user shares on purpose, given by mistake.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use peerd_shared::proto::{Identity, PublicKey, SecretKey};

use super::error::PeerError;
use crate::private;

/// File name of the private key inside the data dir.
pub const KEY_FILE: &str = "identity.key";
/// File name of protocol v1's token inside the data dir.
pub const V1_TOKEN_FILE: &str = "token";
/// File name of the pinned server key inside the data dir.
pub const SERVER_KEY_FILE: &str = "server.pub";

/// Creates `dir` (and its parents) with mode 0700 when it does not exist.
pub fn ensure_private_dir(dir: &Path) -> Result<(), PeerError> {
    private::create_dir(dir)
        .map(drop)
        .map_err(|source| PeerError::Dir {
            path: dir.to_path_buf(),
            source,
        })
}

/// The data dir, created mode 0700 when missing; one that exists and lets
/// other users in is refused, naming the `chmod` that fixes it.
pub fn private_data_dir(dir: &Path) -> Result<(), PeerError> {
    if dir.exists() && !dir.is_dir() {
        return Err(PeerError::Dir {
            path: dir.to_path_buf(),
            source: std::io::Error::other("it exists and is not a directory"),
        });
    }
    ensure_private_dir(dir)?;
    match private::loose_dir(dir) {
        None => Ok(()),
        Some(mode) => Err(PeerError::DataDirMode {
            path: dir.to_path_buf(),
            mode,
            fix: format!("chmod 700 {}", shell_word(dir)),
        }),
    }
}

/// `path` as one shell word (quoted when it holds anything but plain
/// path characters), for commands shown to the user.
pub fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%=~".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// What loading the identity found.
#[derive(Debug)]
pub struct Loaded {
    pub identity: Identity,
    /// The key was created now.
    pub created: bool,
    /// A protocol v1 token was retired now.
    pub retired_token: bool,
}

/// Reads the key from the data dir, or creates it on first start (and
/// retires a protocol v1 token).
pub fn load_or_create(data_dir: &Path) -> Result<Loaded, PeerError> {
    let path = data_dir.join(KEY_FILE);
    let err = |message: String| PeerError::Identity {
        path: path.clone(),
        message,
    };
    let (secret, created) = SecretKey::load_or_create(&path).map_err(|e| {
        err(format!(
            "{e}; move the file away to get a new identity (and a new id)"
        ))
    })?;
    if let Some(mode) = private::narrow_file(&path).map_err(|e| err(e.to_string()))? {
        tracing::warn!(
            "{} was readable by others (mode {mode:o}); now 0600",
            path.display()
        );
    }
    let token = data_dir.join(V1_TOKEN_FILE);
    let retired_token = created && token.exists();
    if retired_token {
        let to = data_dir.join(format!("{V1_TOKEN_FILE}.v1"));
        std::fs::rename(&token, &to)
            .map_err(|e| err(format!("cannot retire {}: {e}", token.display())))?;
    }
    let identity = Identity::new(secret);
    if created {
        tracing::info!(
            path = %path.display(),
            fingerprint = %identity.public.fingerprint(),
            "created a new identity key"
        );
    }
    if retired_token {
        tracing::warn!(
            "this data directory held a protocol v1 token: it is retired (token.v1); \
             the server gives the new key a new id, and the old id stays reserved"
        );
    }
    Ok(Loaded {
        identity,
        created,
        retired_token,
    })
}

/// The server key pinned in the data dir, if any.
pub fn pinned_server_key(data_dir: &Path) -> Result<Option<PublicKey>, PeerError> {
    let path = data_dir.join(SERVER_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => text.parse().map(Some).map_err(|e| PeerError::Identity {
            path,
            message: format!("{e}; remove the file to learn the server's key again"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PeerError::Identity {
            path,
            message: e.to_string(),
        }),
    }
}

/// Pins `key` as the server's in the data dir (written atomically, mode
/// 0600 like everything there).
pub fn pin_server_key(data_dir: &Path, key: &PublicKey) -> std::io::Result<()> {
    let path = data_dir.join(SERVER_KEY_FILE);
    let tmp = data_dir.join(format!("{SERVER_KEY_FILE}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(private::FILE_MODE)
        .open(&tmp)?;
    file.write_all(format!("{key}\n").as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_key_is_created_private_kept_and_a_v1_token_retired() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("a").join("b");
        ensure_private_dir(&data).expect("dir");
        let mode = std::fs::metadata(&data).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(
            data.join(V1_TOKEN_FILE),
            "00112233445566778899aabbccddeeff\n",
        )
        .unwrap();
        let first = load_or_create(&data).expect("create");
        assert!(first.created && first.retired_token);
        assert!(data.join("token.v1").exists() && !data.join(V1_TOKEN_FILE).exists());
        let mode = std::fs::metadata(data.join(KEY_FILE))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&data).expect("load");
        assert!(!again.created && !again.retired_token);
        assert_eq!(again.identity.public, first.identity.public);
        assert_eq!(pinned_server_key(&data).unwrap(), None);
        pin_server_key(&data, &first.identity.public).unwrap();
        assert_eq!(
            pinned_server_key(&data).unwrap(),
            Some(first.identity.public)
        );
        std::fs::write(data.join(KEY_FILE), "garbage").expect("write");
        assert!(load_or_create(&data).is_err());
    }
}

//! Static X25519 keys (protocol v2, section 1.1): the identity of a daemon
//! and of a server. The private half lives in [`SecretKey`], which hides
//! itself from `Debug` and is wiped when dropped; the public half,
//! [`PublicKey`], has a base64 text form and a fingerprint people compare.
//! Key files are written atomically with mode 0600.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::crypto::hash;

/// Bytes of an X25519 key, public or private.
pub const KEY_LEN: usize = 32;

/// Label hashed with a public key to make its fingerprint.
const FINGERPRINT_LABEL: &[u8] = b"peerd fingerprint v2";

/// A static public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; KEY_LEN]);

/// A static private key; never printed, wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; KEY_LEN]);

/// Why a text or file is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a key is 44 characters of base64 (32 bytes), got {0:?}")]
    BadText(String),
    #[error("cannot read key file {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write key file {path}: {message}")]
    Write { path: String, message: String },
    #[error("cannot create a key: {0}")]
    Random(String),
}

impl PublicKey {
    /// The key as 44 characters of standard base64.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The fingerprint: `HASH("peerd fingerprint v2" ‖ key)[..16]` as eight
    /// groups of four hex digits, e.g. `6b1f:0c2e:...`.
    pub fn fingerprint(&self) -> String {
        let digest = hash(&[FINGERPRINT_LABEL, &self.0]);
        let mut out = String::with_capacity(39);
        for (i, pair) in digest[..16].chunks_exact(2).enumerate() {
            if i > 0 {
                out.push(':');
            }
            out.push_str(&format!("{:02x}{:02x}", pair[0], pair[1]));
        }
        out
    }

    /// Whether `text` names this key: its whole base64 form, or its
    /// fingerprint (any case, with or without the colons; all 32 digits,
    /// since a shorter prefix is easier to forge).
    pub fn is_named_by(&self, text: &str) -> bool {
        let text = text.trim();
        if text.parse::<PublicKey>().is_ok_and(|k| k == *self) {
            return true;
        }
        let digits: String = text
            .chars()
            .filter(|c| *c != ':')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        digits.len() == 32 && digits == self.fingerprint().replace(':', "")
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        decode_key(s.trim()).map(Self)
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn decode_key(s: &str) -> Result<[u8; KEY_LEN], KeyError> {
    let bad = || KeyError::BadText(s.chars().take(60).collect());
    let bytes = STANDARD.decode(s).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

impl SecretKey {
    /// Wraps raw private key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A fresh key from the operating system's generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// The raw private key, for the Noise handshake only.
    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A 32-byte key for another purpose, derived from this private key:
    /// `HASH(label ‖ private key)`. Whoever holds the key file can derive
    /// it, nobody else (the nodes of a cluster, which share the server's
    /// key, authenticate their messages to each other with one).
    pub fn derive(&self, label: &[u8]) -> [u8; KEY_LEN] {
        hash(&[label, &self.0])
    }

    /// The public key of this private key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(super::crypto::x25519_base(&self.0))
    }

    /// Reads a key file (44 characters of base64 and a newline).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut raw = decode_key(text.trim()).map_err(|_| KeyError::Read {
            path: path.display().to_string(),
            message: "not a key (44 characters of base64 expected)".into(),
        })?;
        let key = Self(raw);
        raw.zeroize();
        Ok(key)
    }

    /// Writes the key to `path` atomically (a temporary file in the same
    /// directory, mode 0600, synced, then renamed over `path`).
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let err = |e: std::io::Error| KeyError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let tmp = path.with_extension("tmp");
        let mut text = STANDARD.encode(self.0);
        text.push('\n');
        let result = (|| {
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Some(dir) = dir {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        text.zeroize();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(err)
    }

    /// Loads the key at `path`, or creates and saves a new one when there is
    /// no file. Returns the key and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), KeyError> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => Self::load(path).map(|k| (k, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                key.save(path)?;
                Ok((key, true))
            }
            Err(e) => Err(KeyError::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_bad_text_is_refused() {
        let k = SecretKey::generate().unwrap().public_key();
        let text = k.to_base64();
        assert_eq!(text.len(), 44);
        assert_eq!(text.parse::<PublicKey>(), Ok(k));
        assert!("abc".parse::<PublicKey>().is_err());
        assert!(STANDARD.encode([0u8; 31]).parse::<PublicKey>().is_err());
        let fp = k.fingerprint();
        assert_eq!(fp.len(), 39);
        assert_eq!(fp.matches(':').count(), 7);
    }

    #[test]
    fn a_key_is_named_by_its_base64_or_its_whole_fingerprint_only() {
        let k = SecretKey::generate().unwrap().public_key();
        let other = SecretKey::generate().unwrap().public_key();
        let fp = k.fingerprint();
        assert!(k.is_named_by(&k.to_base64()));
        assert!(k.is_named_by(&fp));
        assert!(k.is_named_by(&fp.to_uppercase()));
        assert!(k.is_named_by(&format!(" {} ", fp.replace(':', ""))));
        assert!(!k.is_named_by(&fp[..34]), "a prefix is not enough");
        assert!(!k.is_named_by(&other.fingerprint()));
        assert!(!k.is_named_by(&other.to_base64()));
        assert!(!k.is_named_by(""));
    }

    #[test]
    fn key_files_are_private_and_survive_a_reload() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let (a, created) = SecretKey::load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (b, created) = SecretKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(a.public_key(), b.public_key());
        assert!(!format!("{a:?}").contains(&STANDARD.encode(a.0)));
        std::fs::write(&path, "garbage\n").unwrap();
        assert!(matches!(SecretKey::load(&path), Err(KeyError::Read { .. })));
    }
}

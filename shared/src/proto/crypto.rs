//! The primitives of protocol v2 section 1, each a thin call into a
//! well-kept crate: `HASH` (BLAKE2s-256), `MAC` (keyed BLAKE2s, 16 bytes),
//! the X25519 base-point multiplication (a public key from a private one),
//! constant-time comparison, and the transport AEAD (ChaCha20-Poly1305 with
//! Noise's nonce encoding) and the cookie AEAD (XChaCha20-Poly1305).

use blake2::digest::consts::U16;
use blake2::digest::{FixedOutput, Update};
use blake2::{Blake2s256, Blake2sMac, Digest};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};

/// Bytes of a MAC (mac1, mac2, cookies).
pub const MAC_LEN: usize = 16;
/// Bytes of an AEAD tag.
pub const TAG_LEN: usize = 16;

/// `HASH(parts[0] ‖ parts[1] ‖ ...)`: BLAKE2s-256.
pub fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    for p in parts {
        Digest::update(&mut h, p);
    }
    h.finalize().into()
}

/// `MAC(key, data)`: keyed BLAKE2s with a 16-byte output (RFC 7693); the
/// key is 32 bytes (mac1, cookies) or 16 (a cookie keying mac2), and its
/// length is part of the MAC.
pub fn mac(key: &[u8], data: &[u8]) -> [u8; MAC_LEN] {
    let mut m = <Blake2sMac<U16> as KeyInit>::new_from_slice(key)
        .expect("keys of 16 or 32 bytes fit BLAKE2s");
    Update::update(&mut m, data);
    m.finalize_fixed().into()
}

/// Equality of two MACs in constant time.
pub fn mac_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The X25519 public key of a private key.
pub fn x25519_base(secret: &[u8; 32]) -> [u8; 32] {
    let s = x25519_dalek::StaticSecret::from(*secret);
    x25519_dalek::PublicKey::from(&s).to_bytes()
}

/// Noise's ChaChaPoly nonce for `counter`: 4 zero bytes, then the counter
/// little-endian.
fn noise_nonce(counter: u64) -> chacha20poly1305::Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n.into()
}

/// Encrypts `buf` in place with the transport key and appends the tag.
pub fn seal(key: &[u8; 32], counter: u64, buf: &mut Vec<u8>, from: usize) {
    let cipher = ChaCha20Poly1305::new(key.into());
    let tag = cipher
        .encrypt_in_place_detached(&noise_nonce(counter), &[], &mut buf[from..])
        .expect("a datagram is far below the AEAD's length limit");
    buf.extend_from_slice(&tag);
}

/// Decrypts `ciphertext ‖ tag` in place; returns the plaintext's length,
/// or `None` when it does not authenticate.
pub fn open(key: &[u8; 32], counter: u64, buf: &mut [u8]) -> Option<usize> {
    let n = buf.len().checked_sub(TAG_LEN)?;
    let (text, tag) = buf.split_at_mut(n);
    let cipher = ChaCha20Poly1305::new(key.into());
    cipher
        .decrypt_in_place_detached(&noise_nonce(counter), &[], text, (&*tag).into())
        .ok()?;
    Some(n)
}

/// XChaCha20-Poly1305 of a cookie (16 bytes) with associated data.
pub fn seal_cookie(
    key: &[u8; 32],
    nonce: &[u8; 24],
    cookie: &[u8; MAC_LEN],
    aad: &[u8],
) -> [u8; MAC_LEN + TAG_LEN] {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut out = [0u8; MAC_LEN + TAG_LEN];
    out[..MAC_LEN].copy_from_slice(cookie);
    let tag = cipher
        .encrypt_in_place_detached(nonce.into(), aad, &mut out[..MAC_LEN])
        .expect("16 bytes always encrypt");
    out[MAC_LEN..].copy_from_slice(&tag);
    out
}

/// Opens a sealed cookie; `None` when it does not authenticate.
pub fn open_cookie(
    key: &[u8; 32],
    nonce: &[u8; 24],
    sealed: &[u8; MAC_LEN + TAG_LEN],
    aad: &[u8],
) -> Option<[u8; MAC_LEN]> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut cookie = [0u8; MAC_LEN];
    cookie.copy_from_slice(&sealed[..MAC_LEN]);
    cipher
        .decrypt_in_place_detached(nonce.into(), aad, &mut cookie, sealed[MAC_LEN..].into())
        .ok()?;
    Some(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blake2s_matches_rfc7693_and_keyed_mode_differs() {
        // RFC 7693 appendix B: BLAKE2s-256("abc").
        let h = hash(&[b"a", b"bc"]);
        assert_eq!(
            hex::encode(h),
            "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"
        );
        let k = [7u8; 32];
        assert_ne!(mac(&k, b"abc"), mac(&[8u8; 32], b"abc"));
        assert!(mac_eq(&mac(&k, b"x"), &mac(&k, b"x")));
        assert!(!mac_eq(&mac(&k, b"x"), &mac(&k, b"y")));
    }

    #[test]
    fn transport_aead_round_trips_and_rejects_tampering() {
        let key = [3u8; 32];
        let mut buf = b"hdr:hello".to_vec();
        seal(&key, 9, &mut buf, 4);
        assert_eq!(buf.len(), 9 + TAG_LEN);
        let mut copy = buf[4..].to_vec();
        assert_eq!(open(&key, 9, &mut copy), Some(5));
        assert_eq!(&copy[..5], b"hello");
        let mut wrong = buf[4..].to_vec();
        assert_eq!(open(&key, 10, &mut wrong), None, "other counter");
        let mut flipped = buf[4..].to_vec();
        flipped[0] ^= 1;
        assert_eq!(open(&key, 9, &mut flipped), None);
        assert_eq!(open(&key, 9, &mut [0u8; 3]), None, "shorter than a tag");
    }

    #[test]
    fn cookies_seal_and_open_only_with_their_aad() {
        let sealed = seal_cookie(&[1; 32], &[2; 24], &[5; 16], b"mac1");
        assert_eq!(
            open_cookie(&[1; 32], &[2; 24], &sealed, b"mac1"),
            Some([5; 16])
        );
        assert_eq!(open_cookie(&[1; 32], &[2; 24], &sealed, b"mac2"), None);
    }
}

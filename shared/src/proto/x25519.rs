//! X25519 for the Noise handshakes, through aws-lc-rs instead of snow's
//! own (curve25519-dalek).
//!
//! Written here because a measurement showed the crate's implementation to
//! be the bottleneck: a server's new registration is a responder's IK
//! handshake, four DH (`es`, `ss`, `ee`, `se`) and two public keys (its
//! static key when the handshake is built, its ephemeral one), all on the
//! registry's one thread. On the machine of `benches/RESULTS.md`,
//! curve25519-dalek took 36.8 us per DH and 12.0 us per public key (172 us
//! a handshake: `peerd server` topped out near 5,000 registrations/s),
//! aws-lc 16.6 us and 4.7 us (76 us); the figures and the registrations
//! they bought are in `benches/RESULTS.md`, "X25519". The results are the
//! same bytes (checked against curve25519-dalek below), except that a DH
//! whose result is all zeros (the peer's key is a low-order point) is an
//! error, which ends the handshake: protocol.md 3.

use aws_lc_rs::agreement::{agree, PrivateKey, UnparsedPublicKey, X25519};
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::types::{Cipher, Dh, Hash, Random};
use zeroize::Zeroize;

/// snow's resolver with X25519 from aws-lc; the rest is snow's own.
pub struct Resolver;

impl CryptoResolver for Resolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        DefaultResolver.resolve_rng()
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        match choice {
            DHChoice::Curve25519 => Some(Box::<KeyPair>::default()),
            _ => None,
        }
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        DefaultResolver.resolve_hash(choice)
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        DefaultResolver.resolve_cipher(choice)
    }
}

/// One X25519 key pair: the private key parsed once, used for every DH.
#[derive(Default)]
struct KeyPair {
    key: Option<PrivateKey>,
    private: [u8; 32],
    public: [u8; 32],
}

impl Drop for KeyPair {
    fn drop(&mut self) {
        // aws-lc clears its own copy when `key` is freed.
        self.private.zeroize();
    }
}

impl Dh for KeyPair {
    fn name(&self) -> &'static str {
        "25519"
    }

    fn pub_len(&self) -> usize {
        32
    }

    fn priv_len(&self) -> usize {
        32
    }

    fn set(&mut self, privkey: &[u8]) {
        // snow hands only 32-byte keys (it checks `priv_len`), which aws-lc
        // always takes; a wrong length leaves no key, and every DH fails.
        self.key = PrivateKey::from_private_key(&X25519, privkey).ok();
        self.private.zeroize();
        self.public = [0; 32];
        if let Some(key) = &self.key {
            self.private.copy_from_slice(privkey);
            if let Ok(public) = key.compute_public_key() {
                self.public.copy_from_slice(public.as_ref());
            }
        }
    }

    fn generate(&mut self, rng: &mut dyn Random) -> Result<(), snow::Error> {
        let mut bytes = [0u8; 32];
        rng.try_fill_bytes(&mut bytes)?;
        self.set(&bytes);
        bytes.zeroize();
        Ok(())
    }

    fn pubkey(&self) -> &[u8] {
        &self.public
    }

    fn privkey(&self) -> &[u8] {
        &self.private
    }

    fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
        let key = self.key.as_ref().ok_or(snow::Error::Dh)?;
        let peer = pubkey.get(..32).ok_or(snow::Error::Dh)?;
        agree(
            key,
            UnparsedPublicKey::new(&X25519, peer),
            snow::Error::Dh,
            |shared| {
                out.get_mut(..32)
                    .ok_or(snow::Error::Dh)?
                    .copy_from_slice(shared);
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x25519_dalek::{PublicKey, StaticSecret};

    fn pair(private: [u8; 32]) -> KeyPair {
        let mut k = KeyPair::default();
        k.set(&private);
        k
    }

    #[test]
    fn public_keys_and_shared_secrets_are_curve25519_dalek_s() {
        for seed in 0..64u8 {
            let a = [seed.wrapping_mul(31).wrapping_add(1); 32];
            let mut b = [0u8; 32];
            for (i, byte) in b.iter_mut().enumerate() {
                *byte = seed ^ (i as u8).wrapping_mul(97);
            }
            let ours = pair(a);
            let theirs = StaticSecret::from(a);
            assert_eq!(ours.pubkey(), PublicKey::from(&theirs).as_bytes());
            assert_eq!(ours.privkey(), &a);
            let peer = PublicKey::from(&StaticSecret::from(b));
            let mut out = [0u8; 32];
            ours.dh(peer.as_bytes(), &mut out).unwrap();
            assert_eq!(&out, theirs.diffie_hellman(&peer).as_bytes());
        }
    }

    #[test]
    fn a_low_order_peer_key_is_an_error_not_a_zero_secret() {
        let ours = pair([9; 32]);
        let mut out = [0xAAu8; 32];
        // The u-coordinates 0 and 1 are points of small order: every
        // private key gives the all-zero result with them.
        for low in [[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }] {
            assert_eq!(ours.dh(&low, &mut out), Err(snow::Error::Dh));
        }
        assert_eq!(ours.dh(&[1; 31], &mut out), Err(snow::Error::Dh));
    }

    #[test]
    fn without_a_key_every_dh_fails() {
        let mut k = KeyPair::default();
        k.set(&[1; 31]);
        let mut out = [0u8; 32];
        assert_eq!(k.dh(&[9; 32], &mut out), Err(snow::Error::Dh));
        assert_eq!(k.pubkey(), &[0; 32]);
    }
}

//! `peerbench x25519`: the cost of the two X25519 operations a Noise
//! handshake does (a DH, and a public key from a private key), in this
//! process's CPU time, with curve25519-dalek (snow's own) and with aws-lc
//! (what `peerd_shared::proto::x25519` gives snow), side by side in one
//! run. Each DH uses a private key parsed once, as the handshake does.

use aws_lc_rs::agreement::{agree, PrivateKey, UnparsedPublicKey, X25519};
use x25519_dalek::{PublicKey, StaticSecret};

use crate::sys::cpu_time;

/// Microseconds per operation, the best of the rounds.
#[derive(Debug, Clone, Copy)]
pub struct X25519Figure {
    pub library: &'static str,
    pub dh_us: f64,
    pub public_key_us: f64,
}

/// Runs `iterations` of each operation with each library, `rounds` times.
pub fn measure(iterations: u32, rounds: u32) -> Vec<X25519Figure> {
    let peer = *PublicKey::from(&StaticSecret::from([9u8; 32])).as_bytes();
    let ours = [7u8; 32];
    let dalek = StaticSecret::from(ours);
    let aws = PrivateKey::from_private_key(&X25519, &ours).expect("a 32-byte key");
    let mut check = (0u8, 0u8);
    let dalek_dh = best(iterations, rounds, |_| {
        check.0 ^= dalek.diffie_hellman(&PublicKey::from(peer)).as_bytes()[0];
    });
    let aws_dh = best(iterations, rounds, |_| {
        agree(&aws, UnparsedPublicKey::new(&X25519, &peer), (), |s| {
            check.1 ^= s[0];
            Ok(())
        })
        .expect("a DH with a valid key");
    });
    assert_eq!(check.0, check.1, "both libraries agree on the secret");
    let dalek_pub = best(iterations, rounds, |i| {
        let key = StaticSecret::from([i as u8; 32]);
        std::hint::black_box(PublicKey::from(&key));
    });
    let aws_pub = best(iterations, rounds, |i| {
        let key = PrivateKey::from_private_key(&X25519, &[i as u8; 32]).expect("a 32-byte key");
        std::hint::black_box(key.compute_public_key().expect("a public key"));
    });
    vec![
        X25519Figure {
            library: "curve25519-dalek",
            dh_us: dalek_dh,
            public_key_us: dalek_pub,
        },
        X25519Figure {
            library: "aws-lc",
            dh_us: aws_dh,
            public_key_us: aws_pub,
        },
    ]
}

fn best(iterations: u32, rounds: u32, mut op: impl FnMut(u32)) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds.max(1) {
        let start = cpu_time();
        for i in 0..iterations {
            op(i);
        }
        let spent = cpu_time().saturating_sub(start);
        best = best.min(spent.as_secs_f64() * 1e6 / f64::from(iterations.max(1)));
    }
    best
}

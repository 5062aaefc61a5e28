//! Cookies (protocol v2, section 3.4): how a server under load makes an
//! initiator prove it can receive at its source address before the server
//! spends a Diffie-Hellman on it. [`CookieGuard`] is the server's side (a
//! secret replaced every 120 s; checking `mac2`; writing COOKIE_REPLY);
//! [`open_reply`] is the initiator's.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::codec::{canonical, Put};
use super::crypto::{hash, mac, mac_eq, open_cookie, seal_cookie, MAC_LEN};
use super::frame::{ty, CookieReply, Init, COOKIE_REPLY_LEN};
use super::handshake::mac2_for;
use super::keys::PublicKey;

/// How often the server replaces its cookie secret.
pub const SECRET_LIFETIME: Duration = Duration::from_secs(120);
/// How long an initiator uses a cookie.
pub const COOKIE_LIFETIME: Duration = Duration::from_secs(115);
/// Label of the cookie encryption key.
const COOKIE_LABEL: &[u8] = b"peerd cookie v2";

/// The key cookies from the server with public key `server` are sealed with.
pub fn cookie_key(server: &PublicKey) -> [u8; 32] {
    hash(&[COOKIE_LABEL, &server.0])
}

/// The server's cookie secrets.
pub struct CookieGuard {
    key: [u8; 32],
    current: [u8; 32],
    previous: Option<[u8; 32]>,
    since: Instant,
}

impl std::fmt::Debug for CookieGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieGuard(<secret>)")
    }
}

impl CookieGuard {
    /// Secrets for the server whose public key is `server`, made at `now`
    /// from `secret` (32 random bytes).
    pub fn new(server: &PublicKey, secret: [u8; 32], now: Instant) -> Self {
        Self {
            key: cookie_key(server),
            current: secret,
            previous: None,
            since: now,
        }
    }

    /// Replaces the secret once it is [`SECRET_LIFETIME`] old; `fresh` is
    /// asked for 32 random bytes only then.
    pub fn rotate(&mut self, now: Instant, fresh: impl FnOnce() -> [u8; 32]) {
        if now.saturating_duration_since(self.since) >= SECRET_LIFETIME {
            self.previous = Some(self.current);
            self.current = fresh();
            self.since = now;
        }
    }

    /// Whether the INIT's `mac2` was made with a cookie of `src` under the
    /// current or the previous secret.
    pub fn mac2_ok(&self, src: SocketAddr, init: &Init<'_>) -> bool {
        let ok = |secret: &[u8; 32]| {
            let cookie = cookie_of(secret, src);
            mac_eq(&mac2_for(&cookie, init.mac2_input), &init.mac2)
        };
        ok(&self.current) || self.previous.as_ref().is_some_and(ok)
    }

    /// The COOKIE_REPLY answering `init` from `src`, sealed with `nonce`
    /// (24 random bytes).
    pub fn reply(&self, src: SocketAddr, init: &Init<'_>, nonce: [u8; 24]) -> Vec<u8> {
        let cookie = cookie_of(&self.current, src);
        let sealed = seal_cookie(&self.key, &nonce, &cookie, &init.mac1);
        let mut out = Vec::with_capacity(COOKIE_REPLY_LEN);
        out.put_u8(ty::COOKIE_REPLY);
        out.put_u32(init.sender);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }
}

/// `MAC(secret, ip ‖ port)` of a source address.
fn cookie_of(secret: &[u8; 32], src: SocketAddr) -> [u8; MAC_LEN] {
    let src = canonical(src);
    let mut input = Vec::with_capacity(18);
    match src.ip() {
        std::net::IpAddr::V4(ip) => input.extend_from_slice(&ip.octets()),
        std::net::IpAddr::V6(ip) => input.extend_from_slice(&ip.octets()),
    }
    input.put_u16(src.port());
    mac(secret, &input)
}

/// The initiator's side: the cookie in `reply`, which answers the INIT
/// whose `mac1` was `init_mac1`, sent to the server with key `server`.
pub fn open_reply(
    server: &PublicKey,
    reply: &CookieReply,
    init_mac1: &[u8; MAC_LEN],
) -> Option<[u8; MAC_LEN]> {
    open_cookie(&cookie_key(server), &reply.nonce, &reply.sealed, init_mac1)
}

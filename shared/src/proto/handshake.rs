//! The Noise IK handshake of protocol v2 (section 3) through the `snow`
//! crate: the initiator's [`Initiator::start`] and [`Initiator::finish`],
//! the responder's [`accept`] and [`Accepted::respond`], with `mac1` and
//! `mac2` around the Noise messages. Each returns the frame bytes to send
//! and, once the handshake is complete, the [`SessionKeys`].
//!
//! No clock is read here: timestamps, indices and (in tests) ephemeral keys
//! are passed in. The responder's checks that need state (rate limits,
//! cookies under load, timestamps newer than the last accepted, which keys
//! are acceptable) belong to the caller; see section 3.3.

use std::sync::OnceLock;

use snow::params::NoiseParams;
use snow::{Builder, HandshakeState};

use super::codec::Put;
use super::crypto::{hash, mac, mac_eq, MAC_LEN};
use super::frame::{ty, Init, Resp, INIT_OVERHEAD, MAX_DATAGRAM, RESP_OVERHEAD};
use super::keys::{PublicKey, SecretKey};
use super::payload::{InitPayload, RespPayload};
use super::x25519::Resolver;

/// The Noise protocol name.
pub const NOISE_PARAMS: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
/// The Noise prologue.
pub const PROLOGUE: &[u8] = b"peerd v2";
/// Label of the mac1 key.
const MAC1_LABEL: &[u8] = b"peerd mac1 v2";

fn params() -> NoiseParams {
    static PARAMS: OnceLock<NoiseParams> = OnceLock::new();
    PARAMS
        .get_or_init(|| NOISE_PARAMS.parse().expect("the Noise name is valid"))
        .clone()
}

/// Why a handshake message was not accepted (it is dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("bad mac1")]
    Mac1,
    #[error("the Noise message does not decrypt")]
    Noise,
    #[error("malformed handshake payload")]
    Payload,
    #[error("the handshake does not fit a datagram")]
    TooLarge,
}

/// The two transport keys a handshake yields, and who initiated.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct SessionKeys {
    /// Encrypts what this side sends.
    pub send: [u8; 32],
    /// Decrypts what this side receives.
    pub recv: [u8; 32],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(<redacted>)")
    }
}

/// The key that `mac1` of frames sent to `receiver` is made with:
/// `HASH("peerd mac1 v2" ‖ receiver)`. Worth keeping for one's own key.
pub fn mac1_key(receiver: &PublicKey) -> [u8; 32] {
    hash(&[MAC1_LABEL, &receiver.0])
}

/// An identity: the private key, its public key, and the mac1 key of
/// frames sent to it (computed once).
#[derive(Debug, Clone)]
pub struct Identity {
    pub secret: SecretKey,
    pub public: PublicKey,
    mac1_key: [u8; 32],
}

impl Identity {
    pub fn new(secret: SecretKey) -> Self {
        let public = secret.public_key();
        Self {
            mac1_key: mac1_key(&public),
            secret,
            public,
        }
    }

    /// Whether `mac1` of a frame sent to this identity is right.
    pub fn mac1_ok(&self, input: &[u8], mac1: &[u8; MAC_LEN]) -> bool {
        mac_eq(&mac(&self.mac1_key, input), mac1)
    }
}

fn builder<'a>(local: &'a Identity, ephemeral: Option<&'a [u8; 32]>) -> Builder<'a> {
    let b = Builder::with_resolver(params(), Box::new(Resolver))
        .local_private_key(local.secret.expose())
        .expect("set once")
        .prologue(PROLOGUE)
        .expect("set once");
    match ephemeral {
        Some(e) => b.fixed_ephemeral_key_for_testing_only(e),
        None => b,
    }
}

/// A handshake this side started and waits to see answered.
pub struct Initiator {
    state: HandshakeState,
    /// Our index for the session this handshake makes.
    pub sender: u32,
    /// The responder's key.
    pub remote: PublicKey,
    /// The `mac1` of the INIT sent (a COOKIE_REPLY is bound to it).
    pub mac1: [u8; MAC_LEN],
}

impl std::fmt::Debug for Initiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Initiator")
            .field("sender", &self.sender)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl Initiator {
    /// Writes a HANDSHAKE_INIT to `remote` carrying `payload`, with `mac2`
    /// made from `cookie` when there is one. `ephemeral` is for test
    /// vectors only; `None` draws a fresh key.
    pub fn start(
        local: &Identity,
        remote: &PublicKey,
        sender: u32,
        payload: &InitPayload,
        cookie: Option<&[u8; MAC_LEN]>,
        ephemeral: Option<&[u8; 32]>,
    ) -> Result<(Vec<u8>, Self), HandshakeError> {
        let mut state = builder(local, ephemeral)
            .remote_public_key(&remote.0)
            .expect("set once")
            .build_initiator()
            .map_err(|_| HandshakeError::Noise)?;
        let mut plain = Vec::with_capacity(32);
        payload.encode(&mut plain);
        let mut out = Vec::with_capacity(INIT_OVERHEAD + plain.len());
        out.put_u8(ty::HANDSHAKE_INIT);
        out.put_u32(sender);
        write_noise(&mut state, &plain, &mut out)?;
        let mac1 = mac(&mac1_key(remote), &out);
        out.extend_from_slice(&mac1);
        let mac2 = cookie.map_or([0u8; MAC_LEN], |c| mac2_for(c, &out));
        out.extend_from_slice(&mac2);
        if out.len() > MAX_DATAGRAM {
            return Err(HandshakeError::TooLarge);
        }
        let me = Self {
            state,
            sender,
            remote: *remote,
            mac1,
        };
        Ok((out, me))
    }

    /// Reads the HANDSHAKE_RESP answering this handshake. The caller has
    /// already matched `resp.receiver` with [`Initiator::sender`].
    pub fn finish(
        mut self,
        local: &Identity,
        resp: &Resp<'_>,
    ) -> Result<(SessionKeys, RespPayload), HandshakeError> {
        if !local.mac1_ok(resp.mac1_input, &resp.mac1) {
            return Err(HandshakeError::Mac1);
        }
        let mut plain = [0u8; MAX_DATAGRAM];
        let n = self
            .state
            .read_message(resp.noise, &mut plain)
            .map_err(|_| HandshakeError::Noise)?;
        let payload = RespPayload::decode(&plain[..n]).map_err(|_| HandshakeError::Payload)?;
        let (i2r, r2i) = self.state.dangerously_get_raw_split();
        Ok((
            SessionKeys {
                send: i2r,
                recv: r2i,
            },
            payload,
        ))
    }
}

/// `mac2` of an INIT for a cookie: `MAC(cookie, bytes before mac2)`, keyed
/// with the 16-byte cookie itself.
pub fn mac2_for(cookie: &[u8; MAC_LEN], input: &[u8]) -> [u8; MAC_LEN] {
    mac(cookie, input)
}

fn write_noise(
    state: &mut HandshakeState,
    plain: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), HandshakeError> {
    let mut buf = [0u8; MAX_DATAGRAM];
    let n = state
        .write_message(plain, &mut buf)
        .map_err(|_| HandshakeError::TooLarge)?;
    out.extend_from_slice(&buf[..n]);
    Ok(())
}

/// A HANDSHAKE_INIT the responder has decrypted: who sent it, and what.
pub struct Accepted {
    state: HandshakeState,
    /// The initiator's index.
    pub initiator_index: u32,
    /// The initiator's static key (authenticated by the handshake).
    pub initiator: PublicKey,
    pub payload: InitPayload,
}

impl std::fmt::Debug for Accepted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accepted")
            .field("initiator_index", &self.initiator_index)
            .field("initiator", &self.initiator)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

/// Checks `mac1` and reads Noise message 1 of `init` (steps 3, 5 and 6 of
/// section 3.3; the caller does the others).
pub fn accept(local: &Identity, init: &Init<'_>) -> Result<Accepted, HandshakeError> {
    if !local.mac1_ok(init.mac1_input, &init.mac1) {
        return Err(HandshakeError::Mac1);
    }
    let mut state = builder(local, None)
        .build_responder()
        .map_err(|_| HandshakeError::Noise)?;
    let mut plain = [0u8; MAX_DATAGRAM];
    let n = state
        .read_message(init.noise, &mut plain)
        .map_err(|_| HandshakeError::Noise)?;
    let payload = InitPayload::decode(&plain[..n]).map_err(|_| HandshakeError::Payload)?;
    let initiator = state
        .get_remote_static()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .map(PublicKey)
        .ok_or(HandshakeError::Noise)?;
    Ok(Accepted {
        state,
        initiator_index: init.sender,
        initiator,
        payload,
    })
}

impl Accepted {
    /// Writes the HANDSHAKE_RESP with our index `sender` and `payload`; the
    /// session is live for the responder at once.
    pub fn respond(
        mut self,
        sender: u32,
        payload: &RespPayload,
    ) -> Result<(Vec<u8>, SessionKeys), HandshakeError> {
        finish_response(
            &mut self.state,
            self.initiator_index,
            &self.initiator,
            sender,
            payload,
        )
    }
}

fn finish_response(
    state: &mut HandshakeState,
    receiver: u32,
    initiator: &PublicKey,
    sender: u32,
    payload: &RespPayload,
) -> Result<(Vec<u8>, SessionKeys), HandshakeError> {
    let mut plain = Vec::with_capacity(32);
    payload.encode(&mut plain);
    let mut out = Vec::with_capacity(RESP_OVERHEAD + plain.len());
    out.put_u8(ty::HANDSHAKE_RESP);
    out.put_u32(sender);
    out.put_u32(receiver);
    write_noise(state, &plain, &mut out)?;
    let mac1 = mac(&mac1_key(initiator), &out);
    out.extend_from_slice(&mac1);
    if out.len() > MAX_DATAGRAM {
        return Err(HandshakeError::TooLarge);
    }
    let (i2r, r2i) = state.dangerously_get_raw_split();
    Ok((
        out,
        SessionKeys {
            send: r2i,
            recv: i2r,
        },
    ))
}

/// The responder's side of a handshake with a fixed ephemeral key, for the
/// test vectors: accept `init` and answer it in one step.
pub fn respond_with_ephemeral(
    local: &Identity,
    init: &Init<'_>,
    sender: u32,
    payload: &RespPayload,
    ephemeral: &[u8; 32],
) -> Result<(Vec<u8>, SessionKeys, Accepted), HandshakeError> {
    let seen = accept(local, init)?;
    let mut state = builder(local, Some(ephemeral))
        .build_responder()
        .map_err(|_| HandshakeError::Noise)?;
    let mut plain = [0u8; MAX_DATAGRAM];
    state
        .read_message(init.noise, &mut plain)
        .map_err(|_| HandshakeError::Noise)?;
    let (out, keys) = finish_response(&mut state, init.sender, &seen.initiator, sender, payload)?;
    Ok((out, keys, seen))
}

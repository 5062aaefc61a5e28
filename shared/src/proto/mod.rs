//! Protocol v2 (`docs/protocol.md`): keys as identities and every datagram
//! under Noise. The modules follow the specification:
//!
//! - [`keys`]: static X25519 keys, their text and fingerprints, key files;
//! - [`crypto`]: `HASH`, `MAC` and the AEADs, each from a well-kept crate;
//! - [`frame`]: the frames, dispatched on the first byte;
//! - [`handshake`]: the Noise IK handshake with `mac1`/`mac2`;
//! - [`cookie`]: cookies under load;
//! - [`session`] and [`replay`]: TRANSPORT frames and the replay window;
//! - [`payload`], [`codec`] and [`error`]: what the frames carry.

pub mod codec;
pub mod cookie;
pub mod crypto;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod keys;
pub mod payload;
pub mod replay;
pub mod session;

pub use error::ErrorCode;
pub use frame::{Frame, MAX_DATAGRAM};
pub use handshake::{Identity, Initiator, SessionKeys};
pub use keys::{PublicKey, SecretKey};
pub use payload::{Body, InitPayload, RespPayload, MAX_TEXT};
pub use session::Session;

/// Replay window words of a session between daemons (2048 counters).
pub const PEER_WINDOW_WORDS: usize = 32;
/// Replay window words of a session at the server (128 counters).
pub const SERVER_WINDOW_WORDS: usize = 2;

//! Protocol v2 (`docs/protocol.md`): keys as identities and every datagram
//! under Noise. The modules follow the specification:
//!
//! - [`keys`]: static X25519 keys, their text and fingerprints, key files;
//! - [`crypto`]: `HASH`, `MAC` and the AEADs, each from a well-kept crate;
//! - [`frame`]: the frames, dispatched on the first byte;
//! - [`handshake`]: the Noise IK handshake with `mac1`/`mac2` (its X25519
//!   from aws-lc: `x25519`);
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
mod x25519;

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

/// The keepalive period a server announces by default.
pub const DEFAULT_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(25);
/// A registration not refreshed for this many keepalive periods expires.
pub const EXPIRY_KEEPALIVES: u32 = 3;
/// A session is used to send for at most this long, then re-keyed.
pub const REKEY_AFTER: std::time::Duration = std::time::Duration::from_secs(600);
/// Frames on a session older than this are dropped.
pub const REJECT_AFTER: std::time::Duration = std::time::Duration::from_secs(900);
/// A handshake not answered within this long is forgotten.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

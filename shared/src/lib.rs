//! Types shared by the peerd binaries and any program that talks to them.
//!
//! - [`wire`]: the UDP messages of protocol version 1 (`docs/protocol.md`),
//!   with encode/decode and the 1200-byte datagram limit.
//! - [`stun`]: the STUN Binding codec the server answers stock clients with.
//! - [`ids`]: newtype ids and the secret identity token.
//! - [`control`]: the JSON-lines protocol of the daemon's control socket.
//! - [`paths`]: where data, sockets and config live.
//! - [`proto`]: protocol version 2: keys, Noise handshakes, sessions, frames.
//! - [`text`]: received text made safe for terminals and log lines.

pub mod control;
pub mod ids;
pub mod paths;
pub mod proto;
pub mod stun;
pub mod text;
pub mod wire;

pub use ids::{MsgId, PeerId, Seq, Token};

/// The wire protocol version this crate speaks.
pub const PROTOCOL_VERSION: u64 = wire::VERSION;

//! Types shared by the peerd binaries and any program that talks to them.
//!
//! - [`proto`]: protocol version 2 (`docs/protocol.md`): keys, Noise
//!   handshakes, sessions, frames, payloads and the 1200-byte datagram limit.
//! - [`stun`]: the STUN Binding codec the server answers stock clients with.
//! - [`ids`]: newtype ids: peers, messages, request sequence numbers.
//! - [`control`]: the JSON-lines protocol of the daemon's control socket.
//! - [`paths`]: where data, sockets and config live.
//! - [`text`]: received text made safe for terminals and log lines.

pub mod control;
pub mod ids;
pub mod paths;
pub mod proto;
pub mod stun;
pub mod text;

pub use ids::{MsgId, PeerId, Seq};

/// The wire protocol version this crate speaks (announced in KEY_REPLY).
pub const PROTOCOL_VERSION: u8 = proto::frame::VERSION;

//! The UDP messages of protocol.md sections 2 and 3: one enum, [`Packet`],
//! tagged by `type`, with [`encode`] and [`decode`].
//!
//! Decoding is staged so that a server can answer exactly as protocol.md 2
//! asks: the datagram is read once into a set of loosely typed fields, then
//! checked in the order JSON object, `v`, `type`, `seq`, other fields. The
//! first failure becomes a [`DecodeError`] that carries the `seq` whenever
//! one could be read, so the ERROR can echo it. Unknown fields are ignored.
//! The hot requests (REGISTER, LIST, CONNECT) decode without allocating.
//!
//! Files: `packet` (the types), `encode`, `fields` (a datagram read
//! loosely) and `decode` (the checks), `addr_text`, `limits`, and `fast`:
//! the decoders for the exact bytes the daemon and the server write, used
//! by the server's hot path and by the load generator.

pub mod addr_text;
mod decode;
mod encode;
pub mod fast;
mod fields;
mod limits;
mod packet;
#[cfg(test)]
mod tests;

pub use addr_text::canonical;
pub use decode::{decode, decode_data, DecodeError};
pub use encode::{encode, encode_error, encode_into, EncodeError};
pub use limits::{
    DEFAULT_KEEPALIVE, EXPIRY_KEEPALIVES, MAX_DATAGRAM, MAX_TEXT, RETRY_WINDOW, VERSION,
};
pub use packet::{ErrorCode, Kind, Packet, PeerEntry};

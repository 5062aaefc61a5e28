//! STUN on the server's port: which datagrams are STUN and how they are
//! answered, from `peerd_shared::stun` (protocol.md 1.1).

pub use peerd_shared::stun::{answer, is_stun, ANSWER_BUF};

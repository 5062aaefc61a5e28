//! The loads the generator can apply; each implements
//! [`crate::engine::Workload`].
//!
//! - [`stun`]: STUN Binding requests;
//! - [`session`]: protocol v2 requests on registered peers' sessions
//!   (`keepalive`, `mix`, and the keepalives of `junk`);
//! - [`register`]: a full REGISTER handshake with a new key per request.

pub mod register;
pub mod session;
pub mod stun;

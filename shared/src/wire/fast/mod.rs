//! Fast paths in front of [`super::decode`] for the datagrams read most,
//! in exactly the bytes peerd writes them: keys in order, no whitespace,
//! integers in plain decimal. [`decode_reply`] reads REGISTER_ACK,
//! LIST_ACK, CONNECT_ACK and INTRO (the load generator's). Each returns
//! exactly the [`Packet`](super::Packet) `decode` would, or `None`, and the
//! caller then asks `decode`: the property tests compare both.

mod replies;
mod scan;

pub use replies::decode_reply;

//! The STUN Binding codec the rendezvous server answers stock STUN clients
//! with on its one UDP port (protocol.md 1.1), and the client half used by
//! tests and the load generator.
//!
//! Written by hand because the STUN crates reject classic RFC 3489 requests.
//! It never allocates on the server path, never panics and never reads out
//! of bounds, whatever the input. [`answer`] decides what the server does:
//!
//! - RFC 8489/5389 Binding Request (magic cookie `0x2112A442`): Binding
//!   Success Response with the same transaction id, XOR-MAPPED-ADDRESS
//!   (an IPv4-mapped IPv6 source is written as IPv4), SOFTWARE and
//!   FINGERPRINT.
//! - classic RFC 3489 Binding Request (no cookie): Binding Response with
//!   MAPPED-ADDRESS and nothing else (3489 parsers such as Debian's `stun`
//!   reject attributes they do not know).
//! - CHANGE-REQUEST asking for another IP or port cannot be honoured by a
//!   one-address server. In an RFC 5389 request it is answered with 420
//!   (Unknown Attribute) listing CHANGE-REQUEST, as RFC 5780 7.2 prescribes
//!   for servers without an alternate address. A classic request is
//!   **dropped**: Debian's `stun` client counts any datagram carrying the
//!   test's transaction id as "the change worked" without looking at the
//!   message type, so a 420 would make it report a NAT type that is false.
//!   Silence lets it conclude correctly that the change did not happen.
//!   A CHANGE-REQUEST with no flag set asks for nothing and is answered.
//! - RESPONSE-ADDRESS is ignored (honouring it would aim replies at third
//!   parties). USERNAME, MESSAGE-INTEGRITY and the other credential
//!   attributes are understood and ignored: the server uses no credentials.
//! - any other comprehension-required attribute (type below `0x8000`) not
//!   understood: 420 with UNKNOWN-ATTRIBUTES (at most [`MAX_UNKNOWN`]
//!   listed). Attributes after MESSAGE-INTEGRITY are ignored (RFC 8489 14.5).
//! - other request methods: 400 error response (RFC 5389), dropped (classic).
//! - responses and indications: never answered. Malformed messages (length
//!   not a multiple of 4, a length field that lies, a truncated attribute,
//!   a bad or misplaced FINGERPRINT, more than [`MAX_STUN`] bytes): dropped.

mod answer;
mod client;
mod codes;
mod message;
#[cfg(test)]
mod tests;

pub use answer::answer;
pub use client::{
    binding_request, classic_binding_request, parse_binding_response, BindingResponse,
};
pub use codes::{
    attr, ANSWER_BUF, FINGERPRINT_XOR, HEADER_LEN, MAGIC_COOKIE, MAX_STUN, MAX_UNKNOWN,
    METHOD_BINDING, SOFTWARE,
};
pub use message::*;

use codes::{CHANGE_FLAGS, KNOWN_5389};
use message::{decode_address, encode_address, message_type, xor_mask};

//! This daemon's relationship with the rendezvous server, without I/O
//! (docs/protocol.md 3, 5): it learns the server's key on first contact
//! (KEY_REQUEST) when it is not given, registers by a REGISTER handshake
//! (rounds of five tries, `handshake`), refreshes with KEEPALIVE every
//! `keepalive` seconds, re-keys every 600 s, retransmits requests
//! ([`super::requests`]), handshakes again when the server stops answering
//! or says `unauthorized`, and serves LIST (every page), CONNECT and
//! UNREGISTER for the other actors, who wait as callers `C`. Requests that
//! need the registration wait for it (deferred) while it is under way, and
//! fail at once while the daemon is offline. Its state is `status`'s
//! `state`.
//!
//! It owns the [`Transport`], so every datagram of the daemon, to the
//! server or to a peer, is sealed and opened here; the actor around it
//! (`RegistryLink`) only moves bytes and messages.
//!
//! `inputs` holds the state and what comes in; `transitions` the moves
//! between states; `replies` the reading of the server's replies;
//! `handshake` the timing of REGISTER handshakes; `vocabulary` what it
//! takes and gives; `tests` the unit tests.

mod handshake;
mod inputs;
mod replies;
#[cfg(test)]
mod tests;
mod transitions;
mod vocabulary;

pub use inputs::Registration;
pub use vocabulary::{Action, Answer, LinkError, LinkStatus, Purpose};

//! This daemon's relationship with the rendezvous server, without I/O: it
//! registers at start and every `keepalive` seconds, retransmits requests
//! ([`super::requests`]), backs off while the server does not answer
//! (500 ms doubling to 5 s), re-registers after `unauthorized` or a failed
//! request, and serves LIST (every page), CONNECT and UNREGISTER for the
//! other actors, who wait as callers `C`. Requests that need the
//! registration wait for it (deferred) while it is under way, and fail at
//! once while the daemon is offline. Its state is `status`'s `state`.
//!
//! It owns the [`Transport`], so every datagram of the daemon, to the
//! server or to a peer, is sealed and opened here; the actor around it
//! (`RegistryLink`) only moves bytes and messages.

mod inputs;
#[cfg(test)]
mod tests;
mod transitions;
mod vocabulary;

pub use inputs::Registration;
pub use vocabulary::{Action, Answer, LinkError, LinkStatus, Purpose};

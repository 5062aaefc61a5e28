//! How this daemon reaches each peer: the per-peer path state machine the
//! outbox drives (docs/protocol.md 6). A peer is `Unknown` until looked up,
//! `Connecting` while CONNECT is out, `Punching` its introduced address for
//! up to 3 s (a new HELLO handshake every 200 ms), then `Direct` (an
//! authenticated frame came back from an address: the transport's path
//! proof, the only thing that records or moves a path) or `Relayed` (with
//! the reason), or `Waiting` to look it up again (offline, or the server
//! unreachable), or `Blocked` (the server gave another key than the pinned
//! one, until the user trusts it).
//!
//! Around the states: a relayed path punches again now and then while it
//! carries messages and keeps relaying while it does (`Punching::relayed`);
//! a direct path in use is kept open with PROBE keepalives and punched
//! again when it falls silent; the round-trip time of the last probe
//! answer is kept for `peers`. The fields are private: the path changes
//! only through its named transitions.

mod state;
#[cfg(test)]
mod tests;
mod transitions;

pub use state::{PathState, PeerPath, PunchTick, Upkeep};

//! How this daemon reaches each peer: the per-peer path state machine the
//! outbox drives (protocol.md 3). A peer is `Unknown` until looked up,
//! `Connecting` while CONNECT is out, `Punching` its introduced address for
//! up to 3 s, then `Direct` (a matching PUNCH/PUNCH_ACK came back) or
//! `Relayed` (with the reason), or `Waiting` to look it up again (offline,
//! or the server unreachable).
//!
//! Around the states: a PUNCH that arrives before the introduction it
//! belongs to is remembered for one punch window and matched when the
//! introduction comes; a relayed path punches again now and then while it
//! carries messages and keeps relaying while it does (`Punching::relayed`);
//! a direct path in use is kept open with PUNCH keepalives and punched
//! again when it falls silent; the round-trip time of the last probe
//! answer is kept for `peers`. The fields are private: the path changes
//! only through its named transitions.

mod state;
#[cfg(test)]
mod tests;
mod transitions;

pub use state::{PathState, PeerPath, PunchTick, Upkeep};

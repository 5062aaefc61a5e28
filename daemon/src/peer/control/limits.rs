//! What one control connection may cost the daemon (documented in
//! `docs/control.md`, "Limits"). Together they bound the memory a client
//! holds: a request line is at most
//! [`MAX_LINE`](peerd_shared::control::MAX_LINE), at most [`MAX_PENDING`]
//! requests wait for their reply, the replies written but not read are at
//! most [`MAX_UNSENT`] bytes plus the one being written, and that one is at
//! most [`MAX_REPLY_LINE`](peerd_shared::control::MAX_REPLY_LINE) (a
//! listing is read from the store only when its turn comes, so at most one
//! is held). A follower's events wait in a buffer of
//! [`FOLLOW_BUFFER`](crate::peer::inbox::FOLLOW_BUFFER) messages.

/// Requests of one connection that may wait for their reply. The session
/// reads no further line while that many wait (a client whose requests
/// take time is slowed down, not cut off), unless the client also leaves
/// [`MAX_UNSENT`] bytes of replies unread: then it is cut off.
pub const MAX_PENDING: usize = 1024;

/// Bytes of reply lines the daemon keeps for a client that does not read
/// them; past this, it takes no further reply for that client.
pub const MAX_UNSENT: usize = 1024 * 1024;

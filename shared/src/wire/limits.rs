//! The protocol's limits and periods (protocol.md 1 and 2).

use std::time::Duration;

/// The protocol version every message carries as `"v"`.
pub const VERSION: u64 = 1;
/// Largest UDP payload either side sends or processes, in bytes.
pub const MAX_DATAGRAM: usize = 1200;
/// Largest `text` of a MESSAGE, in bytes of UTF-8.
pub const MAX_TEXT: usize = 1000;
/// The registration refresh period a server announces by default.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(25);
/// A registration expires after this many keepalive periods without REGISTER.
pub const EXPIRY_KEEPALIVES: u32 = 3;
/// How long a server remembers a request for idempotent retries.
pub const RETRY_WINDOW: Duration = Duration::from_secs(30);

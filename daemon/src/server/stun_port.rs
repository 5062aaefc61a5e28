//! STUN on the server's port: which datagrams are STUN and how they are
//! answered, from `peerd_shared::stun` (protocol.md 1.1). Used by the
//! registry's thread and by the STUN threads alike.

use std::net::SocketAddr;

use peerd_shared::proto::MAX_DATAGRAM;
use tracing::debug;

pub use peerd_shared::stun::{answer, is_stun, ANSWER_BUF};

use super::reply_buffer::ReplyBuffer;
use crate::metrics::Counter;
use crate::ratelimit::Verdict;

/// Answers the STUN `datagram` from `source` (canonical form) when the
/// rate limiter's `verdict` accepts it; excess STUN is dropped, never
/// answered with an error.
pub fn serve(datagram: &[u8], source: SocketAddr, verdict: Verdict, out: &mut ReplyBuffer) {
    if verdict != Verdict::Accept {
        out.tally.add(Counter::RateLimitedDropped, 1);
        return;
    }
    if datagram.len() <= MAX_DATAGRAM {
        let before = out.len();
        out.with_space(source, ANSWER_BUF, |buf| answer(datagram, source, buf));
        let answered = out.len() > before;
        out.tally.add(Counter::StunAnswers, u64::from(answered));
        debug!(%source, answered, "STUN");
    }
}

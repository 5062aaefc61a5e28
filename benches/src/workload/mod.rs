//! The loads the generator can apply; each implements [`Workload`], which
//! the engine drives: what a request looks like and which reply is right.
//!
//! - [`stun`]: STUN Binding requests;
//! - [`session`]: protocol v2 requests on registered peers' sessions
//!   (`keepalive`, `mix`, and the keepalives of `junk`);
//! - [`register`]: a full REGISTER handshake with a new key per request.

pub mod register;
pub mod session;
pub mod stun;

use std::net::SocketAddr;

use crate::stats::Stats;

/// What a workload made of one received datagram.
pub enum Parsed<B> {
    /// The reply to the request numbered `seq`.
    Reply { seq: u32, body: B },
    /// The server wants request `seq` sent again, differently (a
    /// COOKIE_REPLY: the handshake is redone with `mac2`).
    Retry { seq: u32 },
    /// A server push the peer ignores (INTRO after someone's CONNECT).
    Push,
    /// Not a datagram this workload can make sense of.
    Garbage,
}

/// Whether a reply is what the request deserved.
pub enum Verdict {
    Ok,
    /// An ERROR reply (or a STUN error response), by code.
    Error(&'static str),
    /// A reply of the right number but the wrong content.
    Invalid,
}

/// One kind of load: builds requests and judges replies for the peers of
/// one thread (`peer` is the index within the thread).
pub trait Workload: Send {
    /// A parsed reply, handed back to [`Workload::judge`].
    type Body;
    /// Writes request `seq` of `peer` into `buf`; returns its length and a
    /// tag the engine keeps with the request for [`Workload::judge`].
    fn request(&mut self, peer: usize, seq: u32, buf: &mut [u8]) -> (usize, u64);
    /// Reads one datagram received by `peer`.
    fn parse(&mut self, peer: usize, datagram: &[u8]) -> Parsed<Self::Body>;
    /// Judges the reply to the request that carried `tag`; `counted` says
    /// whether the engine counts this verdict.
    fn judge(
        &mut self,
        peer: usize,
        local: SocketAddr,
        tag: u64,
        body: Self::Body,
        counted: bool,
    ) -> Verdict;
    /// Writes request `seq` again after [`Parsed::Retry`]; returns its
    /// length (0: nothing to send).
    fn retry(&mut self, _peer: usize, _seq: u32, _tag: u64, _buf: &mut [u8]) -> usize {
        0
    }
    /// Request `seq` went unanswered: whatever was kept for it can go.
    fn forget(&mut self, _peer: usize, _seq: u32, _tag: u64) {}
    /// After the run: checks deferred until now, corrected into `stats`.
    fn settle(&mut self, _stats: &mut Stats) {}
}

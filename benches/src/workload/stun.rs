//! The `stun` workload: RFC 5389 Binding Requests built by the shared codec;
//! every response must carry the transaction id of an outstanding request of
//! the same peer and an XOR-MAPPED-ADDRESS equal to the peer's own address.
//!
//! The 96-bit transaction id is `seq (4 bytes) | peer index (4) | run nonce
//! (4)`, so a response is matched without a lookup table and a response
//! meant for another peer or an earlier run is recognised as invalid.

use std::net::SocketAddr;

use peerd_shared::stun::{self, StunError};

use crate::engine::{Parsed, Verdict, Workload};

/// Length of a STUN header; the transaction id is its last 12 bytes.
const HEADER: usize = stun::HEADER_LEN;

/// The STUN workload of one thread.
pub struct StunWorkload {
    nonce: [u8; 4],
}

impl StunWorkload {
    /// A workload with a fresh random run nonce.
    pub fn new() -> Self {
        Self {
            nonce: fastrand::u32(..).to_be_bytes(),
        }
    }

    fn txid(&self, peer: usize, seq: u32) -> [u8; 12] {
        let mut t = [0u8; 12];
        t[..4].copy_from_slice(&seq.to_be_bytes());
        t[4..8].copy_from_slice(&u32::try_from(peer).unwrap_or(u32::MAX).to_be_bytes());
        t[8..].copy_from_slice(&self.nonce);
        t
    }
}

impl Default for StunWorkload {
    fn default() -> Self {
        Self::new()
    }
}

/// What a response said, judged once the request is known.
pub enum StunBody {
    /// A success response's XOR-MAPPED-ADDRESS.
    Mapped(SocketAddr),
    ErrorResponse,
    Malformed,
}

impl Workload for StunWorkload {
    type Body = StunBody;

    fn request(&mut self, peer: usize, seq: u32, buf: &mut [u8]) -> (usize, u64) {
        let req = stun::binding_request(self.txid(peer, seq));
        buf[..req.len()].copy_from_slice(&req);
        (req.len(), 0)
    }

    fn parse(&mut self, peer: usize, datagram: &[u8]) -> Parsed<StunBody> {
        if datagram.len() < HEADER {
            return Parsed::Garbage;
        }
        let txid = &datagram[8..HEADER];
        let expected = self.txid(peer, 0);
        if txid[4..] != expected[4..] {
            return Parsed::Garbage;
        }
        let seq = u32::from_be_bytes([txid[0], txid[1], txid[2], txid[3]]);
        let body = match stun::parse_binding_response(datagram) {
            Ok(resp) if resp.xor => StunBody::Mapped(resp.mapped),
            Err(StunError::ErrorResponse { .. }) => StunBody::ErrorResponse,
            Ok(_) | Err(_) => StunBody::Malformed,
        };
        Parsed::Reply { seq, body }
    }

    fn judge(&mut self, _peer: usize, local: SocketAddr, _tag: u64, body: StunBody) -> Verdict {
        match body {
            StunBody::Mapped(addr) if addr == local => Verdict::Ok,
            StunBody::ErrorResponse => Verdict::Error("stun_error_response"),
            StunBody::Mapped(_) | StunBody::Malformed => Verdict::Invalid,
        }
    }
}

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

    fn judge(
        &mut self,
        _peer: usize,
        local: SocketAddr,
        _tag: u64,
        body: StunBody,
        _counted: bool,
    ) -> Verdict {
        match body {
            StunBody::Mapped(addr) if addr == local => Verdict::Ok,
            StunBody::ErrorResponse => Verdict::Error("stun_error_response"),
            StunBody::Mapped(_) | StunBody::Malformed => Verdict::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> SocketAddr {
        "127.0.0.1:5000".parse().expect("literal")
    }

    fn answered(req: &[u8], from: SocketAddr) -> Vec<u8> {
        let mut out = [0u8; stun::ANSWER_BUF];
        let n = stun::answer(req, from, &mut out).expect("a binding request is answered");
        out[..n].to_vec()
    }

    #[test]
    fn a_response_is_matched_to_its_request_and_checked() {
        let mut w = StunWorkload::new();
        let mut buf = [0u8; 64];
        let (len, tag) = w.request(3, 77, &mut buf);
        let resp = answered(&buf[..len], local());
        let Parsed::Reply { seq, body } = w.parse(3, &resp) else {
            panic!("the response is recognised");
        };
        assert_eq!(seq, 77);
        assert!(matches!(w.judge(3, local(), tag, body, true), Verdict::Ok));
    }

    #[test]
    fn wrong_address_or_foreign_transaction_is_caught() {
        let mut w = StunWorkload::new();
        let mut buf = [0u8; 64];
        let (len, tag) = w.request(0, 1, &mut buf);
        let elsewhere: SocketAddr = "127.0.0.2:5000".parse().expect("literal");
        let resp = answered(&buf[..len], elsewhere);
        let Parsed::Reply { body, .. } = w.parse(0, &resp) else {
            panic!("the response is recognised");
        };
        assert!(matches!(
            w.judge(0, local(), tag, body, true),
            Verdict::Invalid
        ));
        // The same response seen by another peer is not its reply.
        assert!(matches!(w.parse(1, &resp), Parsed::Garbage));
        // Another run's workload has another nonce.
        let mut other = StunWorkload::new();
        other.nonce = [!w.nonce[0], 0, 0, 0];
        assert!(matches!(other.parse(0, &resp), Parsed::Garbage));
    }
}

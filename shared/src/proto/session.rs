//! A live session (protocol v2, section 4): the two transport keys of one
//! handshake, both sides' indices, the send counter and the replay window.
//! [`Session::seal`] writes a TRANSPORT frame; [`Session::open`] checks one
//! (decrypts, then the replay window) and returns its payload.
//!
//! The keys are kept as raw bytes and used through the `chacha20poly1305`
//! crate rather than as snow's `StatelessTransportState`: measured with
//! `size_of` and the allocator, snow's state takes 120 bytes inline plus two
//! boxed ciphers (about 96 bytes of heap), against 64 bytes here; the server
//! holds one session per online peer, and protocol v2's budget is 400 bytes
//! per peer in all. The AEAD itself is the same crate snow uses.

use super::codec::Put;
use super::crypto::{open, seal};
use super::frame::{ty, Transport, MAX_DATAGRAM, TRANSPORT_OVERHEAD};
use super::handshake::SessionKeys;
use super::replay::ReplayWindow;

/// A sender stops using a session after this many frames.
pub const MAX_COUNTER: u64 = 1 << 60;

/// Why a TRANSPORT frame was not accepted (it is dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the frame does not decrypt")]
    Decrypt,
    #[error("the counter was seen before or is too old")]
    Replay,
}

/// Why a frame could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the payload does not fit a {MAX_DATAGRAM}-byte datagram")]
    TooLarge,
    #[error("the session has used up its counters")]
    Exhausted,
}

/// One session, with a replay window of `64 * WORDS` counters.
#[derive(Debug)]
pub struct Session<const WORDS: usize> {
    keys: SessionKeys,
    /// Our index: the `receiver` of frames sent to us on this session.
    pub local: u32,
    /// The other side's index: the `receiver` of frames we send.
    pub remote: u32,
    next_send: u64,
    window: ReplayWindow<WORDS>,
}

impl<const WORDS: usize> Session<WORDS> {
    /// A session from a completed handshake.
    pub fn new(keys: SessionKeys, local: u32, remote: u32) -> Self {
        Self {
            keys,
            local,
            remote,
            next_send: 0,
            window: ReplayWindow::default(),
        }
    }

    /// Frames sent so far.
    pub fn sent(&self) -> u64 {
        self.next_send
    }

    /// Appends a TRANSPORT frame carrying `payload` to `out`.
    pub fn seal(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), SealError> {
        if payload.len() + TRANSPORT_OVERHEAD > MAX_DATAGRAM {
            return Err(SealError::TooLarge);
        }
        if self.next_send >= MAX_COUNTER {
            return Err(SealError::Exhausted);
        }
        let counter = self.next_send;
        self.next_send += 1;
        out.reserve(payload.len() + TRANSPORT_OVERHEAD);
        out.put_u8(ty::TRANSPORT);
        out.put_u32(self.remote);
        out.put_u64(counter);
        let start = out.len();
        out.extend_from_slice(payload);
        seal(&self.keys.send, counter, out, start);
        Ok(())
    }

    /// Decrypts `frame` into `buf` and checks its counter; returns the
    /// payload. The caller has matched `frame.receiver` with
    /// [`Session::local`].
    pub fn open<'b>(
        &mut self,
        frame: &Transport<'_>,
        buf: &'b mut Vec<u8>,
    ) -> Result<&'b [u8], OpenError> {
        if !self.window.check(frame.counter) {
            return Err(OpenError::Replay);
        }
        buf.clear();
        buf.extend_from_slice(frame.sealed);
        let n = open(&self.keys.recv, frame.counter, buf).ok_or(OpenError::Decrypt)?;
        if !self.window.accept(frame.counter) {
            return Err(OpenError::Replay);
        }
        Ok(&buf[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::Frame;

    fn pair() -> (Session<32>, Session<32>) {
        let a = SessionKeys {
            send: [1; 32],
            recv: [2; 32],
        };
        let b = SessionKeys {
            send: [2; 32],
            recv: [1; 32],
        };
        (Session::new(a, 10, 20), Session::new(b, 20, 10))
    }

    fn transport(bytes: &[u8]) -> Transport<'_> {
        match Frame::parse(bytes) {
            Ok(Frame::Transport(t)) => t,
            other => panic!("not a transport frame: {other:?}"),
        }
    }

    #[test]
    fn frames_open_once_in_any_order() {
        let (mut a, mut b) = pair();
        let mut f1 = Vec::new();
        let mut f2 = Vec::new();
        a.seal(b"one", &mut f1).unwrap();
        a.seal(b"two", &mut f2).unwrap();
        assert_eq!(f1.len(), TRANSPORT_OVERHEAD + 3);
        assert_eq!(transport(&f1).receiver, 20);
        let mut buf = Vec::new();
        assert_eq!(b.open(&transport(&f2), &mut buf).unwrap(), b"two");
        assert_eq!(b.open(&transport(&f1), &mut buf).unwrap(), b"one");
        assert_eq!(b.open(&transport(&f1), &mut buf), Err(OpenError::Replay));
        let mut forged = f1.clone();
        forged[5..13].copy_from_slice(&7u64.to_be_bytes());
        assert_eq!(
            b.open(&transport(&forged), &mut buf),
            Err(OpenError::Decrypt)
        );
        // A forged frame never moves the window: counter 7 is still usable.
        let mut later = Vec::new();
        for _ in 0..6 {
            later.clear();
            a.seal(b"x", &mut later).unwrap();
        }
        assert_eq!(transport(&later).counter, 7);
        assert!(b.open(&transport(&later), &mut buf).is_ok());
    }

    #[test]
    fn oversized_payloads_are_refused() {
        let (mut a, _) = pair();
        let mut out = Vec::new();
        assert!(a
            .seal(&[0; MAX_DATAGRAM - TRANSPORT_OVERHEAD], &mut out)
            .is_ok());
        out.clear();
        assert_eq!(
            a.seal(&[0; MAX_DATAGRAM - TRANSPORT_OVERHEAD + 1], &mut out),
            Err(SealError::TooLarge)
        );
    }
}

//! Helpers for the comparison script: wait until a server answers STUN,
//! ask a protocol v2 server for its public key (KEY_REQUEST, section 3.5),
//! and find a free UDP port on loopback for a server that cannot pick its
//! own and report it (coturn).

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use peerd_shared::proto::frame::key_request;
use peerd_shared::proto::{Frame, PublicKey};
use peerd_shared::stun;

use crate::error::BenchError;
use crate::peers::{any_loopback, open_socket};
use crate::sys::RECV_BUF;

/// How often [`wait_for_stun`] asks again.
const PROBE_EVERY: Duration = Duration::from_millis(100);

/// Sends Binding requests to `server` until one is answered with a success
/// response, or fails at `deadline`.
pub fn wait_for_stun(server: SocketAddr, deadline: Instant) -> Result<(), BenchError> {
    let sock = open_socket(any_loopback(server), server)?;
    sock.set_nonblocking(false)
        .and_then(|()| sock.set_read_timeout(Some(PROBE_EVERY)))
        .map_err(|e| BenchError::io("cannot set up the probe socket", e))?;
    let txid: [u8; 12] = fastrand::u128(..).to_le_bytes()[..12]
        .try_into()
        .expect("12 of 16 bytes");
    let request = stun::binding_request(txid);
    let mut buf = [0u8; RECV_BUF];
    while Instant::now() < deadline {
        // Refused (nothing listening yet) and timeouts both mean: ask again.
        let _ = sock.send(&request);
        if let Ok(len) = sock.recv(&mut buf) {
            if stun::parse_binding_response(&buf[..len]).is_ok() {
                return Ok(());
            }
        }
        std::thread::sleep(PROBE_EVERY.saturating_sub(Duration::from_millis(50)));
    }
    Err(BenchError::Setup(format!(
        "{server} did not answer STUN before the deadline"
    )))
}

/// Asks `server` for its public key with KEY_REQUEST until a KEY_REPLY
/// comes, or fails at `deadline`. The answer is not authenticated (it is
/// what a daemon trusts on first use); pass `--server-key` to pin one.
pub fn fetch_server_key(server: SocketAddr, deadline: Instant) -> Result<PublicKey, BenchError> {
    let sock = open_socket(any_loopback(server), server)?;
    sock.set_nonblocking(false)
        .and_then(|()| sock.set_read_timeout(Some(PROBE_EVERY)))
        .map_err(|e| BenchError::io("cannot set up the probe socket", e))?;
    let request = key_request();
    let mut buf = [0u8; RECV_BUF];
    while Instant::now() < deadline {
        let _ = sock.send(&request);
        let asked = Instant::now();
        while asked.elapsed() < PROBE_EVERY {
            match sock.recv(&mut buf) {
                Ok(len) => {
                    if let Ok(Frame::KeyReply(key)) = Frame::parse(&buf[..len]) {
                        return Ok(key);
                    }
                }
                Err(_) => break,
            }
        }
    }
    Err(BenchError::Setup(format!(
        "{server} did not answer KEY_REQUEST before the deadline (not a protocol v2 server?)"
    )))
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> Result<u16, BenchError> {
    let sock =
        UdpSocket::bind("127.0.0.1:0").map_err(|e| BenchError::io("cannot bind 127.0.0.1:0", e))?;
    let addr = sock
        .local_addr()
        .map_err(|e| BenchError::io("cannot read the bound address", e))?;
    Ok(addr.port())
}

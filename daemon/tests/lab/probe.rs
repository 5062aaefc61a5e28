//! Probing NATs from raw UDP sockets: a minimal STUN Binding client (what
//! is my public address, as seen by that server?) and [`Reflector`], a STUN
//! Binding responder the test runs in-process on any lab host.
//!
//! Only the Binding method is spoken: a 20-byte request, and a success
//! response carrying XOR-MAPPED-ADDRESS (or the classic MAPPED-ADDRESS).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::error::{LabError, Result};
use super::machines::Host;
use crate::support::{recv_matching, DEADLINE};

const MAGIC_COOKIE: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// How often a STUN request is resent while no answer came.
const STUN_RETRY: Duration = Duration::from_millis(200);

/// One STUN Binding transaction (its 12-byte transaction id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StunTx(pub [u8; 12]);

impl StunTx {
    /// A transaction with a random id.
    pub fn new() -> Self {
        let mut id = [0u8; 12];
        getrandom::fill(&mut id).expect("the OS random source is available");
        Self(id)
    }

    /// The Binding Request datagram (RFC 8489, no attributes).
    pub fn request(&self) -> [u8; 20] {
        let mut out = [0u8; 20];
        out[0..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
        out[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out[8..20].copy_from_slice(&self.0);
        out
    }

    /// Reads a Binding Request; its transaction if `buf` is one.
    pub fn parse_request(buf: &[u8]) -> Option<Self> {
        if buf.len() < 20 || u16::from_be_bytes([buf[0], buf[1]]) != BINDING_REQUEST {
            return None;
        }
        let mut id = [0u8; 12];
        id.copy_from_slice(&buf[8..20]);
        Some(Self(id))
    }

    /// The Binding Success Response telling the asker its address `mapped`.
    pub fn response(&self, mapped: SocketAddr) -> Vec<u8> {
        let (IpAddr::V4(ip), port) = (mapped.ip(), mapped.port()) else {
            return Vec::new(); // the lab is IPv4 only
        };
        let mut out = Vec::with_capacity(32);
        out.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
        out.extend_from_slice(&12u16.to_be_bytes());
        out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out.extend_from_slice(&self.0);
        out.extend_from_slice(&ATTR_XOR_MAPPED_ADDRESS.to_be_bytes());
        out.extend_from_slice(&8u16.to_be_bytes());
        out.extend_from_slice(&[0, 1]);
        out.extend_from_slice(&(port ^ (MAGIC_COOKIE >> 16) as u16).to_be_bytes());
        out.extend_from_slice(&(u32::from(ip) ^ MAGIC_COOKIE).to_be_bytes());
        out
    }

    /// The mapped address in `buf` if it is the success response to this
    /// transaction (XOR-MAPPED-ADDRESS preferred, MAPPED-ADDRESS accepted).
    pub fn parse_response(&self, buf: &[u8]) -> Option<SocketAddr> {
        if buf.len() < 20
            || u16::from_be_bytes([buf[0], buf[1]]) != BINDING_SUCCESS
            || buf[8..20] != self.0
        {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        let attrs = buf.get(20..20 + len)?;
        let (mut plain, mut xored) = (None, None);
        let mut at = 0;
        while at + 4 <= attrs.len() {
            let kind = u16::from_be_bytes([attrs[at], attrs[at + 1]]);
            let alen = usize::from(u16::from_be_bytes([attrs[at + 2], attrs[at + 3]]));
            let value = attrs.get(at + 4..at + 4 + alen)?;
            if alen == 8 && value[1] == 1 {
                let port = u16::from_be_bytes([value[2], value[3]]);
                let ip = u32::from_be_bytes([value[4], value[5], value[6], value[7]]);
                match kind {
                    ATTR_XOR_MAPPED_ADDRESS => {
                        let port = port ^ (MAGIC_COOKIE >> 16) as u16;
                        let ip = Ipv4Addr::from(ip ^ MAGIC_COOKIE);
                        xored = Some(SocketAddr::from((ip, port)));
                    }
                    ATTR_MAPPED_ADDRESS => {
                        plain = Some(SocketAddr::from((Ipv4Addr::from(ip), port)))
                    }
                    _ => {}
                }
            }
            at += 4 + alen.div_ceil(4) * 4;
        }
        xored.or(plain)
    }
}

impl Default for StunTx {
    fn default() -> Self {
        Self::new()
    }
}

/// Asks the STUN server at `server` which address `sock` has from its side
/// (resending every 200 ms, until the harness's deadline).
pub fn mapped_address(sock: &UdpSocket, server: SocketAddr) -> Result<SocketAddr> {
    let tx = StunTx::new();
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        sock.send_to(&tx.request(), server)
            .map_err(|e| LabError::io(format!("send STUN request to {server}"), e))?;
        let answer = recv_matching(sock, STUN_RETRY, |buf, from| {
            (from == server).then(|| tx.parse_response(buf)).flatten()
        });
        if let Ok(mapped) = answer {
            return Ok(mapped);
        }
    }
    Err(LabError::Timeout(format!(
        "no STUN answer from {server} within {DEADLINE:?}"
    )))
}

/// Gives `sock` a receive buffer of `bytes` (`SO_RCVBUFFORCE`, root only),
/// so a burst of datagrams is not dropped by the receiving socket itself.
pub fn force_recv_buffer(sock: &UdpSocket, bytes: usize) -> Result<()> {
    let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: setsockopt on a valid socket with a pointer to a c_int of the
    // given length.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            std::ptr::from_ref(&size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(LabError::io(
            "setsockopt SO_RCVBUFFORCE",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// A STUN Binding responder on a lab host, run by a thread of the test
/// process (the socket was opened inside the host's namespace). Stops on drop.
pub struct Reflector {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reflector {
    /// Starts answering STUN Binding requests on `host:port`.
    pub fn start(host: &Host, port: u16) -> Result<Self> {
        let sock = host.bind_udp(port)?;
        let addr = sock
            .local_addr()
            .map_err(|e| LabError::io("local_addr", e))?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .map_err(|e| LabError::io("set_read_timeout", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    if let Some(tx) = StunTx::parse_request(&buf[..n]) {
                        let _ = sock.send_to(&tx.response(from), from);
                    }
                }
            }
        });
        Ok(Self {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Where the reflector listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

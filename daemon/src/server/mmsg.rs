//! Batched datagram I/O for the server loop (Linux): `recvmmsg` reads up to
//! [`BATCH`] datagrams in one system call and `sendmmsg` sends up to
//! [`BATCH`] replies in one. Under load most of a STUN or REGISTER's cost is
//! the kernel's per-call work, so fewer calls per datagram is the lever
//! left once the user-space part is small (benches/RESULTS.md).
//!
//! Both functions are plain non-blocking calls on the raw descriptor; the
//! caller wraps them in tokio's `try_io` so readiness is tracked as usual.
//! socket2 writes and reads the socket addresses (`SockAddr`); what is left
//! unsafe is the two system calls and the hand-over of what the kernel wrote.

use std::io;
use std::mem::zeroed;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::RawFd;

use socket2::{SockAddr, SockAddrStorage};

/// Datagrams per system call, at most.
pub const BATCH: usize = 32;
/// Room for any UDP datagram, so oversized ones are read whole (protocol.md
/// 1 answers some of them with `too_large`). Only the touched pages of each
/// buffer become resident.
const SLOT: usize = 65_536;

/// Receive buffers for one `recvmmsg`.
pub struct RecvBatch {
    bufs: Vec<u8>,
    addrs: Vec<SockAddrStorage>,
    /// Bytes of each datagram, and of its source address.
    lens: [usize; BATCH],
    name_lens: [libc::socklen_t; BATCH],
    count: usize,
}

impl RecvBatch {
    /// Buffers for [`BATCH`] datagrams.
    pub fn new() -> Self {
        Self {
            bufs: vec![0; BATCH * SLOT],
            addrs: (0..BATCH).map(|_| SockAddrStorage::zeroed()).collect(),
            lens: [0; BATCH],
            name_lens: [0; BATCH],
            count: 0,
        }
    }

    /// Reads what is queued on `fd` (up to [`BATCH`] datagrams) without
    /// blocking; returns how many (`WouldBlock` if none).
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.recv_flags(fd, libc::MSG_DONTWAIT)
    }

    /// On a blocking socket: waits for one datagram (at most the socket's
    /// receive timeout), then takes what else is queued.
    pub fn recv_wait(&mut self, fd: RawFd) -> io::Result<usize> {
        self.recv_flags(fd, libc::MSG_WAITFORONE)
    }

    fn recv_flags(&mut self, fd: RawFd, flags: libc::c_int) -> io::Result<usize> {
        self.count = 0;
        // SAFETY: all-zero iovec/mmsghdr are valid values; every pointer set
        // below points into `self.bufs` / `self.addrs`, which outlive the
        // call and are not otherwise borrowed during it; the lengths given
        // are the sizes of those regions.
        let got = unsafe {
            let mut iovs: [libc::iovec; BATCH] = zeroed();
            let mut hdrs: [libc::mmsghdr; BATCH] = zeroed();
            let base = self.bufs.as_mut_ptr();
            for i in 0..BATCH {
                iovs[i].iov_base = base.add(i * SLOT).cast();
                iovs[i].iov_len = SLOT;
                let h = &mut hdrs[i].msg_hdr;
                h.msg_namelen = self.addrs[i].size_of();
                h.msg_name = std::ptr::from_mut(&mut self.addrs[i]).cast();
                h.msg_iov = &mut iovs[i];
                h.msg_iovlen = 1;
            }
            let n = libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                flags,
                std::ptr::null_mut(),
            );
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = usize::try_from(n).unwrap_or(0).min(BATCH);
            for (i, h) in hdrs[..n].iter().enumerate() {
                self.lens[i] = (h.msg_len as usize).min(SLOT);
                self.name_lens[i] = h.msg_hdr.msg_namelen;
            }
            n
        };
        self.count = got;
        Ok(got)
    }

    /// True when the last [`RecvBatch::recv`] read nothing.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The datagrams of the last [`RecvBatch::recv`], with their sources
    /// (a source that is not IPv4/IPv6 is skipped).
    pub fn datagrams(&self) -> impl Iterator<Item = (&[u8], SocketAddr)> + '_ {
        (0..self.count).filter_map(move |i| {
            let from = from_storage(&self.addrs[i], self.name_lens[i])?;
            Some((&self.bufs[i * SLOT..i * SLOT + self.lens[i]], from))
        })
    }
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self::new()
    }
}

/// Placeholder destination for unused batch entries.
pub const UNSPECIFIED: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

/// `to` as the socket must be given it: IPv4 as IPv4-mapped on an IPv6
/// socket.
pub fn on_socket(to: SocketAddr, v6: bool) -> SocketAddr {
    match to {
        SocketAddr::V4(v4) if v6 => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        other => other,
    }
}

/// A destination in the form `sendmmsg` takes (plain data, so a batch of
/// them is an array).
#[derive(Clone, Copy)]
pub struct Dest {
    addr: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl Dest {
    /// `to` as a socket address, written by socket2.
    pub fn new(to: SocketAddr) -> Self {
        let written = SockAddr::from(to);
        // SAFETY: socket2's storage is repr(transparent) over
        // `sockaddr_storage`, which is plain data.
        let addr = unsafe { std::ptr::read(written.as_ptr().cast::<libc::sockaddr_storage>()) };
        Self {
            addr,
            len: written.len(),
        }
    }
}

/// Sends up to [`BATCH`] of `items` on `fd` without blocking; returns how
/// many went out (the first `n` items). An error means the first failed.
pub fn send(fd: RawFd, items: &[(Dest, &[u8])]) -> io::Result<usize> {
    send_flags(fd, items, libc::MSG_DONTWAIT)
}

/// [`send`] on a blocking socket: waits while its buffer is full.
pub fn send_wait(fd: RawFd, items: &[(Dest, &[u8])]) -> io::Result<usize> {
    send_flags(fd, items, 0)
}

fn send_flags(fd: RawFd, items: &[(Dest, &[u8])], flags: libc::c_int) -> io::Result<usize> {
    let n = items.len().min(BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: all-zero iovec/mmsghdr are valid values; the pointers set
    // below point into `items` (destinations and payloads), which outlive
    // the call; the kernel only reads them.
    unsafe {
        let mut iovs: [libc::iovec; BATCH] = zeroed();
        let mut hdrs: [libc::mmsghdr; BATCH] = zeroed();
        for (i, (dest, bytes)) in items[..n].iter().enumerate() {
            iovs[i].iov_base = bytes.as_ptr().cast_mut().cast();
            iovs[i].iov_len = bytes.len();
            let h = &mut hdrs[i].msg_hdr;
            h.msg_name = std::ptr::from_ref(&dest.addr).cast_mut().cast();
            h.msg_namelen = dest.len;
            h.msg_iov = &mut iovs[i];
            h.msg_iovlen = 1;
        }
        let sent = libc::sendmmsg(fd, hdrs.as_mut_ptr(), n as libc::c_uint, flags);
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(usize::try_from(sent).unwrap_or(0))
    }
}

/// The address the kernel wrote (`len` bytes of `s`), if it is IPv4 or IPv6.
fn from_storage(s: &SockAddrStorage, len: libc::socklen_t) -> Option<SocketAddr> {
    // SAFETY: `recvmmsg` wrote a socket address of `len` bytes into `s`
    // (plain data, repr(transparent) over `sockaddr_storage`); the copy is
    // handed to socket2, which reads it by its family.
    let addr = unsafe { SockAddr::new(std::ptr::read(s), len) };
    addr.as_socket()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    #[test]
    fn addresses_round_trip_through_storage() {
        for s in [
            "127.0.0.1:9",
            "255.1.2.3:65535",
            "[::1]:80",
            "[2001:db8::7]:1",
        ] {
            let a: SocketAddr = s.parse().expect("test address");
            let d = Dest::new(a);
            let mut storage = SockAddrStorage::zeroed();
            // SAFETY: a `sockaddr_storage` view of socket2's storage.
            unsafe { *storage.view_as::<libc::sockaddr_storage>() = d.addr };
            assert_eq!(from_storage(&storage, d.len), Some(a));
        }
    }

    #[test]
    fn a_batch_goes_out_and_comes_back_in() {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = Dest::new(rx.local_addr().expect("addr"));
        let payloads: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 1 + usize::from(i)]).collect();
        let items: Vec<(Dest, &[u8])> = payloads.iter().map(|p| (to, p.as_slice())).collect();
        let mut sent = 0;
        while sent < items.len() {
            sent += send(tx.as_raw_fd(), &items[sent..]).expect("sendmmsg");
        }
        let mut batch = RecvBatch::new();
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.len() < payloads.len() && Instant::now() < deadline {
            match batch.recv(rx.as_raw_fd()) {
                Ok(n) => {
                    assert!(n <= BATCH);
                    for (bytes, from) in batch.datagrams() {
                        assert_eq!(from, tx.local_addr().expect("addr"));
                        seen.push(bytes.to_vec());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("recvmmsg: {e}"),
            }
        }
        assert_eq!(seen, payloads);
    }
}

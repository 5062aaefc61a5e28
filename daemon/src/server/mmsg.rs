//! Batched datagram I/O for the server loop (Linux): `recvmmsg` reads up to
//! [`BATCH`] datagrams in one system call and `sendmmsg` sends up to
//! [`BATCH`] replies in one. Under load most of a STUN or REGISTER's cost is
//! the kernel's per-call work, so fewer calls per datagram is the lever
//! left once the user-space part is small (benches/RESULTS.md).
//!
//! Datagrams for one destination in a row go as one entry that the kernel
//! cuts into datagrams (UDP GSO, `UDP_SEGMENT`, Linux 4.18 and later): one
//! trip through the IP stack for, say, the eight answers of a client with
//! eight requests in flight. Measured on STUN with 64 clients x 8 requests:
//! 3.27-3.42 us of server CPU per answer against 3.73-3.75 without
//! (benches/RESULTS.md, "UDP GSO"). A kernel or route that refuses it turns
//! it off for the socket ([`Gso`]). quinn-udp does GSO as well, but sends
//! one destination per call; the batching across destinations is what this
//! module is for.
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

use super::reply_buffer::ReplyBuffer;

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

/// Most datagrams one segmented send carries (the kernel's
/// `UDP_MAX_SEGMENTS` is 64 or more).
pub const MAX_SEGMENTS: usize = 64;
/// Most bytes one segmented send carries: an IP packet's 65,535 less room
/// for the headers.
pub const MAX_SEGMENTED: usize = 65_000;

/// One entry of a send: `bytes` for `to`, either one datagram or, when
/// `segment` is shorter than `bytes`, datagrams of `segment` bytes each (the
/// last may be shorter) that the kernel cuts from one buffer (UDP GSO,
/// `UDP_SEGMENT`): one trip through the stack for several answers to one
/// source.
#[derive(Clone, Copy)]
pub struct Out<'a> {
    /// The destination as the caller knows it (for messages).
    pub to: SocketAddr,
    dest: Dest,
    bytes: &'a [u8],
    segment: usize,
}

impl<'a> Out<'a> {
    /// `bytes` for `to` on a socket of the family `v6` says, cut every
    /// `segment` bytes (one datagram when `segment >= bytes.len()`).
    pub fn new(to: SocketAddr, v6: bool, bytes: &'a [u8], segment: usize) -> Self {
        Self {
            to,
            dest: Dest::new(on_socket(to, v6)),
            bytes,
            segment: segment.min(bytes.len()),
        }
    }

    /// A placeholder for unused batch entries.
    pub fn empty() -> Self {
        Self::new(UNSPECIFIED, false, &[], 0)
    }

    /// True when the entry carries more than one datagram.
    pub fn is_segmented(&self) -> bool {
        self.segment > 0 && self.segment < self.bytes.len()
    }

    /// The entry's datagrams, one entry each.
    pub fn datagrams(self) -> impl Iterator<Item = Out<'a>> {
        let step = self.segment.max(1);
        self.bytes.chunks(step).map(move |chunk| Out {
            bytes: chunk,
            segment: chunk.len(),
            ..self
        })
    }
}

/// The datagrams of `out` as batches of at most [`BATCH`] entries for
/// [`send`]: each batch and how many of its entries are used. With
/// `segmented`, datagrams for one destination in a row become one entry
/// ([`ReplyBuffer::runs`]).
pub fn batches<'a>(
    out: &'a ReplyBuffer,
    v6: bool,
    segmented: bool,
) -> impl Iterator<Item = ([Out<'a>; BATCH], usize)> + 'a {
    let per_entry = if segmented { MAX_SEGMENTS } else { 1 };
    let mut runs = out.runs(per_entry, MAX_SEGMENTED).peekable();
    std::iter::from_fn(move || {
        runs.peek()?;
        let mut items = [Out::empty(); BATCH];
        let mut n = 0;
        for (to, bytes, segment) in runs.by_ref().take(BATCH) {
            items[n] = Out::new(to, v6, bytes, segment);
            n += 1;
        }
        Some((items, n))
    })
}

/// Whether a socket's sends still try UDP GSO: on until the kernel refuses
/// it (a kernel older than 4.18, a route through IPsec, a path whose MTU is
/// below a segment); then each of the refused entry's datagrams goes alone,
/// and so does everything after.
pub struct Gso {
    on: bool,
}

impl Gso {
    /// GSO tried first.
    pub fn new() -> Self {
        Self { on: true }
    }

    /// True while segmented entries are made.
    pub fn enabled(&self) -> bool {
        self.on
    }

    /// After `item` failed with `e`: for a segmented entry, turns GSO off
    /// when the error says the kernel cannot segment (`EINVAL`, `EIO`,
    /// `ENOPROTOOPT`, `EOPNOTSUPP`, `EMSGSIZE`) and returns its datagrams to
    /// be sent one by one; for a single datagram, nothing (it is skipped).
    pub fn refused<'a>(&mut self, e: &io::Error, item: Out<'a>) -> Vec<Out<'a>> {
        if !item.is_segmented() {
            return Vec::new();
        }
        if matches!(
            e.raw_os_error(),
            Some(libc::EINVAL | libc::EIO | libc::ENOPROTOOPT | libc::EOPNOTSUPP | libc::EMSGSIZE)
        ) {
            self.on = false;
        }
        item.datagrams().collect()
    }
}

impl Default for Gso {
    fn default() -> Self {
        Self::new()
    }
}

/// Sends up to [`BATCH`] of `items` on `fd` without blocking; returns how
/// many went out (the first `n` items). An error means the first failed.
pub fn send(fd: RawFd, items: &[Out<'_>]) -> io::Result<usize> {
    send_flags(fd, items, libc::MSG_DONTWAIT)
}

/// [`send`] on a blocking socket: waits while its buffer is full.
pub fn send_wait(fd: RawFd, items: &[Out<'_>]) -> io::Result<usize> {
    send_flags(fd, items, 0)
}

/// Room for one `UDP_SEGMENT` control message (`CMSG_SPACE` of a u16 is 24
/// bytes on 64-bit Linux), aligned as `cmsghdr` needs.
type Control = [u64; 4];

fn send_flags(fd: RawFd, items: &[Out<'_>], flags: libc::c_int) -> io::Result<usize> {
    let n = items.len().min(BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: all-zero iovec/mmsghdr/control buffers are valid values; the
    // pointers set below point into `items` (destinations and payloads) and
    // into `controls`, which outlive the call; the kernel only reads them.
    // A control message is written through the CMSG_* accessors into a
    // buffer of CMSG_SPACE bytes or more (checked by the assertion).
    unsafe {
        let mut iovs: [libc::iovec; BATCH] = zeroed();
        let mut hdrs: [libc::mmsghdr; BATCH] = zeroed();
        let mut controls: [Control; BATCH] = zeroed();
        let space = libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) as usize;
        assert!(space <= std::mem::size_of::<Control>());
        for (i, item) in items[..n].iter().enumerate() {
            iovs[i].iov_base = item.bytes.as_ptr().cast_mut().cast();
            iovs[i].iov_len = item.bytes.len();
            let h = &mut hdrs[i].msg_hdr;
            h.msg_name = std::ptr::from_ref(&item.dest.addr).cast_mut().cast();
            h.msg_namelen = item.dest.len;
            h.msg_iov = &mut iovs[i];
            h.msg_iovlen = 1;
            if item.is_segmented() {
                h.msg_control = controls[i].as_mut_ptr().cast();
                h.msg_controllen = space as _;
                let c = libc::CMSG_FIRSTHDR(h);
                (*c).cmsg_level = libc::SOL_UDP;
                (*c).cmsg_type = libc::UDP_SEGMENT;
                (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _;
                let segment = u16::try_from(item.segment).unwrap_or(u16::MAX);
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), segment);
            }
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

    /// Reads `count` datagrams from `rx` with `recvmmsg` (or what came
    /// within 5 s), checking that each batch is at most [`BATCH`] and every
    /// datagram came from `tx`.
    fn read(rx: &UdpSocket, tx: &UdpSocket, count: usize) -> Vec<Vec<u8>> {
        let mut batch = RecvBatch::new();
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.len() < count && Instant::now() < deadline {
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
        seen
    }

    #[test]
    fn a_batch_goes_out_and_comes_back_in() {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = rx.local_addr().expect("addr");
        let payloads: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 1 + usize::from(i)]).collect();
        let items: Vec<Out<'_>> = payloads
            .iter()
            .map(|p| Out::new(to, false, p, p.len()))
            .collect();
        let mut sent = 0;
        while sent < items.len() {
            sent += send(tx.as_raw_fd(), &items[sent..]).expect("sendmmsg");
        }
        assert_eq!(read(&rx, &tx, payloads.len()), payloads);
    }

    #[test]
    fn a_segmented_entry_arrives_as_separate_datagrams() {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = rx.local_addr().expect("addr");
        // Five datagrams of 10 bytes and a shorter last one, in one buffer;
        // then a datagram alone in the same call.
        let mut run = Vec::new();
        for i in 0..5u8 {
            run.extend_from_slice(&[i; 10]);
        }
        run.extend_from_slice(b"last");
        let items = [
            Out::new(to, false, &run, 10),
            Out::new(to, false, b"alone", 5),
        ];
        assert!(items[0].is_segmented() && !items[1].is_segmented());
        assert_eq!(send(tx.as_raw_fd(), &items).expect("sendmmsg"), 2);
        let mut expected: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        expected.push(b"last".to_vec());
        expected.push(b"alone".to_vec());
        assert_eq!(read(&rx, &tx, expected.len()), expected);
    }

    #[test]
    fn a_refused_segmented_entry_goes_datagram_by_datagram_and_gso_stays_off() {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = rx.local_addr().expect("addr");
        // Two segments of 40,000 bytes: more than one IP packet can carry,
        // so the kernel refuses the entry as a whole.
        let run: Vec<u8> = (0..80_000u32).map(|i| (i / 40_000) as u8 + 1).collect();
        let item = Out::new(to, false, &run, 40_000);
        let e = send(tx.as_raw_fd(), &[item]).expect_err("too large for one packet");
        let mut gso = Gso::new();
        let singles = gso.refused(&e, item);
        assert!(!gso.enabled(), "{e} turns GSO off");
        assert_eq!(singles.len(), 2);
        for single in &singles {
            assert!(!single.is_segmented());
            assert_eq!(send(tx.as_raw_fd(), &[*single]).expect("alone it fits"), 1);
        }
        assert_eq!(
            read(&rx, &tx, 2),
            vec![vec![1u8; 40_000], vec![2u8; 40_000]]
        );
        // A single datagram that fails is skipped; other errors keep GSO on.
        let mut gso = Gso::new();
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert!(gso.refused(&refused, singles[0]).is_empty());
        assert_eq!(gso.refused(&refused, item).len(), 2);
        assert!(gso.enabled());
    }
}

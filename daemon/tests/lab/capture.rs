//! Capturing what crosses the lab's wires: a packet socket (`AF_PACKET`,
//! `ETH_P_ALL`, cooked `SOCK_DGRAM` mode, so each frame arrives without
//! its link header) opened inside a namespace, on one interface or on all
//! of them, read by a thread of the test process into memory. No tcpdump:
//! the test reads the bytes itself, and the kernel's own counter
//! (`PACKET_STATISTICS`) says whether the socket missed any.
//!
//! A packet socket sees a packet as the interface does, before netfilter's
//! INPUT rules and after its OUTPUT and POSTROUTING ones: what is on the
//! wire. On a bridge port it sees every frame the bridge forwards through
//! that port, once when it comes in and once (`outgoing`) when it leaves by
//! another port.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::error::{LabError, Result};
use super::netns::Netns;

/// The largest frame read (veth MTU is 1500; room for offloaded batches).
const SNAPLEN: usize = 65_536;
/// The socket's receive buffer: a burst of the tests' traffic fits.
const RCVBUF: libc::c_int = 16 << 20;
/// How long the reader waits on an empty socket before it looks at the
/// stop flag.
const READ_TIMEOUT: Duration = Duration::from_millis(20);

/// One frame seen on an interface (a packet, from its network header on).
#[derive(Debug, Clone)]
pub struct Packet {
    /// The interface's index in its namespace.
    pub ifindex: i32,
    /// Sent by this namespace (or forwarded out of a bridge port), rather
    /// than received.
    pub outgoing: bool,
    /// Its bytes from the network header on (an IPv4 packet, an ARP
    /// message, ...).
    pub bytes: Vec<u8>,
}

/// A UDP datagram in an IPv4 packet, as captured.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub outgoing: bool,
    pub payload: Vec<u8>,
}

impl Packet {
    /// The UDP datagram this frame carries, when it is an unfragmented
    /// IPv4 UDP packet.
    pub fn udp(&self) -> Option<Datagram> {
        let b = &self.bytes;
        if b.len() < 20 || b[0] >> 4 != 4 || b[9] != libc::IPPROTO_UDP as u8 {
            return None;
        }
        let ihl = usize::from(b[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
        let fragmented = u16::from_be_bytes([b[6], b[7]]) & 0x3fff != 0;
        if fragmented || total > b.len() || total < ihl + 8 {
            return None;
        }
        let ip = |at: usize| Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3]);
        let port = |at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
        Some(Datagram {
            src: SocketAddrV4::new(ip(12), port(ihl)),
            dst: SocketAddrV4::new(ip(16), port(ihl + 2)),
            outgoing: self.outgoing,
            payload: b[ihl + 8..total].to_vec(),
        })
    }
}

/// What a stopped capture holds.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub frames: Vec<Packet>,
    /// Frames the kernel could not queue on the socket (0: nothing missed).
    pub dropped: u64,
}

impl Captured {
    /// Every UDP datagram captured.
    pub fn datagrams(&self) -> Vec<Datagram> {
        self.frames.iter().filter_map(Packet::udp).collect()
    }

    /// The frames whose bytes contain `needle`.
    pub fn containing(&self, needle: &[u8]) -> Vec<&Packet> {
        self.frames
            .iter()
            .filter(|f| contains(&f.bytes, needle))
            .collect()
    }

    /// Bytes captured in all.
    pub fn bytes(&self) -> usize {
        self.frames.iter().map(|f| f.bytes.len()).sum()
    }
}

/// Whether `needle` (not empty) occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// A capture running on a thread of the test process; stopped (and its
/// thread joined) by [`Capture::stop`] or on drop.
pub struct Capture {
    what: String,
    fd: Arc<OwnedFd>,
    frames: Arc<Mutex<Vec<Packet>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Capture {
    /// Starts capturing every frame on `iface` of `ns`, or on all of its
    /// interfaces with `None`. Frames are queued from the moment this
    /// returns.
    pub fn start(ns: &Netns, iface: Option<&str>) -> Result<Self> {
        let iface_owned = iface.map(str::to_owned);
        let fd = ns.run_inside(move || open(iface_owned.as_deref()))?;
        let what = format!("capture on {} {}", ns.name(), iface.unwrap_or("(all)"));
        let fd = Arc::new(fd);
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r_fd, r_frames, r_stop) = (Arc::clone(&fd), Arc::clone(&frames), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name(what.clone())
            .spawn(move || read_all(&r_fd, &r_frames, &r_stop))
            .map_err(|e| LabError::io("spawn the capture thread", e))?;
        Ok(Self {
            what,
            fd,
            frames,
            stop,
            thread: Some(thread),
        })
    }

    /// The frames captured so far.
    pub fn frames(&self) -> Vec<Packet> {
        self.frames
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The UDP datagrams captured so far.
    pub fn datagrams(&self) -> Vec<Datagram> {
        let frames = self.frames.lock().unwrap_or_else(|e| e.into_inner());
        frames.iter().filter_map(Packet::udp).collect()
    }

    /// Stops reading once the socket's queue is empty; returns everything
    /// captured and how many frames the kernel dropped.
    pub fn stop(mut self) -> Result<Captured> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().expect("stopped once");
        thread
            .join()
            .map_err(|_| LabError::Timeout(format!("{} panicked", self.what)))?
            .map_err(|e| LabError::io(self.what.clone(), e))?;
        let dropped = dropped(&self.fd).map_err(|e| LabError::io(self.what.clone(), e))?;
        let frames = std::mem::take(&mut *self.frames.lock().unwrap_or_else(|e| e.into_inner()));
        Ok(Captured { frames, dropped })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `ETH_P_ALL` in network byte order, as `socket(2)` and `sockaddr_ll` want it.
fn all_protocols() -> u16 {
    (libc::ETH_P_ALL as u16).to_be()
}

/// Opens the packet socket (in the calling thread's namespace) and binds
/// it to `iface`, if given.
fn open(iface: Option<&str>) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::c_int::from(all_protocols()),
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a socket we just opened and own alone.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF)?;
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: READ_TIMEOUT.as_micros() as libc::suseconds_t,
    };
    setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, timeout)?;
    let ifindex = match iface {
        Some(name) => {
            let c = std::ffi::CString::new(name)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name"))?;
            // SAFETY: `c` is a valid NUL-terminated string.
            let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
            if index == 0 {
                return Err(io::Error::last_os_error());
            }
            libc::c_int::try_from(index).map_err(|_| io::Error::other("interface index"))?
        }
        None => 0,
    };
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as libc::c_ushort;
    addr.sll_protocol = all_protocols();
    addr.sll_ifindex = ifindex;
    // SAFETY: `addr` is a valid sockaddr_ll of the length given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            std::ptr::from_ref(&addr).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: T) -> io::Result<()> {
    // SAFETY: `value` is a live T of the length given.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(&value).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads frames until `stop` is set and the socket's queue is empty.
fn read_all(fd: &OwnedFd, frames: &Mutex<Vec<Packet>>, stop: &AtomicBool) -> io::Result<()> {
    let mut buf = vec![0u8; SNAPLEN];
    loop {
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `buf` and `from` are valid for the lengths given.
        let n = unsafe {
            libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                std::ptr::from_mut(&mut from).cast(),
                &mut len,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                }
                io::ErrorKind::Interrupted => {}
                _ => return Err(e),
            }
            continue;
        }
        let n = usize::try_from(n).expect("a non-negative length");
        frames
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Packet {
                ifindex: from.sll_ifindex,
                outgoing: from.sll_pkttype == libc::PACKET_OUTGOING,
                bytes: buf[..n].to_vec(),
            });
    }
}

/// Frames the kernel dropped for want of room on the socket since it opened.
fn dropped(fd: &OwnedFd) -> io::Result<u64> {
    let mut stats = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: `stats` is a valid tpacket_stats of the length given.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            std::ptr::from_mut(&mut stats).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::from(stats.tp_drops))
}

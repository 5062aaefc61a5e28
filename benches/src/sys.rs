//! The few Linux system calls the generator needs and std does not wrap:
//! level-triggered `epoll`, batched `recvmmsg`/`sendmmsg` on connected UDP
//! sockets, `getrusage` for the generator's own CPU time, and raising the
//! open-file limit so a thousand peers can each hold a socket.
//!
//! Every function here wraps exactly one call and turns its failure into an
//! [`std::io::Error`]; the callers never see a raw pointer.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Largest datagram the generator receives (larger replies are truncated and
/// then fail validation, which is what they deserve).
pub const RECV_BUF: usize = 2048;

/// A level-triggered epoll instance: a readable socket is reported again on
/// every wait until it is drained, so a handler may read only what it wants.
pub struct Poller {
    fd: OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl Poller {
    /// Creates the epoll instance with room for `capacity` events per wait.
    pub fn new(capacity: usize) -> io::Result<Self> {
        // SAFETY: plain syscall, the result is checked before use.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let events = vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)];
        Ok(Self { fd, events })
    }

    /// Watches `fd` for readability; `token` comes back with its events.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `ev` outlives the call; the kernel copies it.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout` and returns the tokens of readable sockets.
    pub fn wait(&mut self, timeout: Duration, out: &mut Vec<u64>) -> io::Result<()> {
        out.clear();
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let cap = i32::try_from(self.events.len()).unwrap_or(i32::MAX);
        // SAFETY: the buffer holds `cap` events and lives across the call.
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), self.events.as_mut_ptr(), cap, ms) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(err);
        }
        let n = usize::try_from(n).unwrap_or(0);
        out.extend(self.events[..n].iter().map(|e| e.u64));
        Ok(())
    }
}

/// Reusable buffers for `recvmmsg` / `sendmmsg` of up to `cap` datagrams.
pub struct Batch {
    bufs: Vec<[u8; RECV_BUF]>,
    lens: Vec<usize>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in `iovs`/`hdrs` only ever point into `bufs`/`iovs`
// of the same `Batch` and are rebuilt before each call.
unsafe impl Send for Batch {}

impl Batch {
    /// Buffers for `cap` datagrams.
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        // SAFETY: iovec and mmsghdr are plain C structs; all-zero is valid.
        let zero_iov: libc::iovec = unsafe { std::mem::zeroed() };
        let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        Self {
            bufs: vec![[0u8; RECV_BUF]; cap],
            lens: vec![0; cap],
            iovs: vec![zero_iov; cap],
            hdrs: vec![zero_hdr; cap],
        }
    }

    /// How many datagrams one call can carry.
    pub fn capacity(&self) -> usize {
        self.bufs.len()
    }

    /// The buffer of slot `i`, to fill before [`Batch::send`].
    pub fn slot_mut(&mut self, i: usize) -> &mut [u8; RECV_BUF] {
        &mut self.bufs[i]
    }

    /// Sets the length of the datagram in slot `i`.
    pub fn set_len(&mut self, i: usize, len: usize) {
        self.lens[i] = len.min(RECV_BUF);
    }

    /// Datagram `i` as received.
    pub fn datagram(&self, i: usize) -> &[u8] {
        &self.bufs[i][..self.lens[i]]
    }

    fn prepare(&mut self, n: usize, for_recv: bool) {
        for i in 0..n {
            let len = if for_recv { RECV_BUF } else { self.lens[i] };
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: len,
            };
            // SAFETY: all-zero msghdr is valid (no name, no control data).
            let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
            hdr.msg_iov = &mut self.iovs[i];
            hdr.msg_iovlen = 1;
            self.hdrs[i] = libc::mmsghdr {
                msg_hdr: hdr,
                msg_len: 0,
            };
        }
    }

    /// Receives up to `max` datagrams from a connected non-blocking socket
    /// in one call; returns how many (0 when none was waiting).
    pub fn recv(&mut self, fd: RawFd, max: usize) -> io::Result<usize> {
        let n = max.min(self.capacity());
        self.prepare(n, true);
        let vlen = u32::try_from(n).unwrap_or(u32::MAX);
        // SAFETY: `hdrs[..n]` point at live iovecs and buffers of RECV_BUF bytes.
        let rc = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                vlen,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(err),
            };
        }
        let got = usize::try_from(rc).unwrap_or(0);
        for i in 0..got {
            self.lens[i] = usize::try_from(self.hdrs[i].msg_len).unwrap_or(0);
        }
        Ok(got)
    }

    /// Sends slots `0..n` on a connected socket in as few calls as the
    /// kernel allows; returns how many went out.
    pub fn send(&mut self, fd: RawFd, n: usize) -> io::Result<usize> {
        let n = n.min(self.capacity());
        self.prepare(n, false);
        let mut sent = 0;
        while sent < n {
            let vlen = u32::try_from(n - sent).unwrap_or(u32::MAX);
            // SAFETY: `hdrs[sent..n]` point at live iovecs and buffers.
            let rc = unsafe { libc::sendmmsg(fd, self.hdrs[sent..].as_mut_ptr(), vlen, 0) };
            if rc < 0 {
                let err = io::Error::last_os_error();
                return match err.kind() {
                    io::ErrorKind::WouldBlock if sent > 0 => Ok(sent),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(err),
                };
            }
            sent += usize::try_from(rc).unwrap_or(0);
            if rc == 0 {
                break;
            }
        }
        Ok(sent)
    }
}

/// User plus system CPU time this process has used so far.
pub fn cpu_time() -> Duration {
    // SAFETY: all-zero rusage is valid; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid out-pointer for the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc < 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Raises the soft open-file limit to the hard limit; returns the new soft limit.
pub fn raise_fd_limit() -> io::Result<u64> {
    // SAFETY: all-zero rlimit is valid; getrlimit fills it.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `lim` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid in-pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// User plus system CPU time another process (all its threads) has used,
/// from `/proc/PID/stat`; `None` if it cannot be read.
pub fn process_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: plain sysconf query.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&h| h > 0)?;
    Some(Duration::from_micros((utime + stime) * 1_000_000 / hz))
}

/// Datagrams the kernel dropped for want of room in a socket's receive
/// queue, from `/proc/net/udp` and `/proc/net/udp6`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpDrops {
    /// At the unconnected sockets bound to the port (the server's: it may
    /// hold several in a reuseport group).
    pub server: u64,
    /// At the sockets connected to the port (the generator's).
    pub clients: u64,
}

/// The drops around UDP `port`; `None` if neither table can be read.
pub fn udp_drops(port: u16) -> Option<UdpDrops> {
    let want = format!("{port:04X}");
    let mut total = None;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        let sum: &mut UdpDrops = total.get_or_insert_with(UdpDrops::default);
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(remote)) = (fields.get(1), fields.get(2)) else {
                continue;
            };
            let port_of = |a: &str| a.rsplit(':').next().map(str::to_owned);
            let drops: u64 = fields.last().and_then(|d| d.parse().ok()).unwrap_or(0);
            let unconnected = remote.chars().all(|c| c == '0' || c == ':');
            if unconnected && port_of(local).as_deref() == Some(want.as_str()) {
                sum.server += drops;
            } else if port_of(remote).as_deref() == Some(want.as_str()) {
                sum.clients += drops;
            }
        }
    }
    total
}

/// Time a process's threads (all of them) have run on a CPU, and waited
/// on a run queue for one, so far (`/proc/PID/task/*/schedstat`, in
/// nanoseconds); `None` if it cannot be read. Waiting shows how much of a
/// run the machine's other work took from the process.
pub fn sched_times(pid: u32) -> Option<(Duration, Duration)> {
    let mut run = 0u64;
    let mut wait = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(task) = task else { continue };
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let mut fields = text
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        run += fields.next().unwrap_or(0);
        wait += fields.next().unwrap_or(0);
    }
    Some((Duration::from_nanos(run), Duration::from_nanos(wait)))
}

//! Several UDP sockets on the server's one port (`SO_REUSEPORT`), with a
//! classic BPF program that tells the kernel which socket gets which
//! datagram: everything that may be JSON (or anything else) goes to socket
//! 0, served by the thread that owns the registry; datagrams that start like
//! a STUN message (first byte 0 or 1) are spread over all sockets by their
//! source port, so one source always reaches the same socket and its
//! per-source rate limit holds exactly.
//!
//! STUN is stateless, so the extra sockets' threads answer it without
//! touching the registry: no lock, no hand-over on the hot path.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

/// `SO_ATTACH_REUSEPORT_CBPF` (asm-generic/socket.h), not exported by libc
/// for every Linux target. socket2 sets `SO_REUSEPORT` but has no call for
/// this option, so it stays a raw `setsockopt`.
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;

/// Binds `n` sockets (at least 1) to `addr` in one reuseport group, socket
/// 0 first, and installs the steering program. With `n` = 1 nothing special
/// is set. `configure` is applied to each socket before it is bound.
pub fn bind_group(
    addr: SocketAddr,
    n: usize,
    configure: impl Fn(&Socket) -> io::Result<()>,
) -> io::Result<Vec<Socket>> {
    if n > 1 && addr.port() != 0 {
        // SO_REUSEPORT would let this group join another server's sockets on
        // the same port (same user): bind once without it first, so a port
        // in use fails as it does with one thread.
        let probe = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        configure(&probe)?;
        probe.bind(&addr.into())?;
    }
    let mut sockets = Vec::with_capacity(n.max(1));
    let mut bound = addr;
    for i in 0..n.max(1) {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        configure(&socket)?;
        if n > 1 {
            socket.set_reuse_port(true)?;
        }
        socket.bind(&bound.into())?;
        if i == 0 {
            // Port 0: the others join the port the first one got.
            bound = socket
                .local_addr()?
                .as_socket()
                .ok_or_else(|| io::Error::other("bound address is not IP"))?;
        }
        sockets.push(socket);
    }
    if n > 1 {
        attach_steering(&sockets[0], n)?;
    }
    Ok(sockets)
}

fn insn(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// The steering program. It sees the UDP payload at offset 0 and the IP
/// header at `SKF_NET_OFF`; it returns the index of the socket in the
/// group. A load past the end (an empty datagram) ends it with 0.
fn program(n: usize) -> Vec<libc::sock_filter> {
    use libc::{
        BPF_ABS, BPF_ALU, BPF_B, BPF_H, BPF_IND, BPF_JEQ, BPF_JGT, BPF_JMP, BPF_K, BPF_LD, BPF_LDX,
        BPF_MOD, BPF_MSH, BPF_RET, BPF_RSH,
    };
    let net = libc::SKF_NET_OFF as u32;
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    vec![
        // 0: A = payload[0]; STUN starts with 0x00 or 0x01, JSON never does.
        insn(BPF_LD | BPF_B | BPF_ABS, 0, 0, 0),
        // 1: A > 1 -> socket 0 (instruction 11)
        insn(BPF_JMP | BPF_JGT | BPF_K, 9, 0, 1),
        // 2: A = IP version
        insn(BPF_LD | BPF_B | BPF_ABS, 0, 0, net),
        // 3:
        insn(BPF_ALU | BPF_RSH | BPF_K, 0, 0, 4),
        // 4: IPv6 -> 8
        insn(BPF_JMP | BPF_JEQ | BPF_K, 3, 0, 6),
        // 5: X = IPv4 header length
        insn(BPF_LDX | BPF_MSH | BPF_B, 0, 0, net),
        // 6: A = UDP source port (IPv4)
        insn(BPF_LD | BPF_H | BPF_IND, 0, 0, net),
        // 7: -> 9
        insn(BPF_JMP | libc::BPF_JA, 0, 0, 1),
        // 8: A = UDP source port (IPv6, fixed header)
        insn(BPF_LD | BPF_H | BPF_ABS, 0, 0, net + 40),
        // 9: A %= n
        insn(BPF_ALU | BPF_MOD | BPF_K, 0, 0, n),
        // 10: socket A
        insn(BPF_RET | libc::BPF_A, 0, 0, 0),
        // 11: socket 0
        insn(BPF_RET | BPF_K, 0, 0, 0),
    ]
}

fn attach_steering(socket: &Socket, n: usize) -> io::Result<()> {
    let mut filter = program(n);
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `filter`, alive for the call; the kernel
    // copies the program.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            std::ptr::from_ref(&prog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    /// Reads what the group received into `got` (which socket each datagram
    /// reached) until it holds `expect` datagrams or 5 s passed.
    fn drain(group: &[UdpSocket], got: &mut Vec<(usize, Vec<u8>, SocketAddr)>, expect: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 2048];
        while got.len() < expect && Instant::now() < deadline {
            for (i, s) in group.iter().enumerate() {
                while let Ok((n, from)) = s.recv_from(&mut buf) {
                    got.push((i, buf[..n].to_vec(), from));
                }
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_port_in_use_is_refused_even_by_a_group() {
        let local: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let first = bind_group(local, 2, |_| Ok(())).expect("group");
        let taken = first[0]
            .local_addr()
            .expect("addr")
            .as_socket()
            .expect("ip");
        assert!(bind_group(taken, 2, |_| Ok(())).is_err());
        assert!(bind_group(taken, 1, |_| Ok(())).is_err());
    }

    #[test]
    fn json_goes_to_socket_0_and_stun_is_spread_by_source() {
        let local: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let group: Vec<UdpSocket> = bind_group(local, 2, |_| Ok(()))
            .expect("reuseport group")
            .into_iter()
            .map(UdpSocket::from)
            .collect();
        for s in &group {
            s.set_nonblocking(true).expect("nonblocking");
        }
        let to = group[0].local_addr().expect("addr");
        assert_eq!(group[1].local_addr().expect("addr"), to);
        let senders: Vec<UdpSocket> = (0..32)
            .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind"))
            .collect();
        // Read after each sender: 288 datagrams queued at once can overflow
        // a socket's default receive buffer on a busy machine.
        let mut got = Vec::new();
        for s in &senders {
            for _ in 0..3 {
                s.send_to(b"{\"v\":1}", to).expect("send");
                s.send_to(b" {\"v\":1}", to).expect("send");
                s.send_to(&[0, 1, 0, 0], to).expect("send");
            }
            let expect = got.len() + 9;
            drain(&group, &mut got, expect);
        }
        assert_eq!(got.len(), senders.len() * 9);
        let mut stun_socket: HashMap<SocketAddr, usize> = HashMap::new();
        for (i, bytes, from) in got {
            if bytes[0] <= 1 {
                let first = *stun_socket.entry(from).or_insert(i);
                assert_eq!(first, i, "one source, one socket");
            } else {
                assert_eq!(i, 0, "JSON only to socket 0");
            }
        }
        let on_1 = stun_socket.values().filter(|&&i| i == 1).count();
        assert!(
            on_1 > 0 && on_1 < senders.len(),
            "{on_1} of 32 sources on socket 1"
        );
    }
}

//! `udp-limit`: the reference limit for the comparison. The simplest UDP
//! responder there is: one thread, blocking `recv_from` / `send_to`,
//! answering STUN Binding requests with the shared codec. Whatever a server
//! does beyond this costs something; "percent of the limit" is measured
//! against this loop on the same machine.
//!
//! Its one concession: the socket buffers are raised to 4 MiB (what
//! `peerd server` asks for too), so that under a deep window the limit
//! measures CPU, not the kernel's default 208 KiB queue overflowing.

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;

use clap::Parser;
use peerd_shared::stun;
use socket2::{Domain, Protocol, Socket, Type};

#[derive(Parser)]
#[command(
    name = "udp-limit",
    version,
    about = "Reference limit: one thread answering STUN Binding with blocking recv_from/send_to"
)]
struct Cli {
    /// Address to listen on; the bound address is printed as `listening on ADDR`.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

/// Socket buffer asked for, bytes (the kernel may give less).
const SOCKET_BUFFER: usize = 4 << 20;

/// Binds `addr` with large socket buffers; blocking.
fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
    sock.bind(&addr.into())?;
    Ok(sock.into())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let sock = match bind(cli.listen) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("udp-limit: cannot bind {}: {e}", cli.listen);
            return ExitCode::FAILURE;
        }
    };
    match sock.local_addr() {
        Ok(addr) => {
            println!("listening on {addr}");
            eprintln!("listening on {addr}");
            let _ = std::io::stdout().flush();
        }
        Err(e) => {
            eprintln!("udp-limit: cannot read the bound address: {e}");
            return ExitCode::FAILURE;
        }
    }
    let mut buf = [0u8; 2048];
    let mut out = [0u8; stun::ANSWER_BUF];
    loop {
        let Ok((len, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if let Some(n) = stun::answer(&buf[..len], from, &mut out) {
            let _ = sock.send_to(&out[..n], from);
        }
    }
}

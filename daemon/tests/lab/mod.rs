//! The lab: a small internet built from Linux network namespaces, for tests
//! that must cross real NATs (issue 4). See `docs/lab.md` for the picture.
//!
//! A [`Lab`] owns a public segment 198.51.100.0/24 (a bridge in a "core"
//! namespace), a server host on it, and any number of hosts added with
//! [`Lab::add_host`]: `Public` hosts sit on the segment, `Cone` and
//! `Symmetric` hosts sit in a home network 10.N.0.0/24 behind a router
//! namespace doing iptables NAT. Everything the lab creates (namespaces,
//! veths, processes) is removed when the `Lab` is dropped, panics included.
//!
//! For the hostile checks, [`Capture`] records every frame on an interface
//! (or a whole namespace) with a packet socket, and [`scan_memory`]
//! searches a live process's memory.
//!
//! The lab is built on the integration tests' harness (`tests/support/`):
//! processes in a namespace are the harness's `Proc`s, the server and the
//! daemons its `Server` and `Daemon` run under `ip netns exec`, and every
//! wait polls with the harness's deadlines. Each test binary includes both
//! with `mod support; mod lab;` and uses a subset, hence the `dead_code`
//! allowance (and `unused_imports` on the re-exports).
#![allow(dead_code)]

mod capture;
mod daemon;
mod error;
mod machines;
mod memory;
mod netns;
mod precheck;
mod probe;
mod rendezvous;
mod server;
mod topology;

#[allow(unused_imports)]
pub use self::{
    capture::{contains, Capture, Captured, Datagram, Packet},
    daemon::PeerDaemon,
    error::LabError,
    machines::{Host, Kind, Router},
    memory::{scan as scan_memory, Scan},
    netns::{list_all as list_namespaces, Netns},
    precheck::{lab_or_skip, preflight},
    probe::{force_recv_buffer, mapped_address, Reflector, StunTx},
    rendezvous::join,
    server::start_server,
    topology::{Lab, SERVER_IP},
};
#[allow(unused_imports)]
pub use crate::support::recv_matching;

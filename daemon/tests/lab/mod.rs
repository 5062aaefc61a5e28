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
//! Each test binary includes this module with `mod lab;` and uses a subset
//! of it, hence the `dead_code` allowance (and `unused_imports` on the
//! re-exports).
#![allow(dead_code)]

mod daemon;
mod error;
mod machines;
mod netns;
mod precheck;
mod probe;
mod process;
mod rendezvous;
mod server;
mod topology;

#[allow(unused_imports)]
pub use self::{
    daemon::{control, peerctl_path, PeerDaemon},
    error::LabError,
    machines::{Host, Kind, Router},
    netns::{list_all as list_namespaces, Netns},
    precheck::{lab_or_skip, preflight},
    probe::{force_recv_buffer, mapped_address, recv_matching, Reflector, StunTx},
    process::Spawned,
    rendezvous::{next_seq, register, request},
    server::PeerdServer,
    topology::{Lab, SERVER_IP},
};

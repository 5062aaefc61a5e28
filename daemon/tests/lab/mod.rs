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
//! of it, hence the `dead_code` and `unused_imports` allowances.
#![allow(dead_code, unused_imports)]

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

pub use daemon::{control, peerctl_path, PeerDaemon};
pub use error::LabError;
pub use machines::{Host, Kind, Router};
pub use netns::{list_all as list_namespaces, Netns};
pub use precheck::{lab_or_skip, preflight};
pub use probe::{force_recv_buffer, mapped_address, recv_matching, Reflector, StunTx};
pub use process::Spawned;
pub use rendezvous::{next_seq, register, request};
pub use server::PeerdServer;
pub use topology::{Lab, SERVER_IP};

//! The one harness of the integration tests: the real `peerd server`,
//! `peerd start` and `peerctl` binaries in temporary directories, on free
//! ports; waits that poll with a deadline; every child killed and reaped on
//! `Drop`, its output captured (and printed when a test fails); typed
//! control requests through the `peerctl` library; raw UDP for the server's
//! wire protocol. The lab (`tests/lab/`) builds its namespaces on top.
//!
//! - [`poll`]: deadlines and polling.
//! - [`output`], [`process`]: child processes and what they print.
//! - [`bins`], [`peerctl`]: the binaries, isolated from the user's settings.
//! - [`server`], [`daemon`], [`requests`], [`control`]: a server, daemons
//!   and their control socket.
//! - [`udp`]: raw datagrams to the server; [`handshake`], [`peers`]: a
//!   protocol v2 client (REGISTER handshake, requests, replies).
//! - [`net`]: a temporary directory with a server and daemons.
//! - [`cluster`]: PostgreSQL, NATS and `peerd server` nodes of a cluster.
//!
//! Each test file includes it with `mod support;` and uses a part of it.
#![allow(dead_code, unused_imports)]

mod bins;
mod cluster;
mod control;
mod daemon;
mod handshake;
mod net;
mod output;
mod peerctl;
mod peers;
mod poll;
mod process;
mod requests;
mod server;
mod udp;

pub use self::{
    bins::{isolate, peerctl_bin, peerd_bin},
    cluster::{servers, Engines, Nats, Postgres, CONVERGE},
    control::{Ctl, Events, RawCtl},
    daemon::{Daemon, Launch},
    handshake::{gap_after, handshake, Answer, Attempt, Keys, ServerSession},
    net::{Net, Scratch},
    output::{strip_ansi, Captured},
    peerctl::{os_args, peerctl_command, peerctl_run, peerctl_spawn},
    peers::{join_all, join_many, raise_fd_limit, Payload, Peer, Req},
    poll::{poll, poll_for, wait_until, Timeout, DEADLINE, POLL},
    process::{Proc, Run},
    requests::{peer, texts_from},
    server::{listening_addr, server_args, server_key_in, HeldPort, Server},
    udp::{ipv6_loopback_or_skip, recv_matching, Client},
};

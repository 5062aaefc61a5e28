//! The delivery core on a fake clock. A [`Bench`] drives one daemon (id 1)
//! and records every action with the instant it was returned at; each
//! test asserts those actions: retransmission timing, punching (HELLO
//! handshakes) and the fall-back to relay, path proofs, keepalives and
//! re-punching, the upgrade from relay to direct, expiry, lookups, the
//! window, pings, a peer whose key changed.

mod paths;
mod pings;
mod sends;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::{MsgId, PeerId};

use super::{Action, Delivery};
use crate::peer::args::RelayPolicy;
use crate::peer::core::clock::{Deadlines, Now};
use crate::peer::core::queue::OutMsg;
use crate::peer::core::transport::{Origin, PeerPacket, Route};

/// The keepalive interval of the tests (the default).
const KEEPALIVE: Duration = Duration::from_secs(15);

fn id(n: u64) -> PeerId {
    PeerId::new(n).expect("valid id")
}

/// Peer 2's address.
fn peer_addr() -> SocketAddr {
    "198.51.100.2:2000".parse().expect("address")
}

fn server() -> SocketAddr {
    "10.0.0.1:8080".parse().expect("address")
}

/// A delivery core for id 1, registered, on a fake clock starting at 0.
struct Bench {
    core: Delivery,
    t0: Now,
    /// Every action so far, with the millisecond it came at.
    log: Vec<(u64, Action)>,
}

impl Bench {
    fn new(policy: RelayPolicy) -> Self {
        let mut next_nonce = 100;
        let nonces = Box::new(move || {
            next_nonce += 1;
            next_nonce
        });
        let t0 = Now {
            at: Instant::now(),
            unix_ms: 1_700_000_000_000,
        };
        let mut core = Delivery::new(Some(id(1)), policy, KEEPALIVE, nonces);
        core.link_up(id(1), t0);
        Self {
            core,
            t0,
            log: Vec::new(),
        }
    }

    fn at(&self, ms: u64) -> Now {
        self.t0.after(Duration::from_millis(ms))
    }

    /// Records what the last input returned, at `ms`.
    fn record(&mut self, ms: u64) -> Vec<Action> {
        let actions = self.core.take_actions();
        self.log.extend(actions.iter().cloned().map(|a| (ms, a)));
        actions
    }

    /// Runs every timer due up to `ms`, at the instant it is due.
    fn run_until(&mut self, ms: u64) {
        while let Some(next) = self.core.poll_timeout() {
            let due = u64::try_from(next.duration_since(self.t0.at).as_millis()).expect("ms");
            if due > ms {
                break;
            }
            self.core.handle_timeout(self.at(due));
            self.record(due);
        }
    }

    /// Actions logged from `from` ms on (inclusive) that `f` keeps.
    fn logged<T>(&self, from: u64, f: impl Fn(&Action) -> Option<T>) -> Vec<(u64, T)> {
        self.log
            .iter()
            .filter(|(ms, _)| *ms >= from)
            .filter_map(|(ms, a)| f(a).map(|t| (*ms, t)))
            .collect()
    }

    /// The MESSAGEs sent from `from` ms on: when, which, over which route.
    fn messages(&self, from: u64) -> Vec<(u64, (MsgId, Route))> {
        self.logged(from, |a| match a {
            Action::Transmit {
                route,
                packet: PeerPacket::Message { msg, .. },
                ..
            } => Some((*msg, *route)),
            _ => None,
        })
    }

    /// The punch probes (new HELLO handshakes) sent from `from` ms on,
    /// with their route.
    fn punches(&self, from: u64) -> Vec<(u64, Route)> {
        self.logged(from, |a| match a {
            Action::Transmit {
                route,
                packet: PeerPacket::Hello,
                ..
            } => Some(*route),
            _ => None,
        })
    }

    /// The PROBEs sent from `from` ms on (keepalives and pings), with
    /// their route.
    fn probes(&self, from: u64) -> Vec<(u64, Route)> {
        self.logged(from, |a| match a {
            Action::Transmit {
                route,
                packet: PeerPacket::Probe { .. },
                ..
            } => Some(*route),
            _ => None,
        })
    }

    /// The lookups asked from `from` ms on (`true`: an upgrade try).
    fn lookups(&self, from: u64) -> Vec<(u64, bool)> {
        self.logged(from, |a| match a {
            Action::Lookup { upgrade, .. } => Some(*upgrade),
            _ => None,
        })
    }

    /// Stores message `n` for peer 2 at `ms`, with `ttl_ms`.
    fn queue(&mut self, n: u64, ms: u64, ttl_ms: u64) {
        let now = self.at(ms);
        let m = OutMsg::new(
            id(2),
            format!("m{n}"),
            now.unix_ms,
            now.unix_ms + ttl_ms,
            now.at,
        );
        self.core.queued(MsgId(n), m, false, now);
        self.record(ms);
    }

    /// The server answers the lookup of peer 2 with its address, at `ms`.
    fn found(&mut self, ms: u64, upgrade: bool) {
        self.core
            .looked_up(id(2), Ok(peer_addr()), upgrade, self.at(ms));
        self.record(ms);
    }

    /// Peer 2 sends a PROBE (or its PROBE_ACK with `nonce`) directly.
    fn probed(&mut self, ms: u64, nonce: u64, ack: bool) {
        let origin = Origin {
            peer: id(2),
            src: peer_addr(),
            route: Route::Direct(peer_addr()),
        };
        self.core.probed(origin, nonce, ack, self.at(ms));
        self.record(ms);
    }

    /// The transport proves a direct path to peer 2 (an authenticated
    /// datagram came from its address), at `ms`.
    fn proven(&mut self, ms: u64) {
        self.core.proven(id(2), peer_addr(), self.at(ms));
        self.record(ms);
    }

    /// Peer 2 acknowledges message `n` over `route`, at `ms`.
    fn acked(&mut self, n: u64, ms: u64, route: Route) {
        let src = match route {
            Route::Direct(a) => a,
            Route::Relayed => server(),
        };
        let origin = Origin {
            peer: id(2),
            src,
            route,
        };
        self.core.acked(origin, MsgId(n), self.at(ms));
        self.record(ms);
    }

    /// A bench with a direct path to peer 2 made at 0 ms (looked up, then
    /// proven), with no message yet.
    fn direct() -> Self {
        let mut b = Self::new(RelayPolicy::Auto);
        b.found(0, false);
        b.proven(0);
        b.log.clear();
        b
    }
}

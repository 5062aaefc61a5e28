//! The transport's state and the sending side: the REGISTER handshake and
//! requests to the server, and packets to peers, direct or wrapped in
//! RELAY, each sealed on its session (docs/protocol.md 3 to 6).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use peerd_shared::proto::frame::key_request;
use peerd_shared::proto::{Body, Identity, InitPayload, PublicKey};
use peerd_shared::{PeerId, Seq};

use super::peers::PeerTunnel;
use super::relays::RelayLog;
use super::server::ServerTunnel;
use super::{Datagram, PeerPacket, Route, SealError, ServerRequest};
use crate::peer::core::clock::Now;
use crate::ratelimit::{RateLimiter, Verdict};

/// HELLO handshakes answered per second from one IP address.
const INITS_PER_IP: u32 = 20;
/// HELLO handshakes answered per second in all.
const INITS_IN_ALL: u32 = 50;

/// Whose a session index is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    Server,
    Peer(PeerId),
}

/// The daemon's datagram codec: its identity, its sessions, and what
/// every datagram is made with.
pub struct Transport {
    pub(super) identity: Identity,
    pub(super) server: ServerTunnel,
    pub(super) peers: HashMap<PeerId, PeerTunnel>,
    /// Every session index and pending handshake index of ours.
    pub(super) owners: HashMap<u32, Owner>,
    /// Own id: stored from an earlier run, then the server's.
    pub(super) id: Option<PeerId>,
    /// Registered with the server right now (RELAY needs it).
    pub(super) registered: bool,
    /// The socket is IPv6: IPv4 destinations are written IPv4-mapped.
    pub(super) ipv6_socket: bool,
    pub(super) next_seq: u32,
    pub(super) relays: RelayLog,
    /// The last handshake timestamp sent (ns since the Unix epoch).
    pub(super) last_ts: u64,
    /// HELLOs answered: per source IP, and in all.
    pub(super) inits: RateLimiter<IpAddr>,
    /// When this transport was made (the rate limiter counts from it).
    pub(super) epoch: Instant,
    pub(super) rng: fastrand::Rng,
    /// Datagrams to send that nobody asked for: handshake answers,
    /// confirmations, handshakes started for a packet without a session.
    pub(super) outgoing: Vec<Datagram>,
}

impl Transport {
    /// A transport for `identity` talking to the server at `server`, whose
    /// key may be known (pinned or configured), from a socket of the family
    /// of `local`; `pins` are the peers' pinned keys; `last_ts` the last
    /// handshake timestamp sent by an earlier run; `seed` seeds indices and
    /// the first `seq` (random in the daemon, fixed in tests).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        identity: Identity,
        server: (SocketAddr, Option<PublicKey>),
        local: SocketAddr,
        id: Option<PeerId>,
        pins: impl IntoIterator<Item = (PeerId, PublicKey)>,
        last_ts: u64,
        seed: u64,
        now: Instant,
    ) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        Self {
            identity,
            server: ServerTunnel::new(server.0, server.1),
            peers: pins
                .into_iter()
                .map(|(p, k)| (p, PeerTunnel::new(k)))
                .collect(),
            owners: HashMap::new(),
            id,
            registered: false,
            ipv6_socket: local.is_ipv6(),
            next_seq: rng.u32(..),
            relays: RelayLog::default(),
            last_ts,
            inits: RateLimiter::new(INITS_PER_IP, INITS_PER_IP, INITS_IN_ALL),
            epoch: now,
            rng,
            outgoing: Vec::new(),
        }
    }

    /// Own id, once known.
    pub fn id(&self) -> Option<PeerId> {
        self.id
    }

    /// This daemon's public key.
    pub fn public_key(&self) -> PublicKey {
        self.identity.public
    }

    /// Records own id and whether the server has this daemon registered.
    pub fn set_registered(&mut self, id: Option<PeerId>, registered: bool) {
        if id.is_some() {
            self.id = id;
        }
        self.registered = registered;
    }

    /// The server's address.
    pub fn server(&self) -> SocketAddr {
        self.server.addr
    }

    /// Talks to the server at `addr` from now on (the daemon moved its
    /// home to another node of a cluster): the sessions, handshakes and
    /// cookie of the old one are forgotten; its key stays (every node of a
    /// cluster has the same).
    pub fn rehome(&mut self, addr: SocketAddr) {
        if self.server.addr == addr {
            return;
        }
        let key = self.server.key;
        let dropped = self.server.reset(key);
        self.forget_indices(dropped);
        self.server.addr = addr;
        self.server.key_request_at = None;
        self.registered = false;
    }

    /// The server's key, when known.
    pub fn server_key(&self) -> Option<PublicKey> {
        self.server.key
    }

    /// Trusts `key` as the server's from now on (given, or learned on first
    /// contact); sessions made with another key are dropped.
    pub fn pin_server_key(&mut self, key: PublicKey) {
        if self.server.key != Some(key) {
            let dropped = self.server.reset(Some(key));
            self.forget_indices(dropped);
        }
    }

    /// The last handshake timestamp sent (to keep it across restarts).
    pub fn last_timestamp(&self) -> u64 {
        self.last_ts
    }

    /// Datagrams the transport wants sent on its own.
    pub fn take_outgoing(&mut self) -> Vec<Datagram> {
        std::mem::take(&mut self.outgoing)
    }

    pub(super) fn seq(&mut self) -> Seq {
        let seq = Seq(self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(1);
        seq
    }

    /// The next handshake timestamp: the wall clock in ns, and always more
    /// than the last one (docs/protocol.md 1.1).
    pub(super) fn timestamp(&mut self, now: Now) -> u64 {
        let clock = now.unix_ms.saturating_mul(1_000_000);
        self.last_ts = clock.max(self.last_ts.saturating_add(1));
        self.last_ts
    }

    /// A fresh index of ours, owned by `owner`.
    pub(super) fn new_index(&mut self, owner: Owner) -> u32 {
        loop {
            let i = self.rng.u32(..);
            if let std::collections::hash_map::Entry::Vacant(e) = self.owners.entry(i) {
                e.insert(owner);
                return i;
            }
        }
    }

    pub(super) fn forget_indices(&mut self, indices: impl IntoIterator<Item = u32>) {
        for i in indices {
            self.owners.remove(&i);
        }
    }

    /// Forgets expired, surplus and long-unconfirmed sessions of the
    /// server and of every peer (also done whenever a session is added);
    /// run from the registration's timer, so that sessions nobody adds to
    /// any more do not outlive their limits.
    pub fn sweep_sessions(&mut self, now: Instant) {
        let mut dropped = self.server.sessions.trim(now);
        for tunnel in self.peers.values_mut() {
            dropped.extend(tunnel.sessions.trim(now));
        }
        self.forget_indices(dropped);
    }

    /// Whether a HELLO from `src` may be answered now (direct: per IP and in
    /// all; relayed: `None`, in all only).
    pub(super) fn init_allowed(&mut self, src: Option<IpAddr>, now: Instant) -> bool {
        let ms = u64::try_from(now.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX);
        let Some(ip) = src else {
            // Relayed INITs count against the overall limit only.
            return self.inits.check_global(ms) == Verdict::Accept;
        };
        if self.inits.tracked() > 1024 {
            // Sources whose bucket is full again carry nothing: forget them.
            self.inits.sweep(ms);
        }
        self.inits.check(ip, ms) == Verdict::Accept
    }

    /// A KEY_REQUEST for the server (section 3.5).
    pub fn key_request(&mut self, now: Instant) -> Datagram {
        self.server.key_request_at = Some(now);
        self.datagram(key_request().to_vec(), self.server.addr)
    }

    /// A new REGISTER handshake (section 3.1); earlier ones of the attempt
    /// stay answerable for 15 s.
    pub fn register_init(&mut self, now: Now) -> Result<Datagram, SealError> {
        let key = self.server.key.ok_or(SealError::NoServerKey)?;
        let timestamp = self.timestamp(now);
        let index = self.new_index(Owner::Server);
        let payload = InitPayload::Register { timestamp };
        let cookie = self.server.cookie(now.at);
        let (bytes, init) = peerd_shared::proto::Initiator::start(
            &self.identity,
            &key,
            index,
            &payload,
            cookie.as_ref(),
            None,
        )
        .map_err(|e| SealError::Seal(e.to_string()))?;
        let expired = self.server.pending(init, now.at);
        self.forget_indices(expired);
        Ok(self.datagram(bytes, self.server.addr))
    }

    /// A request to the server with a new `seq`, on the server session.
    pub fn seal_request(
        &mut self,
        request: ServerRequest,
        now: Instant,
    ) -> Result<(Seq, Datagram), SealError> {
        let seq = self.seq();
        let datagram = self.reseal_request(seq, request, now)?;
        Ok((seq, datagram))
    }

    /// `request` with `seq` sealed again (a retransmission: a new frame
    /// with a new counter, the same `seq`).
    pub fn reseal_request(
        &mut self,
        seq: Seq,
        request: ServerRequest,
        now: Instant,
    ) -> Result<Datagram, SealError> {
        let body = match request {
            ServerRequest::Keepalive => Body::Keepalive { seq },
            ServerRequest::List { after } => Body::List { seq, after },
            ServerRequest::Connect { target } => Body::Connect { seq, target },
            ServerRequest::Unregister => Body::Unregister { seq },
        };
        let bytes = self.seal_to_server(&body, now)?;
        Ok(self.datagram(bytes, self.server.addr))
    }

    pub(super) fn seal_to_server(
        &mut self,
        body: &Body<'_>,
        now: Instant,
    ) -> Result<Vec<u8>, SealError> {
        let session = self
            .server
            .sessions
            .sending(now)
            .ok_or(SealError::NoServerSession)?;
        seal_body(session, body)
    }

    /// `packet` for peer `to` over `route`. Without a session with the peer
    /// a HELLO handshake goes out instead (queued in the outgoing
    /// datagrams) and the answer is [`SealError::Handshaking`].
    pub fn seal_peer(
        &mut self,
        to: PeerId,
        route: Route,
        packet: PeerPacket,
        now: Now,
    ) -> Result<Datagram, SealError> {
        let me = self.id.ok_or(SealError::NoId)?;
        if route == Route::Relayed && !self.registered {
            return Err(SealError::NotRegistered);
        }
        self.check_key(to)?;
        let inner = match packet {
            PeerPacket::Hello => self.hello_init(to, me, route, now)?,
            packet => self.seal_on_session(to, route, packet, me, now)?,
        };
        self.wrap(to, route, inner, now.at)
    }

    /// A frame for `to` on `route`: sent as it is, or inside RELAY.
    pub(super) fn wrap(
        &mut self,
        to: PeerId,
        route: Route,
        inner: Vec<u8>,
        now: Instant,
    ) -> Result<Datagram, SealError> {
        match route {
            Route::Direct(addr) => Ok(self.datagram(inner, addr)),
            Route::Relayed => {
                let seq = self.seq();
                let body = Body::Relay {
                    seq,
                    target: to,
                    data: &inner,
                };
                let bytes = self.seal_to_server(&body, now)?;
                self.relays.sent(seq, to, now);
                Ok(self.datagram(bytes, self.server.addr))
            }
        }
    }

    pub(super) fn datagram(&self, bytes: Vec<u8>, to: SocketAddr) -> Datagram {
        // An IPv6 socket (e.g. `--listen [::]:0`) reaches IPv4 peers through
        // IPv4-mapped addresses.
        let to = match (self.ipv6_socket, to) {
            (true, SocketAddr::V4(v4)) => {
                SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
            }
            _ => to,
        };
        Datagram { to, bytes }
    }
}

/// Encodes and seals `body` on `session`.
pub(super) fn seal_body<const W: usize>(
    session: &mut peerd_shared::proto::Session<W>,
    body: &Body<'_>,
) -> Result<Vec<u8>, SealError> {
    let mut plain = Vec::with_capacity(64);
    body.encode(&mut plain);
    let mut out = Vec::with_capacity(plain.len() + 32);
    session
        .seal(&plain, &mut out)
        .map_err(|e| SealError::Seal(e.to_string()))?;
    Ok(out)
}

//! The outbox: messages this daemon sends, from queueing to acknowledgement.
//!
//! A message is stored before `send` is answered, then sent over the peer's
//! path ([`super::paths`]): direct when a punch succeeded, relayed through
//! the server when it did not. Until a path exists the peer is looked up
//! (CONNECT) and punched. Every message is retransmitted (200 ms doubling,
//! capped at 5 s) until its MESSAGE_ACK, or fails when its ttl runs out. On
//! start the outbox resumes every message still queued in the store.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use peerd_shared::control::{ControlError, ErrorKind, MsgStatus, PathKind, SendOutcome};
use peerd_shared::wire::{self, Packet};
use peerd_shared::{MsgId, PeerId};
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::args::RelayPolicy;
use super::db::StoreHandle;
use super::outbox_msg::{Lookup, OutMsg};
use super::outbox_queue::Queue;
use super::paths::{PathState, PeerPath, Route};
use super::registry_link::{RegistryLink, RelayData};
use super::retry::{PATH_FAILURE_SENDS, PUNCH_WINDOW};
use super::shared::{format_ms, now_ms, Shared};

mod lookup;
mod upkeep;

pub use lookup::{IntroReceived, LinkUp, RelayFailed};
pub use upkeep::{ListPaths, Ping, PunchReceived};

/// How often timers (retransmission, punching, lookups) are checked.
const TICK: Duration = Duration::from_millis(25);

/// Queue a text (the store assigns its `msg`); answered once stored.
#[derive(Message)]
#[rtype(result = "Result<Accepted, ControlError>")]
pub struct Enqueue {
    pub to: PeerId,
    pub text: String,
    pub ttl: Duration,
    pub wait: bool,
}

/// Answer to [`Enqueue`]: the queued outcome, and the final one to await
/// when the caller asked to wait and the peer is reachable.
pub struct Accepted {
    pub queued: SendOutcome,
    pub delivered: Option<oneshot::Receiver<SendOutcome>>,
}

/// A MESSAGE_ACK arrived (directly or relayed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct AckReceived {
    pub peer: PeerId,
    pub msg: MsgId,
    pub path: PathKind,
    pub src: SocketAddr,
}

/// The actor that delivers this daemon's messages.
pub struct Outbox {
    shared: Arc<Shared>,
    store: StoreHandle,
    link: Addr<RegistryLink>,
    peers: HashMap<PeerId, PeerPath>,
    queue: Queue,
    /// Peers the server confirmed were registered at least once.
    known: HashSet<PeerId>,
    /// Callers waiting for a lookup of a peer.
    lookups: HashMap<PeerId, Vec<oneshot::Sender<Lookup>>>,
    /// Own address, for lookup answers (set in `started`).
    me: Option<Addr<Outbox>>,
    policy: RelayPolicy,
    /// Relayed peers with a CONNECT out to try a direct path again.
    upgrading: HashSet<PeerId>,
    /// `ping`s waiting for their PUNCH_ACK.
    pings: Vec<upkeep::PendingPing>,
    /// Interval of PUNCH keepalives on direct paths in use.
    keepalive: Duration,
}

fn random_nonce() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

impl Outbox {
    /// An empty outbox; it loads queued messages when started.
    pub fn new(
        shared: Arc<Shared>,
        store: StoreHandle,
        link: Addr<RegistryLink>,
        policy: RelayPolicy,
        keepalive: Duration,
    ) -> Self {
        Self {
            shared,
            store,
            link,
            peers: HashMap::new(),
            queue: Queue::default(),
            known: HashSet::new(),
            lookups: HashMap::new(),
            me: None,
            policy,
            upgrading: HashSet::new(),
            pings: Vec::new(),
            keepalive,
        }
    }

    fn insert(&mut self, id: MsgId, m: OutMsg) {
        self.queue.insert(id, m);
        self.attempt(id);
    }

    /// Sends a message over the peer's current path (or starts finding one)
    /// and schedules its next retransmission. A message that does not fit
    /// its peer's window is parked without a timer until a slot frees.
    fn attempt(&mut self, id: MsgId) {
        let now = Instant::now();
        let Some(m) = self.queue.get(id) else {
            return;
        };
        if now_ms() >= m.expires_ms {
            self.expire(id);
            return;
        }
        let (to, path_sends) = (m.to, m.path_sends);
        let path = self.peers.entry(to).or_default();
        let stale = path
            .last_heard
            .is_none_or(|t| now.duration_since(t) > PUNCH_WINDOW);
        if path_sends >= PATH_FAILURE_SENDS && stale && path.route().is_some() {
            tracing::info!(peer = %to, "no answer on the path; looking the peer up again");
            path.state = PathState::Unknown;
        }
        let route = path.route();
        let lookup = route.is_none() && path.needs_lookup(now);
        let mut unrelayable = false;
        if let (Some(route), Some(me)) = (route, self.shared.id()) {
            if !self.queue.admit(id) {
                return;
            }
            path.last_used = Some(now);
            path.last_sent = Some(now);
            if let Some(m) = self.queue.get_mut(id) {
                m.attempts += 1;
                m.path_sends += 1;
                let packet = Packet::Message {
                    from: me,
                    to,
                    msg: id,
                    text: m.text.clone(),
                    ts: m.created_ms,
                };
                match (route, wire::encode(&packet)) {
                    (Route::Direct(addr), Ok(bytes)) => self.shared.send_bytes(&bytes, addr),
                    (Route::Relayed, Ok(bytes)) => {
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        match RawValue::from_string(text) {
                            Ok(data) if relay_fits(&self.shared, me, to, &data) => {
                                self.link.do_send(RelayData { target: to, data });
                            }
                            _ => {
                                m.last_error = Some(too_long_to_relay(bytes.len()));
                                m.expires_ms = 0;
                                unrelayable = true;
                            }
                        }
                    }
                    (_, Err(e)) => m.last_error = Some(e.to_string()),
                }
            }
        }
        if unrelayable {
            self.expire(id);
            return;
        }
        self.queue.schedule(id, now);
        if lookup {
            self.lookup(to);
        }
    }

    /// Sends parked messages of `peer` while its window has room.
    fn release(&mut self, peer: PeerId) {
        while let Some(id) = self.queue.next_released(peer) {
            self.attempt(id);
        }
    }

    /// Sends every pending message of `peer` now (a path just appeared).
    fn flush(&mut self, peer: PeerId) {
        for id in self.queue.ids_of(peer) {
            if let Some(m) = self.queue.get_mut(id) {
                m.restart();
            }
            self.attempt(id);
        }
    }

    fn expire(&mut self, id: MsgId) {
        let Some(m) = self.queue.remove(id) else {
            return;
        };
        let reason = m
            .last_error
            .clone()
            .unwrap_or_else(|| "no acknowledgement".into());
        let error = format!("expired at {}: {reason}", format_ms(m.expires_ms));
        tracing::warn!(peer = %m.to, msg = %id, %error, "message failed");
        let outcome = m.outcome(id, MsgStatus::Failed, None, Some(error.clone()));
        let attempts = m.attempts;
        for w in m.waiters {
            let _ = w.send(outcome.clone());
        }
        let store = self.store.clone();
        actix::spawn(async move {
            if let Err(e) = store.call(move |s| s.failed(id, &error, attempts)).await {
                tracing::error!(error = %e, "cannot record a failed message");
            }
        });
    }

    fn tick(&mut self) {
        let now = Instant::now();
        while let Some(id) = self.queue.pop_due(now) {
            self.attempt(id);
        }
        for peer in self.queue.parked_peers() {
            self.release(peer);
        }
        let me = self.shared.id();
        let mut flush = Vec::new();
        let mut lookups = Vec::new();
        let mut gave_up = Vec::new();
        for (peer, path) in &mut self.peers {
            let had_route = path.route().is_some();
            let was_punching = matches!(path.state, PathState::Punching { .. });
            if let (Some((addr, nonce)), Some(me)) = (path.punch_tick(now, self.policy), me) {
                let punch = Packet::Punch {
                    from: me,
                    to: *peer,
                    nonce,
                };
                let _ = self.shared.send(&punch, addr);
            }
            let pending = self.queue.has_pending(*peer);
            if let (true, PathState::Waiting { reason, .. }) = (was_punching, &path.state) {
                // `--relay never` and the punch failed: tell waiting senders.
                gave_up.push((*peer, reason.clone()));
            }
            if !had_route && path.route().is_some() && pending {
                tracing::info!(peer = %peer, "no direct path; relaying through the server");
                flush.push(*peer);
            }
            if pending && path.route().is_none() && path.needs_lookup(now) {
                lookups.push(*peer);
            }
        }
        for peer in flush {
            self.flush(peer);
        }
        for peer in lookups {
            self.lookup(peer);
        }
        for (peer, reason) in gave_up {
            self.unreachable(peer, reason);
        }
        self.upkeep(now);
        self.ping_tick(now);
    }
}

impl Actor for Outbox {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.me = Some(ctx.address());
        ctx.run_interval(TICK, |act, _| act.tick());
        let store = self.store.clone();
        let resume = async move { store.call(|s| s.queued()).await };
        ctx.spawn(resume.into_actor(self).map(|rows, act, _| match rows {
            Ok(rows) => {
                if !rows.is_empty() {
                    tracing::info!(count = rows.len(), "resuming queued messages");
                }
                for row in rows {
                    let id = row.msg;
                    act.insert(id, OutMsg::resumed(row));
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot load queued messages"),
        }));
    }
}

impl Handler<Enqueue> for Outbox {
    type Result = ResponseActFuture<Self, Result<Accepted, ControlError>>;

    fn handle(&mut self, m: Enqueue, _ctx: &mut Self::Context) -> Self::Result {
        let to = m.to;
        let lookup: std::pin::Pin<Box<dyn std::future::Future<Output = Lookup>>> =
            if self.known.contains(&to) {
                Box::pin(std::future::ready(Lookup::Found))
            } else if let Some(PathState::Waiting { reason, .. }) =
                self.peers.get(&to).map(|p| &p.state)
            {
                // Looked up moments ago and unreachable: do not ask again
                // for every message (the retry timer will).
                Box::pin(std::future::ready(Lookup::Unreachable(reason.clone())))
            } else if !self.shared.registered() {
                // Do not hold `send` up while registering: queue now; the
                // peer is looked up (and the message failed if the id is
                // unknown) once the server answers.
                let reason = "not registered with the server yet".to_owned();
                Box::pin(std::future::ready(Lookup::Unreachable(reason)))
            } else {
                let (tx, rx) = oneshot::channel();
                self.lookups.entry(to).or_default().push(tx);
                self.lookup(to);
                Box::pin(async move { rx.await.unwrap_or(Lookup::Unreachable("stopping".into())) })
            };
        let waiting = match self.peers.get(&to).map(|p| &p.state) {
            Some(PathState::Waiting { reason, .. }) => Some(reason.clone()),
            _ => None,
        };
        let store = self.store.clone();
        let fut = async move {
            let problem = match lookup.await {
                Lookup::Unknown => {
                    return Err(ControlError {
                        code: ErrorKind::UnknownPeer,
                        message: format!("peer {to} was never registered with the server"),
                    })
                }
                Lookup::Found => waiting,
                Lookup::Offline(reason) | Lookup::Unreachable(reason) => Some(reason),
            };
            let created = now_ms();
            let ttl_ms = u64::try_from(m.ttl.as_millis()).unwrap_or(u64::MAX);
            let expires = created.saturating_add(ttl_ms);
            let text = m.text.clone();
            let error = problem.clone();
            let msg = store
                .call(move |s| s.queue(to, &text, created, expires, error.as_deref()))
                .await
                .map_err(|e| ControlError {
                    code: ErrorKind::Storage,
                    message: format!("cannot store the message: {e}"),
                })?;
            let mut out = OutMsg::new(to, m.text, created, expires);
            out.last_error = problem;
            Ok((msg, out))
        };
        Box::pin(fut.into_actor(self).map(move |r, act, _| {
            let (id, mut out) = r?;
            let note = out
                .last_error
                .as_ref()
                .map(|reason| format!("{reason}; queued until {}", format_ms(out.expires_ms)));
            let queued = out.outcome(id, MsgStatus::Queued, None, note.clone());
            let delivered = (m.wait && note.is_none()).then(|| {
                let (tx, rx) = oneshot::channel();
                out.waiters.push(tx);
                rx
            });
            act.insert(id, out);
            Ok(Accepted { queued, delivered })
        }))
    }
}

impl Handler<AckReceived> for Outbox {
    type Result = ();

    fn handle(&mut self, a: AckReceived, _ctx: &mut Self::Context) {
        if self.queue.get(a.msg).is_none_or(|m| m.to != a.peer) {
            return;
        }
        let Some(m) = self.queue.remove(a.msg) else {
            return;
        };
        self.release(a.peer);
        if let Some(path) = self.peers.get_mut(&a.peer) {
            path.last_heard = Some(Instant::now());
        }
        tracing::debug!(peer = %a.peer, msg = %a.msg, src = %a.src, "delivered");
        let elapsed = m.enqueued.elapsed().as_secs_f64() * 1000.0;
        let outcome = m.outcome(a.msg, MsgStatus::Delivered, Some((a.path, elapsed)), None);
        for w in m.waiters {
            let _ = w.send(outcome.clone());
        }
        let (id, path, attempts) = (a.msg, a.path, m.attempts);
        let store = self.store.clone();
        actix::spawn(async move {
            let r = store
                .call(move |s| s.delivered(id, path, now_ms(), attempts))
                .await;
            if let Err(e) = r {
                tracing::error!(error = %e, "cannot record a delivery");
            }
        });
    }
}

/// Whether a RELAY carrying `data` fits one datagram, whatever `seq` the
/// registry link picks. A MESSAGE near the 1000-byte text limit fits a
/// datagram on its own but not inside RELAY's envelope (a flaw of protocol
/// v1, see docs/protocol.md): such a message can only travel direct.
fn relay_fits(shared: &Shared, me: PeerId, to: PeerId, data: &RawValue) -> bool {
    let probe = Packet::Relay {
        seq: peerd_shared::Seq(u32::MAX),
        id: me,
        token: shared.token,
        target: to,
        data: data.to_owned(),
    };
    wire::encode(&probe).is_ok()
}

fn too_long_to_relay(message_len: usize) -> String {
    format!(
        "too long to relay: the {message_len}-byte MESSAGE does not fit a RELAY datagram \
         ({} bytes at most); only a direct path can carry it, send a shorter text",
        wire::MAX_DATAGRAM
    )
}

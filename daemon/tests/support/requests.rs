//! Typed control requests to a [`Daemon`], one connection each, and the
//! waits built on them (ready, registered, messages arrived).

use std::time::Duration;

use peerctl::ClientError;
use peerd_shared::control::{
    Command, InboxEntry, ListedPeer, OutboxEntry, PeerPathInfo, PingOutcome, RegState, Response,
    SendOutcome, Status,
};
use peerd_shared::PeerId;

use super::control::Ctl;
use super::daemon::Daemon;
use super::poll::{poll, wait_until, Timeout, DEADLINE};

/// A peer id from a number (ids start at 1).
pub fn peer(n: u64) -> PeerId {
    PeerId::new(n).expect("peer ids start at 1")
}

/// The texts of the messages from `from`, in listing order.
pub fn texts_from(inbox: &[InboxEntry], from: PeerId) -> Vec<String> {
    inbox
        .iter()
        .filter(|m| m.from == from)
        .map(|m| m.text.clone())
        .collect()
}

impl Daemon {
    /// A new connection to the control socket, or the reason there is none.
    pub fn try_ctl(&self) -> Result<Ctl, ClientError> {
        Ctl::try_connect(&self.socket)
    }

    /// A new connection to the control socket; fails the test without one.
    pub fn ctl(&self) -> Ctl {
        Ctl::connect(&self.socket)
    }

    /// One request on a fresh connection; its outcome.
    pub fn request(&self, command: Command) -> Result<Response, ClientError> {
        self.try_ctl()?.request(command)
    }

    /// One request whose answer `pick` takes apart; any other answer is a
    /// protocol error.
    fn ask<T>(
        &self,
        command: Command,
        pick: impl FnOnce(Response) -> Result<T, Box<Response>>,
    ) -> Result<T, ClientError> {
        let what = format!("{command:?}");
        pick(self.request(command)?)
            .map_err(|other| ClientError::Protocol(format!("{what} answered {other:?}")))
    }

    /// `status`.
    pub fn status(&self) -> Result<Status, ClientError> {
        self.ask(Command::Status, |r| match r {
            Response::Status(s) => Ok(s),
            other => Err(Box::new(other)),
        })
    }

    /// Waits until the control socket answers `status`; that status.
    pub fn wait_ready(&self) -> Status {
        poll(
            format!("{} to answer on {}", self.name(), self.socket.display()),
            || self.status().ok(),
        )
    }

    /// Waits (at most `limit`) until the daemon says it is registered; its id.
    pub fn wait_registered_within(&self, limit: Duration) -> Result<PeerId, Timeout> {
        let mut last = None;
        wait_until(format!("{} to register", self.name()), limit, || {
            let status = self.status();
            let id = match &status {
                Ok(s) if s.state == RegState::Registered => s.id,
                _ => None,
            };
            last = Some(status);
            id
        })
        .map_err(|t| Timeout(format!("{} (last status {last:?})", t.0)))
    }

    /// Waits until the daemon says it is registered; its id.
    pub fn wait_registered(&self) -> PeerId {
        self.wait_registered_within(DEADLINE)
            .unwrap_or_else(|t| panic!("{t}\n{}", self.proc.output_tail(30)))
    }

    /// `send`; with `wait`, the answer comes once the message is
    /// acknowledged (or known to be undeliverable for now).
    pub fn send(&self, to: PeerId, text: &str, wait: bool) -> Result<SendOutcome, ClientError> {
        self.send_ttl(to, text, None, wait)
    }

    /// `send` with a time to live in seconds.
    pub fn send_ttl(
        &self,
        to: PeerId,
        text: &str,
        ttl_secs: Option<u64>,
        wait: bool,
    ) -> Result<SendOutcome, ClientError> {
        let text = text.to_owned();
        self.ask(
            Command::Send {
                to,
                text,
                ttl_secs,
                wait,
            },
            |r| match r {
                Response::Sent(s) => Ok(s),
                other => Err(Box::new(other)),
            },
        )
    }

    /// `list`: the other online peers.
    pub fn list(&self) -> Result<Vec<ListedPeer>, ClientError> {
        self.ask(Command::List, |r| match r {
            Response::Peers { peers } => Ok(peers),
            other => Err(Box::new(other)),
        })
    }

    /// The inbox (only the messages from `from`, if given), oldest first.
    pub fn inbox(&self, from: Option<PeerId>) -> Result<Vec<InboxEntry>, ClientError> {
        self.ask(Command::Inbox { from, limit: None }, |r| match r {
            Response::Inbox { messages } => Ok(messages),
            other => Err(Box::new(other)),
        })
    }

    /// The texts of the messages from `from` in the whole inbox.
    pub fn texts_from(&self, from: PeerId) -> Vec<String> {
        let inbox = self
            .inbox(None)
            .unwrap_or_else(|e| panic!("{}: inbox: {e}", self.name()));
        texts_from(&inbox, from)
    }

    /// Polls the inbox until it holds at least `count` messages from `from`.
    pub fn wait_inbox(
        &self,
        from: PeerId,
        count: usize,
        limit: Duration,
    ) -> Result<Vec<InboxEntry>, Timeout> {
        let mut held = 0;
        wait_until(
            format!("{count} messages from {from} at {}", self.name()),
            limit,
            || {
                let got = self.inbox(Some(from)).ok()?;
                held = got.len();
                (got.len() >= count).then_some(got)
            },
        )
        .map_err(|t| Timeout(format!("{} ({held} arrived)", t.0)))
    }

    /// The outbox, newest last.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, ClientError> {
        self.ask(Command::Outbox { limit: None }, |r| match r {
            Response::Outbox { messages } => Ok(messages),
            other => Err(Box::new(other)),
        })
    }

    /// `peers`: how each known peer is reached.
    pub fn paths(&self) -> Result<Vec<PeerPathInfo>, ClientError> {
        self.ask(Command::Peers, |r| match r {
            Response::Paths { peers } => Ok(peers),
            other => Err(Box::new(other)),
        })
    }

    /// The `peers` entry of `peer`, if listed.
    pub fn path_to(&self, peer: PeerId) -> Result<Option<PeerPathInfo>, ClientError> {
        Ok(self.paths()?.into_iter().find(|p| p.id == peer))
    }

    /// `ping`: the round trip to `to` over its current path.
    pub fn ping(&self, to: PeerId) -> Result<PingOutcome, ClientError> {
        self.ask(Command::Ping { to }, |r| match r {
            Response::Pong(p) => Ok(p),
            other => Err(Box::new(other)),
        })
    }
}

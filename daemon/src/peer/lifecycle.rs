//! The one shutdown path. SIGINT, SIGTERM and `peerctl stop` all send
//! [`Stop`] to the [`Lifecycle`] actor, which stops the daemon in order:
//! every control session hears it (new requests get `shutting_down`), the
//! outbox refuses new messages, the registry link unregisters (the
//! peer leaves LIST at once; at most [`UNREGISTER_WAIT`] for a server that
//! does not answer), followers get `closing`, the `stop` caller gets its
//! answer, and only then does the actor system stop. Each actor cleans up
//! after itself in `stopping`/`stopped` (the control listener removes its
//! socket file).

use std::time::Duration;

use actix::prelude::*;
use tokio::sync::{oneshot, watch};

use super::inbox::{CloseFollowers, Inbox};
use super::outbox::{Outbox, Stopping};
use super::registry_link::{RegistryLink, Unregister};

/// Longest wait for the server's UNREGISTER_ACK.
const UNREGISTER_WAIT: Duration = Duration::from_secs(2);
/// Longest wait for the `stop` caller's answer to be written.
const ANSWER_WAIT: Duration = Duration::from_secs(1);

/// Stop the daemon. `answer`, from a `stop` request, is given a sender to
/// signal once the answer is written; the system stops after that.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop {
    pub why: &'static str,
    pub answer: Option<oneshot::Sender<oneshot::Sender<()>>>,
}

/// The actor that stops the daemon.
pub struct Lifecycle {
    link: Addr<RegistryLink>,
    outbox: Addr<Outbox>,
    inbox: Addr<Inbox>,
    /// Tells the control sessions that shutdown began.
    announce: watch::Sender<bool>,
}

impl Lifecycle {
    /// Stops these actors when told to; the sessions listen on the returned
    /// receiver (it turns `true` when shutdown begins).
    pub fn new(
        link: Addr<RegistryLink>,
        outbox: Addr<Outbox>,
        inbox: Addr<Inbox>,
    ) -> (Self, watch::Receiver<bool>) {
        let (announce, stopping) = watch::channel(false);
        let lifecycle = Self {
            link,
            outbox,
            inbox,
            announce,
        };
        (lifecycle, stopping)
    }
}

impl Actor for Lifecycle {
    type Context = Context<Self>;

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        System::current().stop();
    }
}

/// Lets the `stop` caller write its answer; resolves once it has (or
/// [`ANSWER_WAIT`] passed, or there is none).
async fn answer(caller: Option<oneshot::Sender<oneshot::Sender<()>>>) {
    let Some(caller) = caller else {
        return;
    };
    let (written, done) = oneshot::channel();
    if caller.send(written).is_ok() {
        let _ = tokio::time::timeout(ANSWER_WAIT, done).await;
    }
}

impl Handler<Stop> for Lifecycle {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, stop: Stop, _ctx: &mut Self::Context) -> Self::Result {
        if *self.announce.borrow() {
            // Already on the way: just answer.
            return Box::pin(fut::wrap_future(answer(stop.answer)));
        }
        self.announce.send_replace(true);
        tracing::info!("stopping ({}): unregistering", stop.why);
        crate::notify::stopping("stopping: unregistering");
        self.outbox.do_send(Stopping);
        let (link, inbox) = (self.link.clone(), self.inbox.clone());
        let sequence = async move {
            let _ = tokio::time::timeout(UNREGISTER_WAIT, link.send(Unregister)).await;
            let _ = inbox.send(CloseFollowers).await;
            answer(stop.answer).await;
        };
        Box::pin(fut::wrap_future(sequence).map(|(), _act: &mut Self, ctx| ctx.stop()))
    }
}

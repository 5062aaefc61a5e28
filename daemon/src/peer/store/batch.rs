//! How an actor writes without one future per message: its writes wait in
//! a [`Batch`] while the previous ones are with the store thread, then go
//! as one job; when that job's transaction commits, the actor gets all the
//! results in one call ([`Writer::committed`]) and answers its callers.
//! So a burst of sends costs one actor future per commit, however many
//! messages it carries (the profile in benches/RESULTS.md showed the
//! sending daemon's thread saturated by one future per queued message).

use actix::prelude::*;

use super::{Store, StoreError, StoreHandle};

/// Most writes sent to the store thread in one job.
pub const MAX_WRITES: usize = 4096;

/// One change an actor makes to the store.
pub trait Write: Send + 'static {
    type Output: Send + 'static;
    /// Runs on the store thread, inside the batch's transaction.
    fn apply(&self, store: &mut Store) -> Result<Self::Output, StoreError>;
}

/// Each write's committed result (its own error, or the job's), with what
/// to do next.
pub type Done<W, T> = Vec<(Result<<W as Write>::Output, StoreError>, T)>;

/// Writes waiting for the store, each with what to do once it is committed.
pub struct Batch<W, T> {
    store: StoreHandle,
    waiting: Vec<(W, T)>,
    in_flight: bool,
}

impl<W, T> Batch<W, T> {
    /// Nothing waiting yet; jobs go to `store`.
    pub fn new(store: StoreHandle) -> Self {
        Self {
            store,
            waiting: Vec::new(),
            in_flight: false,
        }
    }

    /// The store the writes go to.
    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    /// Adds a write; `then` comes back with its result.
    pub fn push(&mut self, write: W, then: T) {
        self.waiting.push((write, then));
    }

    /// The next job, unless one is with the store thread or none waits.
    fn take(&mut self) -> Option<(Vec<W>, Vec<T>)> {
        if self.in_flight || self.waiting.is_empty() {
            return None;
        }
        self.in_flight = true;
        let n = self.waiting.len().min(MAX_WRITES);
        Some(self.waiting.drain(..n).unzip())
    }
}

/// An actor that writes through a [`Batch`].
pub trait Writer: Actor<Context = Context<Self>> {
    type Write: Write;
    type Then: 'static;
    fn batch(&mut self) -> &mut Batch<Self::Write, Self::Then>;
    /// A job's transaction has committed (or failed): one call per job.
    fn committed(&mut self, done: Done<Self::Write, Self::Then>, ctx: &mut Context<Self>);
}

/// Sends the waiting writes as one job, unless one is out already (its
/// completion sends the next).
pub fn flush<A: Writer>(act: &mut A, ctx: &mut Context<A>) {
    let Some((writes, then)) = act.batch().take() else {
        return;
    };
    let store = act.batch().store.clone();
    let job = async move {
        store
            .call(move |s| Ok(writes.iter().map(|w| w.apply(s)).collect::<Vec<_>>()))
            .await
    };
    ctx.spawn(job.into_actor(act).map(move |results, act, ctx| {
        act.batch().in_flight = false;
        let each = match results {
            Ok(each) => each,
            Err(e) => then.iter().map(|_| Err(e.clone())).collect(),
        };
        act.committed(each.into_iter().zip(then).collect(), ctx);
        flush(act, ctx);
    }));
}

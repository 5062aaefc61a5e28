//! The actors' side of time: [`now`] reads both clocks into the [`Now`]
//! every core input carries, and an [`Alarm`] is the one actix timer an
//! actor keeps for its core's earliest deadline (`poll_timeout`). It is
//! moved earlier when the core needs it sooner and left alone otherwise:
//! a wake-up with nothing due just arms the next one.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix::{Actor, AsyncContext, Context, SpawnHandle};

use super::core::clock::Now;

/// Both clocks, now.
pub fn now() -> Now {
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Now {
        at: Instant::now(),
        unix_ms,
    }
}

/// One pending wake-up of an actor.
#[derive(Default)]
pub struct Alarm {
    armed: Option<(Instant, SpawnHandle)>,
}

impl Alarm {
    /// Makes sure `fire` runs at `at` or earlier.
    pub fn set<A>(
        &mut self,
        ctx: &mut Context<A>,
        at: Option<Instant>,
        fire: fn(&mut A, &mut Context<A>),
    ) where
        A: Actor<Context = Context<A>>,
    {
        let Some(at) = at else {
            return;
        };
        if self.armed.as_ref().is_some_and(|(armed, _)| *armed <= at) {
            return;
        }
        if let Some((_, handle)) = self.armed.take() {
            ctx.cancel_future(handle);
        }
        let delay = at.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(delay, fire);
        self.armed = Some((at, handle));
    }

    /// The wake-up happened (call first thing in `fire`).
    pub fn rang(&mut self) {
        self.armed = None;
    }
}

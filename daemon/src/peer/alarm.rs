//! The actors' side of time: [`now`] reads both clocks into the [`Now`]
//! every core input carries, and an [`Alarm`] is the one actix timer an
//! actor keeps for its core's earliest deadline (`poll_timeout`). It is
//! moved earlier when the core needs it sooner and left alone otherwise:
//! a wake-up with nothing due just arms the next one.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix::{Actor, AsyncContext, Context, SpawnHandle};

use super::core::clock::{Deadlines, Now};

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

/// An actor driving a core with timers: it carries out what the core
/// returns after every input, then [`rearm`]s its alarm for the core's next
/// deadline; when the alarm rings, the core is told the time and what it
/// returns is carried out the same way.
pub trait Driven: Actor<Context = Context<Self>> {
    /// The core and the actor's alarm for it.
    fn timed(&mut self) -> (&mut dyn Deadlines, &mut Alarm);

    /// Carries out what the core asked for; ends with [`rearm`].
    fn carry_out(&mut self, ctx: &mut Context<Self>);
}

/// Sets `actor`'s alarm for its core's next deadline.
pub fn rearm<A: Driven>(actor: &mut A, ctx: &mut Context<A>) {
    let (core, alarm) = actor.timed();
    let at = core.poll_timeout();
    alarm.set(ctx, at, wake::<A>);
}

fn wake<A: Driven>(actor: &mut A, ctx: &mut Context<A>) {
    let (core, alarm) = actor.timed();
    alarm.rang();
    core.handle_timeout(now());
    actor.carry_out(ctx);
}

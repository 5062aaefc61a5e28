//! `peerctl inbox --follow`: the latest stored messages (10 by default),
//! then every new one as it arrives, like `tail -F`: when the daemon stops
//! or restarts, say so on stderr, wait for it to come back and go on from
//! the last message shown, without a gap or a repeat, until interrupted.
//!
//! Going on after a reconnection uses `since_ms` (the time of the last
//! message shown); a daemon that does not know that field replays its
//! whole inbox and the follower skips what it has shown.

use std::collections::HashSet;
use std::time::Duration;

use peerd_shared::control::history::{is_unsupported, HistoryCommand};
use peerd_shared::control::{Command, ErrorKind, Event, InboxEntry};
use peerd_shared::{MsgId, PeerId};

use crate::cli::{Selection, DEFAULT_FOLLOW};
use crate::client::{Client, ClientError, Follower};
use crate::commands::Ctx;
use crate::failure::{emit, note, Failure};
use crate::history::{keep_last, shown, since_ms};
use crate::output::{event_line, json_line, View};
use crate::when::now_ms;

/// How often a follower tries to reach a daemon that went away.
const RECONNECT: Duration = Duration::from_millis(200);

/// Where the stream stands: the receive time of the newest message shown
/// and the messages shown with exactly that time (to skip them when a
/// replay starts there again).
#[derive(Debug, Clone, Default)]
struct Cursor {
    ms: u64,
    at_ms: HashSet<(PeerId, MsgId)>,
}

impl Cursor {
    fn is_new(&self, m: &InboxEntry) -> bool {
        m.received_ms > self.ms
            || (m.received_ms == self.ms && !self.at_ms.contains(&(m.from, m.msg)))
    }

    /// Records a message shown (a replay is not in time order).
    fn shown(&mut self, m: &InboxEntry) {
        if m.received_ms > self.ms {
            self.ms = m.received_ms;
            self.at_ms.clear();
        }
        if m.received_ms == self.ms {
            self.at_ms.insert((m.from, m.msg));
        }
    }
}

/// How one follow connection ended.
enum End {
    /// The daemon stopped (`closing`) or the connection broke.
    Lost,
    /// The daemon cut this follower off (`overflow`).
    Behind,
    /// Nobody reads stdout any more (e.g. `| head`).
    StdoutGone,
    /// The socket answered but the daemon is stopping: dial again.
    Stopping,
}

/// Runs `inbox --follow`.
pub async fn run(ctx: &Ctx, from: Option<PeerId>, select: &Selection) -> Result<(), Failure> {
    let view = ctx.view(select.full);
    let mut follower = Stream {
        ctx,
        view,
        from,
        cursor: None,
        away: false,
    };
    // The first connection: not running is an error, as for every command.
    let client = ctx.connect().await?;
    let first = (shown(select, DEFAULT_FOLLOW), since_ms(ctx, select)?);
    let mut end = follower.follow(client, first.0, first.1, None).await?;
    loop {
        match end {
            End::StdoutGone => return Ok(()),
            End::Lost => note("peerd went away; waiting for it to come back (Ctrl-C to quit)"),
            End::Behind => note("this follower fell behind and peerd cut it off; catching up"),
            End::Stopping => tokio::time::sleep(RECONNECT).await,
        }
        follower.away = true;
        let client = reconnect(ctx).await?;
        // Go on from the newest message shown, skipping it and its twins
        // (or start again when the first replay did not finish).
        end = match follower.cursor.clone() {
            Some(skip) => {
                let since = Some(skip.ms);
                follower.follow(client, None, since, Some(skip)).await?
            }
            None => follower.follow(client, first.0, first.1, None).await?,
        };
    }
}

/// Dials the socket until a daemon answers.
async fn reconnect(ctx: &Ctx) -> Result<Client, Failure> {
    loop {
        match ctx.connect().await {
            Ok(client) => return Ok(client),
            Err(e) if e.is_not_running() => tokio::time::sleep(RECONNECT).await,
            Err(e) => return Err(e.into()),
        }
    }
}

struct Stream<'a> {
    ctx: &'a Ctx,
    view: View,
    from: Option<PeerId>,
    /// The newest message shown; `None` until the first replay is over
    /// (then at least the time of that `live`).
    cursor: Option<Cursor>,
    /// The daemon went away: say when it is back.
    away: bool,
}

impl Stream<'_> {
    /// One follow connection: the request (with `since_ms` when given,
    /// falling back to a full replay filtered here), then its events;
    /// messages `skip` says were shown already are not shown again.
    async fn follow(
        &mut self,
        client: Client,
        limit: Option<u32>,
        since: Option<u64>,
        skip: Option<Cursor>,
    ) -> Result<End, Failure> {
        let from = self.from;
        let (stream, filter) = match since {
            None => (client.follow(from, limit).await, None),
            Some(since_ms) => {
                let with_since = HistoryCommand::Follow {
                    from,
                    limit,
                    since_ms: Some(since_ms),
                };
                match client.follow_with(&with_since).await {
                    Err(ClientError::Daemon(e)) if is_unsupported(&e, &with_since) => {
                        // This connection is spent on the refusal: dial again.
                        let client = self.ctx.connect().await?;
                        let all = Command::Follow { from, limit: None };
                        (client.follow_with(all).await, Some((since_ms, limit)))
                    }
                    other => (other, None),
                }
            }
        };
        match stream {
            Ok(stream) => {
                if std::mem::take(&mut self.away) {
                    note("peerd is back; following again");
                }
                self.pump(stream, filter, skip.as_ref()).await
            }
            Err(ClientError::Daemon(e)) if e.code == ErrorKind::ShuttingDown => Ok(End::Stopping),
            Err(e) if e.is_lost() || e.is_not_running() => Ok(End::Lost),
            Err(e) => Err(e.into()),
        }
    }

    /// Prints the events of one connection. With `filter` (a full replay
    /// from a daemon without `since_ms`), the replay is held back until
    /// `live` and only the messages since then, the newest `limit`, shown.
    async fn pump(
        &mut self,
        mut stream: Follower,
        filter: Option<(u64, Option<u32>)>,
        skip: Option<&Cursor>,
    ) -> Result<End, Failure> {
        let mut held: Option<Vec<InboxEntry>> = filter.map(|_| Vec::new());
        loop {
            let event = match stream.next_event().await {
                Ok(Some(event)) => event,
                Ok(None) => return Ok(End::Lost),
                Err(e) if e.is_lost() => return Ok(End::Lost),
                Err(e) => return Err(e.into()),
            };
            match event {
                Event::Message { message } => {
                    if let Some(held) = held.as_mut() {
                        held.push(message);
                        continue;
                    }
                    if !self.show_message(message, skip) {
                        return Ok(End::StdoutGone);
                    }
                }
                Event::Live => {
                    if let (Some(mut replay), Some((since_ms, limit))) = (held.take(), filter) {
                        replay.retain(|m| m.received_ms >= since_ms);
                        keep_last(&mut replay, limit);
                        for m in replay {
                            if !self.show_message(m, skip) {
                                return Ok(End::StdoutGone);
                            }
                        }
                    }
                    if self.cursor.is_none() {
                        // Nothing shown yet: go on from now after a reconnection.
                        self.cursor = Some(Cursor {
                            ms: now_ms(),
                            at_ms: HashSet::new(),
                        });
                    }
                    if self.ctx.json && !emit(&json_line(&Event::Live)) {
                        return Ok(End::StdoutGone);
                    }
                }
                Event::Closing | Event::Overflow => {
                    if self.ctx.json && !emit(&json_line(&event)) {
                        return Ok(End::StdoutGone);
                    }
                    return Ok(match event {
                        Event::Overflow => End::Behind,
                        _ => End::Lost,
                    });
                }
            }
        }
    }

    /// Prints a message unless `skip` says it was shown before; false
    /// when stdout is gone.
    fn show_message(&mut self, message: InboxEntry, skip: Option<&Cursor>) -> bool {
        if skip.is_some_and(|c| !c.is_new(&message)) {
            return true;
        }
        let event = Event::Message { message };
        let printed = if self.ctx.json {
            emit(&json_line(&event))
        } else {
            event_line(&event, &self.view).is_none_or(|line| emit(&line))
        };
        if let Event::Message { message } = &event {
            self.cursor
                .get_or_insert_with(Cursor::default)
                .shown(message);
        }
        printed
    }
}

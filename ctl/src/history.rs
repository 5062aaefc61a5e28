//! `peerctl inbox` and `peerctl outbox`: which stored messages to show
//! (the latest 20 by default, `--limit N`, `--all`, `--since TIME`), and
//! `delete` / `prune`.
//!
//! `--since` is sent to the daemon as `since_ms` (`docs/control.md`). A
//! daemon that does not know that field yet answers `bad_request`; then
//! peerctl asks for the whole listing and selects the messages itself, so
//! `--since` works with either daemon.

use std::time::Duration;

use peerd_shared::control::history::{is_unsupported, HistoryCommand};
use peerd_shared::control::{Command, InboxEntry, OutboxEntry, Response};
use peerd_shared::PeerId;

use crate::cli::{InboxAction, InboxArgs, OutboxAction, OutboxArgs, Selection, DEFAULT_LIST};
use crate::client::{Client, ClientError};
use crate::commands::Ctx;
use crate::failure::{note, Failure};
use crate::EXIT_DAEMON_ERROR;

/// `inbox`, `inbox --follow`, `inbox delete`, `inbox prune`.
pub async fn inbox(ctx: &Ctx, args: InboxArgs) -> Result<(), Failure> {
    match args.action {
        Some(InboxAction::Delete { messages }) => {
            change(
                ctx,
                HistoryCommand::InboxDelete { messages },
                "inbox delete",
            )
            .await
        }
        Some(InboxAction::Prune { older_than }) => {
            let older_than_secs = secs(older_than);
            change(
                ctx,
                HistoryCommand::InboxPrune { older_than_secs },
                "inbox prune",
            )
            .await
        }
        None if args.follow => crate::follow::run(ctx, args.from, &args.select).await,
        None => list_inbox(ctx, args.from, &args.select).await,
    }
}

/// `outbox`, `outbox delete`, `outbox prune`.
pub async fn outbox(ctx: &Ctx, args: OutboxArgs) -> Result<(), Failure> {
    match args.action {
        Some(OutboxAction::Delete { msgs }) => {
            let msgs = msgs.into_iter().map(peerd_shared::MsgId).collect();
            change(ctx, HistoryCommand::OutboxDelete { msgs }, "outbox delete").await
        }
        Some(OutboxAction::Prune { older_than }) => {
            let older_than_secs = secs(older_than);
            change(
                ctx,
                HistoryCommand::OutboxPrune { older_than_secs },
                "outbox prune",
            )
            .await
        }
        None => list_outbox(ctx, &args.select).await,
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

/// How many messages to show: `--limit`, everything with `--all`, else
/// [`DEFAULT_LIST`].
pub fn shown(select: &Selection, default: u32) -> Option<u32> {
    match (select.all, select.limit) {
        (true, _) => None,
        (false, Some(n)) => Some(n),
        (false, None) => Some(default),
    }
}

/// `--since` in Unix milliseconds, in the zone times are shown in.
pub fn since_ms(ctx: &Ctx, select: &Selection) -> Result<Option<u64>, Failure> {
    let zone = crate::when::zone(ctx.utc);
    select
        .since
        .as_ref()
        .map(|s| s.unix_ms(jiff::Timestamp::now(), &zone))
        .transpose()
        .map_err(|e| Failure::usage("bad_request", format!("--since: {e}")))
}

/// People get one more message than shown asked for, to tell them when
/// older ones are left out; JSON gets exactly the selection.
fn ask(ctx: &Ctx, show: Option<u32>) -> Option<u32> {
    show.map(|n| if ctx.json { n } else { n.saturating_add(1) })
}

async fn list_inbox(ctx: &Ctx, from: Option<PeerId>, select: &Selection) -> Result<(), Failure> {
    let show = shown(select, DEFAULT_LIST);
    let limit = ask(ctx, show);
    let mut client = ctx.connect().await?;
    let since = since_ms(ctx, select)?;
    let mut messages = match since {
        None => inbox_of(
            client
                .request_within(Command::Inbox { from, limit }, ctx.limit)
                .await?,
        )?,
        Some(since_ms) => {
            let with_since = HistoryCommand::Inbox {
                from,
                limit,
                since_ms: Some(since_ms),
            };
            match client.request_within(&with_since, ctx.limit).await {
                Err(ClientError::Daemon(e)) if is_unsupported(&e, &with_since) => {
                    let all = Command::Inbox { from, limit: None };
                    let mut all = inbox_of(client.request_within(all, ctx.limit).await?)?;
                    all.retain(|m| m.received_ms >= since_ms);
                    keep_last(&mut all, limit);
                    all
                }
                other => inbox_of(other?)?,
            }
        }
    };
    let more = cut(&mut messages, show);
    ctx.print(&Response::Inbox { messages }, select.full);
    if more && !ctx.json {
        hint(show);
    }
    Ok(())
}

async fn list_outbox(ctx: &Ctx, select: &Selection) -> Result<(), Failure> {
    let show = shown(select, DEFAULT_LIST);
    let limit = ask(ctx, show);
    let mut client = ctx.connect().await?;
    let since = since_ms(ctx, select)?;
    let mut messages = match since {
        None => outbox_of(
            client
                .request_within(Command::Outbox { limit }, ctx.limit)
                .await?,
        )?,
        Some(since_ms) => {
            let with_since = HistoryCommand::Outbox {
                limit,
                since_ms: Some(since_ms),
            };
            match client.request_within(&with_since, ctx.limit).await {
                Err(ClientError::Daemon(e)) if is_unsupported(&e, &with_since) => {
                    let all = Command::Outbox { limit: None };
                    let mut all = outbox_of(client.request_within(all, ctx.limit).await?)?;
                    all.retain(|m| m.created_ms >= since_ms);
                    keep_last(&mut all, limit);
                    all
                }
                other => outbox_of(other?)?,
            }
        }
    };
    let more = cut(&mut messages, show);
    ctx.print(&Response::Outbox { messages }, select.full);
    if more && !ctx.json {
        hint(show);
    }
    Ok(())
}

fn inbox_of(response: Response) -> Result<Vec<InboxEntry>, Failure> {
    match response {
        Response::Inbox { messages } => Ok(messages),
        other => Err(unexpected(&other)),
    }
}

fn outbox_of(response: Response) -> Result<Vec<OutboxEntry>, Failure> {
    match response {
        Response::Outbox { messages } => Ok(messages),
        other => Err(unexpected(&other)),
    }
}

fn unexpected(response: &Response) -> Failure {
    Failure::from(ClientError::Protocol(format!(
        "unexpected reply {response:?}"
    )))
}

/// Keeps the newest (last) `limit` entries.
pub fn keep_last<T>(list: &mut Vec<T>, limit: Option<u32>) {
    if let Some(n) = limit {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if list.len() > n {
            list.drain(..list.len() - n);
        }
    }
}

/// Cuts the list to the `show` newest; true when it held more.
fn cut<T>(list: &mut Vec<T>, show: Option<u32>) -> bool {
    let before = list.len();
    keep_last(list, show);
    list.len() < before
}

fn hint(show: Option<u32>) {
    if let Some(n) = show {
        note(&format!(
            "(showing the latest {n}; older ones with --all, --limit N or --since TIME)"
        ));
    }
}

/// A delete or prune request and its count; a daemon that does not serve
/// it yet gets a clear error.
async fn change(ctx: &Ctx, command: HistoryCommand, what: &str) -> Result<(), Failure> {
    let mut client: Client = ctx.connect().await?;
    match client.request_within(&command, ctx.limit).await {
        Ok(response) => {
            ctx.print(&response, false);
            Ok(())
        }
        Err(ClientError::Daemon(e)) if is_unsupported(&e, &command) => Err(Failure::new(
            "unsupported",
            format!("this peerd does not support `{what}` yet; nothing was changed (update peerd)"),
            EXIT_DAEMON_ERROR,
        )),
        Err(e) => Err(e.into()),
    }
}

//! `peerctl send`: the text (from the arguments, or standard input for
//! `-`), the checks made before contacting the daemon (empty, too long,
//! `--ttl`), the request, and on a terminal a spinner saying what a
//! delivery that takes more than half a second is waiting for.
//!
//! The spinner reads the daemon's `peers` answer on a second connection
//! (the path state and its reason for the receiver) while the first one
//! waits for the acknowledgement. It is drawn on stderr only when stderr
//! is a terminal and `--json` is off, and is cleared before the outcome is
//! printed.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use peerd_shared::control::{Command, MsgStatus, PathWord, PeerPathInfo, Response};
use peerd_shared::PeerId;
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;

use crate::cli::SendArgs;
use crate::client::{refuse_text, Client, ClientError};
use crate::commands::Ctx;
use crate::failure::{note, Failure};
use crate::when::format_duration;
use crate::EXIT_TIMEOUT;

/// How long a send waits before the spinner shows.
const QUIET: Duration = Duration::from_millis(500);
/// How often the spinner asks the daemon for the path state.
const POLL: Duration = Duration::from_millis(250);
/// Most bytes read from standard input for `send ID -`.
const STDIN_MAX: u64 = 1 << 20;

/// Runs `send`.
pub async fn run(ctx: &Ctx, args: SendArgs) -> Result<(), Failure> {
    let text = text(&args.text).await?;
    if let Some((code, why)) = refuse_text(&text) {
        return Err(Failure::usage(code, format!("{why} (nothing was sent)")));
    }
    if args.ttl < Duration::from_secs(1) {
        return Err(Failure::usage("bad_request", "--ttl must be at least 1s"));
    }
    let wait = !args.no_wait;
    let command = Command::Send {
        to: args.id,
        text,
        ttl_secs: Some(args.ttl.as_secs()),
        wait,
    };
    let mut client = ctx.connect().await?;
    let spinner = (wait && !ctx.json && std::io::stderr().is_terminal())
        .then(|| Progress::start(&ctx.socket, args.id));
    let outcome = client.request_within(command, ctx.limit).await;
    if let Some(spinner) = spinner {
        spinner.stop();
    }
    let response = match outcome {
        Err(ClientError::Timeout(limit)) if wait => {
            return Err(Failure::new(
                "timeout",
                format!(
                    "no acknowledgement from {} within {}; a queued message stays queued \
                     and peerd keeps trying (see `peerctl outbox`)",
                    args.id,
                    format_duration(limit)
                ),
                EXIT_TIMEOUT,
            ))
        }
        other => other?,
    };
    ctx.print(&response, false);
    match response {
        // The sentence (or the result object) already says why.
        Response::Sent(o) if o.status == MsgStatus::Failed => Err(Failure::printed("expired")),
        _ => Ok(()),
    }
}

/// The text of `send`: the words joined with single spaces, or standard
/// input for a lone `-` (one final newline dropped).
async fn text(words: &[String]) -> Result<String, Failure> {
    if words != ["-"] {
        return Ok(words.join(" "));
    }
    if std::io::stdin().is_terminal() {
        note("reading the text from standard input; end it with Ctrl-D");
    }
    let mut bytes = Vec::new();
    tokio::io::stdin()
        .take(STDIN_MAX + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| Failure::usage("bad_request", format!("cannot read standard input: {e}")))?;
    if bytes.len() as u64 > STDIN_MAX {
        return Err(Failure::usage(
            "text_too_long",
            "standard input holds more than 1 MiB; a message holds at most 1000 bytes \
             (nothing was sent)",
        ));
    }
    let mut text = String::from_utf8(bytes)
        .map_err(|_| Failure::usage("bad_request", "standard input is not UTF-8 text"))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// The spinner of a waiting send (see the module documentation).
pub struct Progress {
    bar: ProgressBar,
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts watching the delivery to `to`; nothing shows for the first
    /// half second.
    pub fn start(socket: &Path, to: PeerId) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        let task = tokio::spawn(watch(socket.to_path_buf(), to, bar.clone()));
        Self { bar, task }
    }

    /// Stops and erases the spinner.
    pub fn stop(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

async fn watch(socket: std::path::PathBuf, to: PeerId, bar: ProgressBar) {
    tokio::time::sleep(QUIET).await;
    bar.set_message(format!("sending to {to}"));
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(100));
    let Ok(mut client) = Client::connect(&socket).await else {
        return;
    };
    loop {
        let answer = client
            .request_within(Command::Peers, Some(Duration::from_secs(2)))
            .await;
        match answer {
            Ok(Response::Paths { peers }) => {
                let entry = peers.iter().find(|p| p.id == to);
                bar.set_message(waiting_for(to, entry));
            }
            // An older or busy daemon: keep the last message.
            Ok(_) | Err(ClientError::Daemon(_)) | Err(ClientError::Timeout(_)) => {}
            Err(_) => return,
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What a delivery to `to` waits for, from its `peers` entry.
pub fn waiting_for(to: PeerId, entry: Option<&PeerPathInfo>) -> String {
    let Some(p) = entry else {
        return format!("looking up peer {to}");
    };
    let reason = p
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    match (p.state.as_str(), p.path) {
        ("connecting", _) => format!("looking up peer {to} with the server"),
        ("punching", PathWord::Relayed) => {
            format!("relaying through the server while punching a direct path to peer {to}")
        }
        ("punching", _) => format!("punching a direct path to peer {to}"),
        ("waiting", _) => format!("retrying peer {to} later{reason}"),
        (_, PathWord::Direct) => format!(
            "waiting for peer {to} to acknowledge (direct {})",
            p.addr.as_deref().unwrap_or("path")
        ),
        (_, PathWord::Relayed) => {
            format!("relaying through the server; waiting for peer {to} to acknowledge{reason}")
        }
        (_, PathWord::None) => format!("looking for a path to peer {to}{reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spinner_names_the_state() {
        let to = PeerId::new(2).expect("id");
        let mut p = PeerPathInfo {
            id: to,
            path: PathWord::None,
            addr: None,
            state: "connecting".into(),
            rtt_ms: None,
            last_seen_ms: None,
            reason: None,
            queued: 1,
        };
        assert_eq!(waiting_for(to, None), "looking up peer 2");
        assert_eq!(
            waiting_for(to, Some(&p)),
            "looking up peer 2 with the server"
        );
        p.state = "punching".into();
        assert_eq!(
            waiting_for(to, Some(&p)),
            "punching a direct path to peer 2"
        );
        p.state = "waiting".into();
        p.reason = Some("peer 2 is offline".into());
        assert_eq!(
            waiting_for(to, Some(&p)),
            "retrying peer 2 later (peer 2 is offline)"
        );
        p.state = "relayed".into();
        p.path = PathWord::Relayed;
        p.reason = Some("punch timed out after 3 s".into());
        assert!(waiting_for(to, Some(&p)).starts_with("relaying through the server"));
    }
}

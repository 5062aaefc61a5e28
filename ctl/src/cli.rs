//! peerctl's command line (clap derive), public so that other programs can
//! build on it: `peerctl::cli::Cli::command()` gives the `clap::Command`
//! for man pages (clap_mangen) or completion scripts (clap_complete, as
//! `peerctl completions SHELL` does).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use peerd_shared::control::history::MessageRef;
use peerd_shared::{MsgId, PeerId};

use crate::when::{parse_duration, parse_since, Since};

/// The exit statuses, shown after every command's help.
pub const EXIT_CODES: &str = "\
Exit status:
  0  success (also: a message queued for an offline peer; `stop` with no peerd running)
  1  the daemon answered with an error, or the connection to it failed
  2  usage error (bad arguments, an empty text or one over 1000 bytes)
  3  peerd is not running (no socket, or a stale one)
  4  no answer within --timeout (`id`: still no id; `send`: no acknowledgement yet)

With --json, stdout holds exactly one JSON object: the daemon's result
object, or {\"error\":{\"code\":..,\"message\":..}} (inbox --follow and
ping -c N print one object per line).";

/// Latest messages `inbox` and `outbox` show without `--limit` or `--all`.
pub const DEFAULT_LIST: u32 = 20;
/// Stored messages `inbox --follow` shows before following, without
/// `--limit` or `--all`.
pub const DEFAULT_FOLLOW: u32 = 10;

#[derive(Debug, Parser)]
#[command(
    name = "peerctl",
    version,
    about = "Control a running peerd daemon: your id, online peers, messages",
    long_about = "Control a running peerd daemon (`peerd start`) over its Unix control socket: \
                  show your id, list the other online peers, send messages and read your inbox.\n\n\
                  The socket is found like the daemon finds it: --socket (or PEERD_SOCKET, \
                  or `socket` in the config file), else DIR/peerd.sock for --data-dir DIR \
                  (or PEERD_DATA_DIR, or `data_dir` in the config file), else the user's \
                  runtime directory ($XDG_RUNTIME_DIR/peerd/peerd.sock).",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Control socket of the daemon.
    #[arg(long, global = true, env = "PEERD_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Data directory of the daemon; its socket is DIR/peerd.sock.
    #[arg(long, global = true, env = "PEERD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The daemon's config file, read for its `socket` and `data_dir` keys
    /// [default: ~/.config/peerd/config.toml].
    #[arg(long, global = true, env = "PEERD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print one JSON object (one per line for --follow) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Show times in UTC instead of the local time zone (TZ).
    #[arg(long, global = true)]
    pub utc: bool,
    /// How long to wait for the daemon (e.g. 10s, 1m, 1.5h; 0: no limit).
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s",
          value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(subcommand)]
    pub command: Cmd,
}

impl Cli {
    /// `--timeout` as a limit: `None` for `--timeout 0`.
    pub fn limit(&self) -> Option<Duration> {
        (!self.timeout.is_zero()).then_some(self.timeout)
    }
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Print this daemon's peer id (the original's MY ID); before the first
    /// registration, wait for it up to --timeout.
    #[command(after_help = EXIT_CODES)]
    Id,
    /// Show id, server, registration state, addresses, uptime and message counts.
    #[command(after_help = EXIT_CODES)]
    Status,
    /// List the other online peers: id and address (the original's LIST).
    #[command(after_help = EXIT_CODES)]
    List,
    /// Send a text message to a peer (the original's CONNECT).
    #[command(after_help = EXIT_CODES)]
    Send(SendArgs),
    /// Show the latest sent messages with their status and last error.
    #[command(after_help = EXIT_CODES)]
    Outbox(OutboxArgs),
    /// Show the latest received messages: sender, address, time and text.
    #[command(after_help = EXIT_CODES)]
    Inbox(InboxArgs),
    /// Unregister from the server and stop the daemon (the original's EXIT);
    /// with no daemon running, say so and succeed.
    #[command(after_help = EXIT_CODES)]
    Stop,
    /// Show how each known peer is reached: path (direct ADDR, relayed, none),
    /// round-trip time, last seen, and why a path is relayed or missing.
    #[command(after_help = EXIT_CODES)]
    Peers,
    /// Measure the round trip to a peer over its current path (direct or
    /// relayed); a peer without a path is looked up and punched first.
    #[command(after_help = EXIT_CODES)]
    Ping(PingArgs),
    /// Show a public key and its fingerprint: this daemon's own, or the one
    /// pinned for peer ID (and the key the server offers instead, if it
    /// changed).
    #[command(
        long_about = "Show a public key and its fingerprint. Without ID: this daemon's own key, \
                      its identity (give the fingerprint to whoever will `peerctl trust` you). \
                      With ID: the key pinned for that peer when the server first introduced \
                      it, and, if the server has since given another key for that id, the \
                      offered key: messages to and from the peer are refused until you check \
                      its fingerprint with the peer's owner and run `peerctl trust ID`.",
        after_help = EXIT_CODES
    )]
    Key {
        /// The peer's id; omit it for this daemon's own key.
        id: Option<PeerId>,
    },
    /// Accept the new key the server offers for peer ID (after its owner
    /// confirmed the fingerprint), so messages flow again.
    #[command(
        long_about = "Accept the new key the server offers for peer ID: pin it in place of the \
                      old one, so messages to and from the peer flow again. Check the \
                      fingerprint with the peer's owner first (`peerctl key ID` shows it) and \
                      give it as FINGERPRINT: then only that key is trusted, even if the \
                      offer changed meanwhile. A peer whose key did not change is left as it is.",
        after_help = EXIT_CODES
    )]
    Trust {
        /// The peer's id.
        id: PeerId,
        /// The fingerprint (or whole base64 key) you expect; nothing is
        /// trusted if the offered key is another.
        fingerprint: Option<String>,
    },
    /// The original menu (1.MY ID 2.LIST 3.CONNECT 4.EXIT), with line editing.
    #[command(
        long_about = "The original client's menu: 1.MY ID 2.LIST 3.CONNECT 4.EXIT, chosen by \
                      number or by name (id, list, send, exit; help shows the menu), with \
                      line editing and history on a terminal. Incoming messages are printed \
                      as they arrive and the prompt is drawn again below them. `send ID TEXT` \
                      sends at once; `send` alone asks for the id (again, until it is valid) \
                      and the text (refusing an empty one). exit leaves and asks whether to \
                      stop the daemon too (y: unregister and stop it, like the original's \
                      EXIT; anything else leaves it running). Ctrl-D leaves without stopping \
                      it; Ctrl-C clears the line. --json does not apply to the shell.",
        after_help = EXIT_CODES
    )]
    Shell,
    /// Print a completion script for SHELL on stdout, e.g.
    /// `peerctl completions bash > ~/.local/share/bash-completion/completions/peerctl`.
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Return once the daemon has queued the message, without waiting for delivery.
    #[arg(long)]
    pub no_wait: bool,
    /// How long the message may wait in the queue before it fails (e.g. 90s, 30m, 1.5h).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub ttl: Duration,
    /// The receiver's peer id.
    pub id: PeerId,
    /// The text: the words are joined with single spaces (at most 1000
    /// bytes), or `-` to read it from standard input. Options go before it:
    /// from its first word on everything is text, even words starting with `-`.
    #[arg(required = true, num_args = 1.., value_name = "TEXT",
          trailing_var_arg = true, allow_hyphen_values = true)]
    pub text: Vec<String>,
}

/// Which stored messages a listing shows.
#[derive(Debug, Args)]
pub struct Selection {
    /// Show only the newest N messages.
    #[arg(long, value_name = "N", conflicts_with = "all")]
    pub limit: Option<u32>,
    /// Show every stored message.
    #[arg(long)]
    pub all: bool,
    /// Only messages since TIME: a duration before now (1h, 2d), a date or
    /// date and time in the shown zone (2026-11-18, "2026-11-18 14:30", 14:30),
    /// or today / yesterday.
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    pub since: Option<Since>,
    /// Show whole texts instead of cutting them to the terminal's width.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub action: Option<OutboxAction>,
    #[command(flatten)]
    pub select: Selection,
}

#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Delete sent messages by their MSG number; a queued one is no longer sent.
    #[command(after_help = EXIT_CODES)]
    Delete {
        #[arg(required = true, value_name = "MSG")]
        msgs: Vec<u64>,
    },
    /// Delete the delivered and failed messages older than DURATION (queued
    /// ones stay until their --ttl).
    #[command(after_help = EXIT_CODES)]
    Prune {
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        older_than: Duration,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct InboxArgs {
    #[command(subcommand)]
    pub action: Option<InboxAction>,
    /// Show the latest 10 messages, then keep printing new ones as they
    /// arrive (like tail -f) until interrupted, across daemon restarts.
    #[arg(short, long)]
    pub follow: bool,
    /// Only messages from this peer.
    #[arg(long, value_name = "ID")]
    pub from: Option<PeerId>,
    #[command(flatten)]
    pub select: Selection,
}

#[derive(Debug, Subcommand)]
pub enum InboxAction {
    /// Delete received messages, each named FROM:MSG (the FROM and MSG columns).
    #[command(after_help = EXIT_CODES)]
    Delete {
        #[arg(required = true, value_name = "FROM:MSG", value_parser = parse_message_ref)]
        messages: Vec<MessageRef>,
    },
    /// Delete the received messages older than DURATION (e.g. 30d).
    #[command(after_help = EXIT_CODES)]
    Prune {
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        older_than: Duration,
    },
}

#[derive(Debug, Args)]
pub struct PingArgs {
    /// The peer's id.
    pub id: PeerId,
    /// Ping N times, then print a summary (Ctrl-C stops early).
    #[arg(short = 'c', long = "count", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Time between two pings.
    #[arg(short, long, value_name = "DURATION", default_value = "1s",
          value_parser = parse_duration)]
    pub interval: Duration,
}

/// Parses `FROM:MSG`, e.g. `2:17`.
pub fn parse_message_ref(s: &str) -> Result<MessageRef, String> {
    let (from, msg) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not FROM:MSG (e.g. 2:17)"))?;
    Ok(MessageRef {
        from: from.trim().parse().map_err(|e| format!("{s:?}: {e}"))?,
        msg: MsgId(
            msg.trim()
                .parse()
                .map_err(|_| format!("{s:?}: MSG must be a whole number"))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn texts_may_start_with_a_hyphen_and_options_come_first() {
        let cli = Cli::try_parse_from(["peerctl", "send", "--no-wait", "2", "-5", "degrees"])
            .expect("parse");
        let Cmd::Send(args) = cli.command else {
            panic!("not send")
        };
        assert!(args.no_wait);
        assert_eq!(args.text, ["-5", "degrees"]);
        let cli = Cli::try_parse_from(["peerctl", "send", "2", "hi", "--no-wait"]).expect("parse");
        let Cmd::Send(args) = cli.command else {
            panic!("not send")
        };
        assert!(!args.no_wait);
        assert_eq!(args.text, ["hi", "--no-wait"]);
        let cli = Cli::try_parse_from(["peerctl", "send", "2", "-"]).expect("parse");
        assert!(matches!(cli.command, Cmd::Send(a) if a.text == ["-"]));
    }

    #[test]
    fn timeout_zero_means_no_limit() {
        let cli = Cli::try_parse_from(["peerctl", "--timeout", "0", "id"]).expect("parse");
        assert_eq!(cli.limit(), None);
        let cli = Cli::try_parse_from(["peerctl", "--timeout", "1.5h", "id"]).expect("parse");
        assert_eq!(cli.limit(), Some(Duration::from_secs(5400)));
    }

    #[test]
    fn inbox_actions_and_listing_flags() {
        let cli =
            Cli::try_parse_from(["peerctl", "inbox", "delete", "2:17", "3:1"]).expect("parse");
        let Cmd::Inbox(InboxArgs {
            action: Some(InboxAction::Delete { messages }),
            ..
        }) = cli.command
        else {
            panic!("not inbox delete")
        };
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].msg, MsgId(17));
        assert!(Cli::try_parse_from(["peerctl", "inbox", "delete", "2"]).is_err());
        assert!(Cli::try_parse_from(["peerctl", "inbox", "--all", "--limit", "3"]).is_err());
        assert!(Cli::try_parse_from(["peerctl", "inbox", "--since", "1h", "-f"]).is_ok());
        assert!(Cli::try_parse_from(["peerctl", "outbox", "prune", "--older-than", "7d"]).is_ok());
    }
}

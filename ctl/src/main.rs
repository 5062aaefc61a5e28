//! `peerctl`: the control CLI of the peer daemon. This file parses the
//! command line (clap derive), finds the control socket the same way the
//! daemon does, runs one command through the `peerctl` library and turns the
//! outcome into output and a documented exit status.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use peerctl::client::{text_too_long, Client, ClientError};
use peerctl::output::{self, error_json, json_line};
use peerctl::{
    duration, exit_code, locate, shell, EXIT_DAEMON_ERROR, EXIT_NOT_RUNNING, EXIT_USAGE,
};
use peerd_shared::control::{Command, Event, MsgStatus, Response};
use peerd_shared::PeerId;

const EXIT_CODES: &str = "\
Exit status:
  0  success (also: a message queued for an offline peer)
  1  the daemon answered with an error, or the connection to it failed
  2  usage error (bad arguments, a text over 1000 bytes)
  3  peerd is not running (no socket, or a stale one)
  4  the daemon did not answer within --timeout

With --json, stdout holds exactly one JSON object: the daemon's result
object, or {\"error\":{\"code\":..,\"message\":..}} (inbox --follow prints one
event object per line).";

#[derive(Parser)]
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
struct Cli {
    /// Control socket of the daemon.
    #[arg(long, global = true, env = "PEERD_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Data directory of the daemon; its socket is DIR/peerd.sock.
    #[arg(long, global = true, env = "PEERD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The daemon's config file, read for its `socket` and `data_dir` keys
    /// [default: ~/.config/peerd/config.toml].
    #[arg(long, global = true, env = "PEERD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print one JSON object (one per line for --follow) instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// How long to wait for the daemon's answer (e.g. 10s, 1m).
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s",
          value_parser = duration::parse)]
    timeout: Duration,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print this daemon's peer id (the original's MY ID).
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
    /// Show queued, delivered and failed messages with their status and last error.
    #[command(after_help = EXIT_CODES)]
    Outbox {
        /// Show only the newest N messages.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Show received messages: sender, address, time and text.
    #[command(after_help = EXIT_CODES)]
    Inbox(InboxArgs),
    /// Unregister from the server and stop the daemon (the original's EXIT).
    #[command(after_help = EXIT_CODES)]
    Stop,
    /// Show how each known peer is reached: path (direct ADDR, relayed, none),
    /// round-trip time, last seen, and why a path is relayed or missing.
    #[command(after_help = EXIT_CODES)]
    Peers,
    /// Measure the round trip to a peer over its current path (direct or
    /// relayed); a peer without a path is looked up and punched first.
    #[command(after_help = EXIT_CODES)]
    Ping {
        /// The peer's id.
        id: PeerId,
    },
    /// The original numbered menu: 1.MY ID 2.LIST 3.CONNECT 4.EXIT.
    #[command(
        long_about = "The original client's numbered menu: 1.MY ID 2.LIST 3.CONNECT 4.EXIT, \
                      with incoming messages printed as they arrive. 4.EXIT leaves the menu \
                      and asks whether to stop the daemon too (y: unregister and stop it, \
                      like the original's EXIT; anything else leaves it running). End of \
                      input leaves the menu without stopping the daemon. --json does not \
                      apply to the shell.",
        after_help = EXIT_CODES
    )]
    Shell,
}

#[derive(Args)]
struct SendArgs {
    /// The receiver's peer id.
    id: PeerId,
    /// The text; several words are joined with single spaces (at most 1000 bytes).
    #[arg(required = true, num_args = 1.., value_name = "TEXT")]
    text: Vec<String>,
    /// Return once the daemon has queued the message, without waiting for delivery.
    #[arg(long)]
    no_wait: bool,
    /// How long the message may wait in the queue before it fails (e.g. 90s, 30m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = duration::parse)]
    ttl: Duration,
}

#[derive(Args)]
struct InboxArgs {
    /// Keep printing new messages as they arrive (like tail -f) until interrupted.
    #[arg(short, long)]
    follow: bool,
    /// Only messages from this peer.
    #[arg(long, value_name = "ID")]
    from: Option<PeerId>,
    /// Only the newest N messages (with --follow: of the history shown first).
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

/// How a command failed: what to print and the exit status.
struct Failure {
    code: String,
    message: String,
    status: u8,
    /// The outcome was already printed; only the exit status remains.
    printed: bool,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Self {
            code: e.code(),
            message: e.to_string(),
            status: exit_code(&e),
            printed: false,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("peerctl: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_DAEMON_ERROR);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            report(&f, json);
            ExitCode::from(f.status)
        }
    }
}

/// Writes one line to stdout; false when stdout is gone (a closed pipe),
/// which is not worth a panic.
fn emit(line: &str) -> bool {
    writeln!(std::io::stdout(), "{line}").is_ok()
}

/// Prints a failure: a JSON error object on stdout with `--json`, else one
/// line on stderr (the "not running" sentence exactly, without a prefix).
fn report(f: &Failure, json: bool) {
    if f.printed {
        return;
    }
    if json {
        emit(&error_json(&f.code, &f.message));
    } else if f.status == EXIT_NOT_RUNNING {
        let _ = writeln!(std::io::stderr(), "{}", f.message);
    } else {
        let _ = writeln!(std::io::stderr(), "error: {}", f.message);
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let socket = locate::socket_path(
        cli.socket.as_deref(),
        cli.data_dir.as_deref(),
        cli.config.as_deref(),
    );
    let timeout = cli.timeout;
    let command = match cli.command {
        Cmd::Id => Command::Id,
        Cmd::Status => Command::Status,
        Cmd::List => Command::List,
        Cmd::Outbox { limit } => Command::Outbox { limit },
        Cmd::Inbox(args) if args.follow => return follow(&socket, args, cli.json).await,
        Cmd::Inbox(InboxArgs { from, limit, .. }) => Command::Inbox { from, limit },
        Cmd::Send(args) => send_command(args)?,
        Cmd::Stop => Command::Stop,
        Cmd::Peers => Command::Peers,
        Cmd::Ping { id } => Command::Ping { to: id },
        Cmd::Shell => {
            let stdin = tokio::io::BufReader::new(tokio::io::stdin());
            return Ok(shell::run(&socket, stdin, timeout).await?);
        }
    };
    let stopping = matches!(command, Command::Stop);
    let waiting_for = match &command {
        Command::Send { to, wait: true, .. } => Some(*to),
        _ => None,
    };
    let mut client = Client::connect(&socket).await?;
    let response = match client.request_within(command, timeout).await {
        Err(ClientError::Timeout(limit)) if waiting_for.is_some() => {
            return Err(Failure {
                code: "timeout".into(),
                message: format!(
                    "no acknowledgement from {} within {}; a queued message stays queued \
                     and peerd keeps trying (see `peerctl outbox`)",
                    waiting_for.map_or_else(String::new, |id| id.to_string()),
                    duration::format(limit)
                ),
                status: peerctl::EXIT_TIMEOUT,
                printed: false,
            })
        }
        other => other?,
    };
    if cli.json {
        emit(&json_line(&response));
    } else {
        emit(&output::human(&response));
    }
    if stopping {
        // The daemon closes the connection once it has unregistered and exits.
        client.wait_closed(timeout).await;
    }
    match response {
        // The sentence (or the result object) already says why.
        Response::Sent(o) if o.status == MsgStatus::Failed => Err(Failure {
            code: "expired".into(),
            message: String::new(),
            status: EXIT_DAEMON_ERROR,
            printed: true,
        }),
        _ => Ok(()),
    }
}

/// Builds the `send` request, refusing a text over the limit before any
/// contact with the daemon.
fn send_command(args: SendArgs) -> Result<Command, Failure> {
    let text = args.text.join(" ");
    if let Some(why) = text_too_long(&text) {
        return Err(Failure {
            code: "text_too_long".into(),
            message: format!("{why} (nothing was sent)"),
            status: EXIT_USAGE,
            printed: false,
        });
    }
    if args.ttl < Duration::from_secs(1) {
        return Err(Failure {
            code: "bad_request".into(),
            message: "--ttl must be at least 1s".into(),
            status: EXIT_USAGE,
            printed: false,
        });
    }
    Ok(Command::Send {
        to: args.id,
        text,
        ttl_secs: Some(args.ttl.as_secs()),
        wait: !args.no_wait,
    })
}

/// `inbox --follow`: history, then new messages until the daemon closes.
async fn follow(socket: &std::path::Path, args: InboxArgs, json: bool) -> Result<(), Failure> {
    let client = Client::connect(socket).await?;
    let mut follower = client.follow(args.from, args.limit).await?;
    loop {
        match follower.next_event().await? {
            Some(event) => {
                if json {
                    if !emit(&json_line(&event)) {
                        return Ok(());
                    }
                } else if let Some(line) = output::event_line(&event) {
                    if !emit(&line) {
                        // Nobody reads any more (e.g. `| head`): stop like tail -f would.
                        return Ok(());
                    }
                }
                match event {
                    Event::Closing => return Ok(()),
                    Event::Overflow => {
                        return Err(Failure {
                            code: "overflow".into(),
                            message: "this follower fell too far behind and peerd ended the \
                                      stream; follow again (with --limit) to catch up"
                                .into(),
                            status: EXIT_DAEMON_ERROR,
                            printed: json,
                        })
                    }
                    Event::Message { .. } | Event::Live => {}
                }
            }
            None => return Err(ClientError::Closed.into()),
        }
    }
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
    fn client_errors_print_as_json_objects() {
        let f = Failure::from(ClientError::Timeout(Duration::from_secs(2)));
        assert_eq!(f.status, 4);
        assert_eq!(
            error_json(&f.code, &f.message),
            r#"{"error":{"code":"timeout","message":"peerd did not answer within 2s"}}"#
        );
    }
}

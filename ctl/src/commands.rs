//! What each `peerctl` command does, from the parsed command line to its
//! output: [`run`] dispatches; the commands with more to them live in
//! their own modules (`send`, `history`, `follow`, `ping`, `shell`).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::CommandFactory;
use peerd_shared::control::{Command, Response};
use tokio::time::Instant;

use crate::cli::{Cli, Cmd};
use crate::client::{Client, ClientError};
use crate::failure::{emit, note, Failure};
use crate::output::{self, json_line, View};
use crate::when::format_duration;
use crate::{locate, EXIT_TIMEOUT};

/// How often `id` asks again while the daemon has no id yet.
const ID_POLL: Duration = Duration::from_millis(100);

/// What every command needs from the global options.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The daemon's control socket.
    pub socket: PathBuf,
    /// `--json`.
    pub json: bool,
    /// `--utc`.
    pub utc: bool,
    /// `--timeout`; `None` for `--timeout 0` (no limit).
    pub limit: Option<Duration>,
}

impl Ctx {
    /// The layout of human output; `full` keeps long texts whole.
    pub fn view(&self, full: bool) -> View {
        View::new(self.utc, full)
    }

    /// `--timeout` as given (zero for no limit).
    pub fn timeout_given(&self) -> Duration {
        self.limit.unwrap_or_default()
    }

    /// Connects to the daemon.
    pub async fn connect(&self) -> Result<Client, ClientError> {
        Client::connect(&self.socket).await
    }

    /// Prints a successful reply: its JSON object, or its human form.
    /// Returns false when stdout is gone.
    pub fn print(&self, response: &Response, full: bool) -> bool {
        if self.json {
            emit(&json_line(&output::rounded(response.clone())))
        } else {
            emit(&output::human(response, &self.view(full)))
        }
    }
}

/// Runs the command of `cli`.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let ctx = Ctx {
        socket: locate::socket_path(
            cli.socket.as_deref(),
            cli.data_dir.as_deref(),
            cli.config.as_deref(),
        ),
        json: cli.json,
        utc: cli.utc,
        limit: cli.limit(),
    };
    match cli.command {
        Cmd::Id => id(&ctx).await,
        Cmd::Status => simple(&ctx, Command::Status).await,
        Cmd::List => simple(&ctx, Command::List).await,
        Cmd::Peers => simple(&ctx, Command::Peers).await,
        Cmd::Send(args) => crate::send::run(&ctx, args).await,
        Cmd::Outbox(args) => crate::history::outbox(&ctx, args).await,
        Cmd::Inbox(args) => crate::history::inbox(&ctx, args).await,
        Cmd::Stop => stop(&ctx).await,
        Cmd::Ping(args) => crate::ping::run(&ctx, args).await,
        Cmd::Key { id } => simple(&ctx, Command::Key { id }).await,
        Cmd::Trust { id, fingerprint } => simple(&ctx, Command::Trust { id, fingerprint }).await,
        Cmd::Shell => Ok(crate::shell::run(&ctx.socket, ctx.limit, ctx.view(true)).await?),
        Cmd::Completions { shell } => {
            completions(shell);
            Ok(())
        }
    }
}

/// One request, its reply printed.
async fn simple(ctx: &Ctx, command: Command) -> Result<(), Failure> {
    let mut client = ctx.connect().await?;
    let response = client.request_within(command, ctx.limit).await?;
    ctx.print(&response, false);
    Ok(())
}

/// `id`: the id once the daemon has one, asking again until `--timeout`.
async fn id(ctx: &Ctx) -> Result<(), Failure> {
    let mut client = ctx.connect().await?;
    let deadline = ctx.limit.map(|l| Instant::now() + l);
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let response = match client.request_within(Command::Id, left).await {
            // Name the limit the user gave, not what was left of it.
            Err(ClientError::Timeout(_)) => {
                return Err(ClientError::Timeout(ctx.timeout_given()).into())
            }
            other => other?,
        };
        if let Response::Id { id: Some(_), .. } = response {
            ctx.print(&response, false);
            return Ok(());
        }
        match deadline {
            Some(d) if Instant::now() + ID_POLL >= d => return Err(no_id(ctx, &mut client).await),
            _ => tokio::time::sleep(ID_POLL).await,
        }
    }
}

/// Why there is still no id, from `status`.
async fn no_id(ctx: &Ctx, client: &mut Client) -> Failure {
    let waited = ctx.limit.map(format_duration).unwrap_or_default();
    let why = match client
        .request_within(Command::Status, Some(Duration::from_secs(2)))
        .await
    {
        Ok(Response::Status(s)) => {
            let state = output::state_name(s.state);
            match s.reason {
                Some(reason) => format!(" with {} ({state}: {reason})", s.server),
                None => format!(" with {} ({state})", s.server),
            }
        }
        _ => String::new(),
    };
    Failure::new(
        "no_id",
        format!(
            "no id yet: peerd has not registered{why} within {waited}; \
             see `peerctl status`, or wait longer with --timeout"
        ),
        EXIT_TIMEOUT,
    )
}

/// `stop`: the daemon unregisters and exits; with none running, a note
/// and success (as `systemctl stop` does).
async fn stop(ctx: &Ctx) -> Result<(), Failure> {
    let mut client = match ctx.connect().await {
        Ok(client) => client,
        Err(e) if e.is_not_running() => {
            let why = match &e {
                ClientError::StaleSocket { path } => format!("stale socket at {}", path.display()),
                _ => format!("no socket at {}", ctx.socket.display()),
            };
            if ctx.json {
                emit(r#"{"kind":"stop","was_running":false}"#);
            }
            note(&format!("peerd is not running ({why}); nothing to stop"));
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let response = client.request_within(Command::Stop, ctx.limit).await?;
    ctx.print(&response, false);
    // The daemon closes the connection once it has unregistered and exits.
    client.wait_closed(ctx.limit).await;
    Ok(())
}

/// `completions SHELL`: the completion script on stdout (written whole
/// from a buffer: a closed pipe, as with `| head`, is no error).
fn completions(shell: clap_complete::Shell) {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "peerctl", &mut script);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&script).and_then(|()| out.flush());
}

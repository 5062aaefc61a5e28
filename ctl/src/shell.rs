//! `peerctl shell`: the original client's numbered menu (1.MY ID 2.LIST
//! 3.CONNECT 4.EXIT) on top of the daemon, with incoming messages printed as
//! they arrive by a follow connection in its own tokio task.
//!
//! 4.EXIT leaves the menu and asks whether to stop the daemon as well
//! (answer `y` to unregister and stop it, like the original's EXIT; anything
//! else leaves it running). End of input leaves without stopping it. The
//! shell is for people: `--json` does not change its output.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use peerd_shared::control::{Command, Event, Response, DEFAULT_TTL_SECS};
use peerd_shared::PeerId;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, Lines};
use tokio::sync::oneshot;

use crate::client::{text_too_long, Client, ClientError};
use crate::output;

const MENU: &str = "1. MY ID\n2. LIST\n3. CONNECT\n4. EXIT";

/// Runs the menu reading choices from `input` until EXIT, end of input, or
/// the daemon going away (an error). `timeout` bounds every request.
pub async fn run<R>(socket: &Path, input: R, timeout: Duration) -> Result<(), ClientError>
where
    R: AsyncBufRead + Unpin,
{
    let mut client = Client::connect(socket).await?;
    let follower = Client::connect(socket).await?.follow(None, Some(0)).await?;
    let (closed_tx, mut closed_rx) = oneshot::channel();
    let printer = tokio::spawn(print_incoming(follower, closed_tx));

    match client.request_within(Command::Id, timeout).await? {
        Response::Id { id: Some(id) } => say(&format!("peerd shell: my id is {id}")),
        _ => say("peerd shell: no id yet (peerd is still registering)"),
    }
    let mut lines = input.lines();
    let outcome = loop {
        say(MENU);
        prompt("choice> ");
        let line = tokio::select! {
            line = lines.next_line() => line?,
            _ = &mut closed_rx => break Err(ClientError::Closed),
        };
        let Some(line) = line else {
            say("end of input: leaving the shell; peerd keeps running");
            break Ok(());
        };
        match line.trim() {
            "1" => my_id(&mut client, timeout).await?,
            "2" => list(&mut client, timeout).await?,
            "3" => connect(&mut client, &mut lines, timeout).await?,
            "4" => {
                exit(&mut client, &mut lines, timeout).await?;
                break Ok(());
            }
            "" => {}
            other => say(&format!("unknown choice {other:?}: enter 1, 2, 3 or 4")),
        }
    };
    printer.abort();
    outcome
}

/// Prints every new message until the daemon closes the follow connection.
async fn print_incoming(mut follower: crate::client::Follower, closed: oneshot::Sender<()>) {
    loop {
        match follower.next_event().await {
            Ok(Some(event @ Event::Message { .. })) => {
                if let Some(line) = output::event_line(&event) {
                    say(&format!("\n{line}"));
                }
            }
            Ok(Some(Event::Live)) => {}
            Ok(Some(Event::Closing)) | Ok(None) => {
                say("\npeerd closed the connection");
                break;
            }
            Ok(Some(Event::Overflow)) => {
                say("\nincoming messages fell too far behind; see `peerctl inbox`");
                break;
            }
            Err(e) => {
                say(&format!("\nerror: {e}"));
                break;
            }
        }
    }
    let _ = closed.send(());
}

async fn my_id(client: &mut Client, timeout: Duration) -> Result<(), ClientError> {
    match client.request_within(Command::Id, timeout).await {
        Ok(Response::Id { id: Some(id) }) => say(&format!("my id: {id}")),
        Ok(other) => say(&output::human(&other)),
        Err(e) => recoverable(e)?,
    }
    Ok(())
}

async fn list(client: &mut Client, timeout: Duration) -> Result<(), ClientError> {
    show(client, Command::List, timeout).await
}

/// Sends `cmd` and prints the answer; daemon errors are shown and the menu
/// goes on (see [`recoverable`]).
async fn show(client: &mut Client, cmd: Command, timeout: Duration) -> Result<(), ClientError> {
    match client.request_within(cmd, timeout).await {
        Ok(resp) => say(&output::human(&resp)),
        Err(e) => recoverable(e)?,
    }
    Ok(())
}

async fn connect<R>(
    client: &mut Client,
    lines: &mut Lines<R>,
    timeout: Duration,
) -> Result<(), ClientError>
where
    R: AsyncBufRead + Unpin,
{
    prompt("peer id> ");
    let Some(id) = lines.next_line().await? else {
        return Ok(());
    };
    let to = match id.trim().parse::<PeerId>() {
        Ok(to) => to,
        Err(e) => {
            say(&format!("error: {e}"));
            return Ok(());
        }
    };
    prompt("message> ");
    let Some(text) = lines.next_line().await? else {
        return Ok(());
    };
    if let Some(why) = text_too_long(&text) {
        say(&format!("error: {why}"));
        return Ok(());
    }
    let send = Command::Send {
        to,
        text,
        ttl_secs: Some(DEFAULT_TTL_SECS),
        wait: true,
    };
    show(client, send, timeout).await
}

async fn exit<R>(
    client: &mut Client,
    lines: &mut Lines<R>,
    timeout: Duration,
) -> Result<(), ClientError>
where
    R: AsyncBufRead + Unpin,
{
    prompt("stop peerd too (unregister from the server, like the original EXIT)? [y/N] ");
    let answer = lines.next_line().await?.unwrap_or_default();
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        let resp = client.request_within(Command::Stop, timeout).await?;
        say(&output::human(&resp));
    } else {
        say("leaving the shell; peerd keeps running (`peerctl stop` stops it)");
    }
    Ok(())
}

/// Daemon errors (unknown peer, ...) are shown and the menu goes on; a lost
/// connection or a timeout ends the shell.
fn recoverable(e: ClientError) -> Result<(), ClientError> {
    match e {
        ClientError::Daemon(_) => {
            say(&format!("error: {e}"));
            Ok(())
        }
        other => Err(other),
    }
}

fn say(text: &str) {
    let _ = writeln!(std::io::stdout(), "{text}");
}

fn prompt(text: &str) {
    let mut out = std::io::stdout();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

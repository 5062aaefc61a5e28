//! `peerctl shell`: the original client's menu (1.MY ID 2.LIST 3.CONNECT
//! 4.EXIT) on top of the daemon. A choice is a number or a name (`id`,
//! `list`, `send`, `exit`, `help`); `send ID TEXT` sends at once. Incoming
//! messages are printed as they arrive, by a follow connection in its own
//! task; on a terminal the prompt is drawn again below them ([`line`]).
//!
//! `send` asks for the peer id until it is a valid one and for the text
//! until it is neither empty nor too long (an empty id, Ctrl-C or Ctrl-D
//! gives up). `exit` leaves the menu and asks whether to stop the daemon
//! as well (`y` unregisters and stops it, like the original's EXIT;
//! anything else leaves it running). End of input leaves without stopping
//! it. The shell is for people: `--json` does not change its output.

mod line;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use peerd_shared::control::{Command, Event, Response, DEFAULT_TTL_SECS};
use peerd_shared::PeerId;
use tokio::sync::oneshot;

use crate::client::{refuse_text, Client, ClientError, Follower};
use crate::output::{self, View};
use crate::send::Progress;
use line::{say, Input, Printer, Read};

const MENU: &str = "1. MY ID\n2. LIST\n3. CONNECT\n4. EXIT\n\
                    (a number or a name: id, list, send [ID [TEXT]], exit; help shows this menu)";

/// Runs the shell until `exit`, end of input, or the daemon going away (an
/// error). `timeout` bounds every request (`None`: no limit).
pub async fn run(socket: &Path, timeout: Option<Duration>, view: View) -> Result<(), ClientError> {
    let client = Client::connect(socket).await?;
    let follower = Client::connect(socket).await?.follow(None, Some(0)).await?;
    let (input, printer) = Input::start();
    let (closed_tx, mut closed_rx) = oneshot::channel();
    let gone = Arc::new(AtomicBool::new(false));
    let incoming = tokio::spawn(print_incoming(
        follower,
        printer,
        view.clone(),
        input.editing,
        (closed_tx, gone.clone()),
    ));
    let mut shell = Shell {
        client,
        input,
        socket,
        timeout,
        view,
    };
    match shell.client.request_within(Command::Id, timeout).await? {
        Response::Id { id: Some(id), .. } => say(&format!("peerd shell: my id is {id}")),
        _ => say("peerd shell: no id yet (peerd is still registering)"),
    }
    say(MENU);
    let outcome = loop {
        let read = if shell.input.editing {
            // The editor cannot be interrupted: a daemon that went away is
            // noticed at the next command.
            shell.input.read("choice> ", true).await
        } else {
            tokio::select! {
                read = shell.input.read("choice> ", true) => read,
                _ = &mut closed_rx => break Err(ClientError::Closed),
            }
        };
        let line = match read {
            Read::Line(line) => line,
            Read::Interrupted => continue,
            Read::Eof => {
                say("end of input: leaving the shell; peerd keeps running");
                break Ok(());
            }
        };
        match shell.choice(&line).await {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
        if gone.load(Ordering::Relaxed) {
            break Err(ClientError::Closed);
        }
    };
    incoming.abort();
    outcome
}

struct Shell<'a> {
    client: Client,
    input: Input,
    socket: &'a Path,
    timeout: Option<Duration>,
    view: View,
}

impl Shell<'_> {
    /// Runs one menu choice; false when the shell is to end.
    async fn choice(&mut self, line: &str) -> Result<bool, ClientError> {
        let mut words = line.trim().splitn(2, char::is_whitespace);
        let word = words.next().unwrap_or_default().to_lowercase();
        let rest = words.next().unwrap_or_default().trim();
        match word.as_str() {
            "" => {}
            "1" | "id" | "myid" => self.my_id().await?,
            "2" | "list" => self.show(Command::List).await?,
            "3" | "send" | "connect" => self.send(rest).await?,
            "4" | "exit" | "quit" => {
                self.exit().await?;
                return Ok(false);
            }
            "help" | "?" | "menu" => say(MENU),
            _ => say(&format!(
                "unknown choice {:?}: enter 1, 2, 3 or 4, or id, list, send, exit, help",
                line.trim()
            )),
        }
        Ok(true)
    }

    async fn my_id(&mut self) -> Result<(), ClientError> {
        match self.client.request_within(Command::Id, self.timeout).await {
            Ok(Response::Id { id: Some(id), .. }) => say(&format!("my id: {id}")),
            Ok(other) => say(&output::human(&other, &self.view)),
            Err(e) => recoverable(e)?,
        }
        Ok(())
    }

    /// Sends `cmd` and prints the answer; daemon errors are shown and the
    /// menu goes on (see [`recoverable`]).
    async fn show(&mut self, cmd: Command) -> Result<(), ClientError> {
        match self.client.request_within(cmd, self.timeout).await {
            Ok(resp) => say(&output::human(&resp, &self.view)),
            Err(e) => recoverable(e)?,
        }
        Ok(())
    }

    /// `send [ID [TEXT]]`: asks for what is missing, then sends and waits.
    async fn send(&mut self, args: &str) -> Result<(), ClientError> {
        let (id, text) = match args.split_once(char::is_whitespace) {
            Some((id, text)) => (id, text.trim()),
            None => (args, ""),
        };
        let mut id = id.to_string();
        let to = loop {
            if id.is_empty() {
                match self.input.read("peer id> ", false).await {
                    Read::Line(line) if !line.trim().is_empty() => id = line,
                    _ => {
                        say("no peer id: nothing was sent");
                        return Ok(());
                    }
                }
            }
            match id.trim().parse::<PeerId>() {
                Ok(to) => break to,
                Err(e) => {
                    say(&format!("error: {e}; try again (an empty id gives up)"));
                    id.clear();
                }
            }
        };
        let mut text = text.to_string();
        loop {
            if text.is_empty() {
                match self.input.read("message> ", false).await {
                    Read::Line(line) => text = line,
                    _ => {
                        say("nothing was sent");
                        return Ok(());
                    }
                }
            }
            match refuse_text(&text) {
                None => break,
                Some((_, why)) => {
                    say(&format!(
                        "error: {why}; type the message again (Ctrl-C gives up)"
                    ));
                    text.clear();
                }
            }
        }
        let send = Command::Send {
            to,
            text,
            ttl_secs: Some(DEFAULT_TTL_SECS),
            wait: true,
        };
        let spinner = self.input.editing.then(|| Progress::start(self.socket, to));
        let outcome = self.client.request_within(send, self.timeout).await;
        if let Some(spinner) = spinner {
            spinner.stop();
        }
        match outcome {
            Ok(resp) => say(&output::human(&resp, &self.view)),
            Err(e) => recoverable(e)?,
        }
        Ok(())
    }

    async fn exit(&mut self) -> Result<(), ClientError> {
        let prompt = "stop peerd too (unregister from the server, like the original EXIT)? [y/N] ";
        let answer = match self.input.read(prompt, false).await {
            Read::Line(line) => line,
            Read::Interrupted | Read::Eof => String::new(),
        };
        if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
            let resp = self
                .client
                .request_within(Command::Stop, self.timeout)
                .await?;
            say(&output::human(&resp, &self.view));
        } else {
            say("leaving the shell; peerd keeps running (`peerctl stop` stops it)");
        }
        Ok(())
    }
}

/// Prints every new message until the daemon closes the follow connection,
/// then says so and signals `closed`.
async fn print_incoming(
    mut follower: Follower,
    printer: Printer,
    view: View,
    editing: bool,
    (closed, gone): (oneshot::Sender<()>, Arc<AtomicBool>),
) {
    // Without an editor the prompt line is still open: start a new line.
    let lead = if editing { "" } else { "\n" };
    loop {
        match follower.next_event().await {
            Ok(Some(event @ Event::Message { .. })) => {
                if let Some(line) = output::event_line(&event, &view) {
                    printer.print(format!("{lead}{line}"));
                }
            }
            Ok(Some(Event::Live)) => {}
            Ok(Some(Event::Closing)) | Ok(None) => {
                printer.print(format!("{lead}peerd closed the connection"));
                break;
            }
            Ok(Some(Event::Overflow)) => {
                printer.print(format!(
                    "{lead}incoming messages fell too far behind; see `peerctl inbox`"
                ));
                break;
            }
            Err(e) => {
                printer.print(format!("{lead}error: {e}"));
                break;
            }
        }
    }
    gone.store(true, Ordering::Relaxed);
    let _ = closed.send(());
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

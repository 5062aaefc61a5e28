//! The shell's input and its printer of incoming messages.
//!
//! On a terminal (stdin and stdout both), lines are read with `rustyline`:
//! editing, history (Up/Down, for this session), Ctrl-C clearing the line;
//! an incoming message is printed above the prompt, which is then drawn
//! again with what was typed so far. Otherwise (a pipe, a file) lines are
//! read plainly and each prompt is printed on stdout.
//!
//! Reading blocks, so it runs on a thread of its own: [`Input::read`] hands
//! it a prompt and awaits the line. The thread is detached; a process that
//! ends while it waits for a line on a pipe just ends.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc;
use std::thread;

use rustyline::error::ReadlineError;
use rustyline::{Config, DefaultEditor, ExternalPrinter};
use tokio::sync::oneshot;

/// Entries of the session's history.
const HISTORY: usize = 500;

/// One read from the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// A line, without its newline.
    Line(String),
    /// Ctrl-C: the line was dropped.
    Interrupted,
    /// End of input (Ctrl-D), or the input failed.
    Eof,
}

/// One thing to read: the prompt, whether the line goes into the history,
/// and where the answer goes.
struct Ask {
    prompt: String,
    remember: bool,
    answer: oneshot::Sender<Read>,
}

/// The reading side of the shell.
pub struct Input {
    asks: mpsc::Sender<Ask>,
    /// Lines are edited on a terminal.
    pub editing: bool,
}

/// Prints lines while the user may be typing; cheap to clone.
#[derive(Clone)]
pub struct Printer {
    lines: mpsc::Sender<String>,
}

impl Printer {
    /// Prints `line` above the prompt (or on stdout when not editing).
    pub fn print(&self, line: String) {
        let _ = self.lines.send(line);
    }
}

impl Input {
    /// Starts the reading thread and the printing thread.
    pub fn start() -> (Self, Printer) {
        let editing = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        let editor = editing.then(editor).flatten();
        let editing = editor.is_some();
        let (asks, asked) = mpsc::channel::<Ask>();
        let (lines, to_print) = mpsc::channel::<String>();
        match editor {
            Some((mut editor, printer)) => {
                thread::spawn(move || print_lines(to_print, Some(printer)));
                thread::spawn(move || {
                    for ask in asked {
                        let read = match editor.readline(&ask.prompt) {
                            Ok(line) => {
                                if ask.remember && !line.trim().is_empty() {
                                    let _ = editor.add_history_entry(line.as_str());
                                }
                                Read::Line(line)
                            }
                            Err(ReadlineError::Interrupted) => Read::Interrupted,
                            Err(_) => Read::Eof,
                        };
                        let _ = ask.answer.send(read);
                    }
                });
            }
            None => {
                thread::spawn(move || print_lines(to_print, None));
                thread::spawn(move || {
                    let stdin = std::io::stdin();
                    for ask in asked {
                        say_inline(&ask.prompt);
                        let mut line = String::new();
                        let read = match stdin.lock().read_line(&mut line) {
                            Ok(0) | Err(_) => Read::Eof,
                            Ok(_) => {
                                let end = line.trim_end_matches(['\n', '\r']).len();
                                line.truncate(end);
                                Read::Line(line)
                            }
                        };
                        let _ = ask.answer.send(read);
                    }
                });
            }
        }
        (Self { asks, editing }, Printer { lines })
    }

    /// Shows `prompt` and waits for a line; `remember` puts it in the
    /// history.
    pub async fn read(&self, prompt: &str, remember: bool) -> Read {
        let (answer, answered) = oneshot::channel();
        let ask = Ask {
            prompt: prompt.into(),
            remember,
            answer,
        };
        if self.asks.send(ask).is_err() {
            return Read::Eof;
        }
        answered.await.unwrap_or(Read::Eof)
    }
}

type Editor = (DefaultEditor, Box<dyn ExternalPrinter + Send>);

/// A line editor for the terminal, and its printer; `None` when the
/// terminal cannot have one (e.g. TERM=dumb): then lines are read plainly.
fn editor() -> Option<Editor> {
    let config = Config::builder()
        .max_history_size(HISTORY)
        .ok()?
        .auto_add_history(false)
        .build();
    let mut editor = DefaultEditor::with_config(config).ok()?;
    let printer = editor.create_external_printer().ok()?;
    Some((editor, Box::new(printer)))
}

/// The printing thread: through the editor's printer when editing.
fn print_lines(
    lines: mpsc::Receiver<String>,
    mut printer: Option<Box<dyn ExternalPrinter + Send>>,
) {
    for line in lines {
        match printer.as_mut() {
            Some(p) => {
                if p.print(format!("{line}\n")).is_err() {
                    say(&line);
                }
            }
            None => say(&line),
        }
    }
}

/// One line on stdout.
pub fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}

/// Text without a newline (a prompt) on stdout.
fn say_inline(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

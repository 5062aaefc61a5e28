//! `peerd start --detach`: re-executes `peerd` in the background (its own
//! session, stdin and stdout closed, logging to `<data dir>/peerd.log`
//! through the rotating writer, mode 0600) and returns once the daemon is
//! registered with its server, printing its pid, control socket and log
//! file. A daemon that answers but is not registered within
//! [`REGISTER_WAIT`] is left running and reported with its state (exit 0:
//! it runs, and keeps trying); one that exits is reported with what it
//! logged (exit 1).
//!
//! Before starting anything the parent checks what would make the daemon
//! fail at once (a data dir open to others, another daemon on the same
//! data dir or socket), so those errors read the same as without
//! `--detach`.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use peerd_shared::control::{RegState, Status};

use super::args::Config;
use super::control::probe;
use super::error::PeerError;
use super::identity::private_data_dir;
use crate::private::FILE_MODE;

/// File name of the background daemon's log inside the data dir.
pub const LOG_FILE: &str = "peerd.log";
/// How long the parent waits for the daemon to answer on its socket.
const ANSWER_WAIT: Duration = Duration::from_secs(15);
/// How long the parent waits for the daemon to register once it answers.
pub const REGISTER_WAIT: Duration = Duration::from_secs(10);
/// How often the parent checks.
const POLL: Duration = Duration::from_millis(20);
/// Longest wait for one `status` answer.
const STATUS_WAIT: Duration = Duration::from_secs(2);

/// Starts the daemon in the background; the exit code of `peerd start --detach`.
pub fn detach(config: &Config) -> ExitCode {
    match spawn_and_wait(config) {
        Ok(status) => {
            println!("{}", summary(&status));
            println!("socket  {}", config.socket.display());
            println!("log     {}", config.data_dir.join(LOG_FILE).display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("peerd start: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The first line: the pid and the registration.
fn summary(status: &Status) -> String {
    let pid = status
        .pid
        .map_or_else(|| "pid unknown".to_owned(), |p| format!("pid {p}"));
    match (status.state, status.id) {
        (RegState::Registered, Some(id)) => format!(
            "peerd is running: {pid}, registered as id {id} with {}",
            status.server
        ),
        (state, _) => {
            let state = match state {
                RegState::Connecting => "connecting",
                RegState::Registered => "registered",
                RegState::Offline => "offline",
            };
            let why = status
                .reason
                .as_deref()
                .map(|r| format!(": {}", peerd_shared::text::escape_control(r)))
                .unwrap_or_default();
            format!(
                "peerd is running: {pid}, not registered with {} after {} s ({state}{why}); \
                 it keeps trying (see `peerctl status`)",
                status.server,
                REGISTER_WAIT.as_secs()
            )
        }
    }
}

fn spawn_and_wait(config: &Config) -> Result<Status, PeerError> {
    private_data_dir(&config.data_dir)?;
    super::lock::check_free(&config.data_dir)?;
    if let Some(pid) = probe::pid(&config.socket) {
        return Err(PeerError::AlreadyRunning {
            path: config.socket.clone(),
            pid: Some(pid),
        });
    }
    let log_path = config.data_dir.join(LOG_FILE);
    // The daemon's stderr until its log writer is up (what it says when it
    // cannot start); the daemon then logs through the rotating writer.
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(&log_path)
        .map_err(|e| PeerError::Detach(format!("cannot open {}: {e}", log_path.display())))?;
    let start = log.seek(SeekFrom::End(0)).unwrap_or(0);
    let exe = std::env::current_exe()
        .map_err(|e| PeerError::Detach(format!("cannot find own executable: {e}")))?;
    let args: Vec<_> = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--detach")
        .collect();
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .arg("--log-file")
        .arg(&log_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| PeerError::Detach(format!("cannot start the daemon: {e}")))?;
    wait_ready(&mut child, config, &log_path, start)
}

/// Polls until `child` is registered (or [`REGISTER_WAIT`] passed after it
/// first answered), exits, or does not answer within [`ANSWER_WAIT`]; what
/// it logged since `start` explains an exit.
fn wait_ready(
    child: &mut Child,
    config: &Config,
    log_path: &Path,
    start: u64,
) -> Result<Status, PeerError> {
    let answer_by = Instant::now() + ANSWER_WAIT;
    let mut register_by = None;
    let mut last: Option<Status> = None;
    loop {
        if let Ok(Some(exit)) = child.try_wait() {
            return Err(PeerError::Detach(format!(
                "the daemon exited ({exit}):\n{}",
                log_since(log_path, start)
            )));
        }
        // Only our own child counts: another daemon may hold the socket.
        let answer = probe::status(&config.socket, STATUS_WAIT)
            .filter(|status| status.pid == Some(child.id()));
        if let Some(status) = answer {
            if status.state == RegState::Registered {
                return Ok(status);
            }
            register_by.get_or_insert_with(|| Instant::now() + REGISTER_WAIT);
            last = Some(status);
        }
        let now = Instant::now();
        match (register_by, last.take()) {
            (Some(by), Some(status)) if now >= by => return Ok(status),
            (None, _) if now >= answer_by => {
                return Err(PeerError::Detach(format!(
                    "the daemon (pid {}) is running but did not answer on {} within {} s; \
                     see {}",
                    child.id(),
                    config.socket.display(),
                    ANSWER_WAIT.as_secs(),
                    log_path.display()
                )))
            }
            (_, kept) => last = kept,
        }
        std::thread::sleep(POLL);
    }
}

fn log_since(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.seek(SeekFrom::Start(offset));
        let _ = f.take(64 * 1024).read_to_string(&mut text);
    }
    text.trim_end().to_owned()
}

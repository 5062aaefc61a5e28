//! `peerd start --detach`: re-executes `peerd` in the background (its own
//! session, stdin/stdout closed, logs in `<data dir>/peerd.log`) and returns
//! once the new daemon's control socket answers `status`, printing the
//! socket path, or prints what the daemon wrote before it died.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use peerd_shared::control::{Reply, Response};

use super::args::Config;
use super::error::PeerError;
use super::identity::ensure_private_dir;

/// File name of the background daemon's log inside the data dir.
pub const LOG_FILE: &str = "peerd.log";
/// How long the parent waits for the daemon to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the parent checks.
const POLL: Duration = Duration::from_millis(20);

/// Starts the daemon in the background; the exit code of `peerd start --detach`.
pub fn detach(config: &Config) -> ExitCode {
    match spawn_and_wait(config) {
        Ok(()) => {
            println!("{}", config.socket.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("peerd start: {e}");
            ExitCode::FAILURE
        }
    }
}

fn spawn_and_wait(config: &Config) -> Result<(), PeerError> {
    ensure_private_dir(&config.data_dir)?;
    let log_path = config.data_dir.join(LOG_FILE);
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| PeerError::Detach(format!("cannot open {}: {e}", log_path.display())))?;
    let start = log.seek(SeekFrom::End(0)).unwrap_or(0);
    let exe = std::env::current_exe()
        .map_err(|e| PeerError::Detach(format!("cannot find own executable: {e}")))?;
    let args: Vec<_> = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--detach")
        .collect();
    let stderr = log
        .try_clone()
        .map_err(|e| PeerError::Detach(e.to_string()))?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .arg("--log-file")
        .arg(&log_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
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
    let _ = log.flush();
    wait_ready(&mut child, config, &log_path, start)
}

/// Polls until `child` answers on the control socket, exits, or takes too
/// long; what it logged since `start` explains an exit.
fn wait_ready(
    child: &mut std::process::Child,
    config: &Config,
    log_path: &Path,
    start: u64,
) -> Result<(), PeerError> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(PeerError::Detach(format!(
                "the daemon exited ({status}):\n{}",
                log_since(log_path, start)
            )));
        }
        if answering_pid(&config.socket) == Some(child.id()) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(PeerError::Detach(format!(
                "the daemon (pid {}) did not answer on {} within {} s; see {}",
                child.id(),
                config.socket.display(),
                READY_TIMEOUT.as_secs(),
                log_path.display()
            )));
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

/// The pid of the daemon answering `status` on `socket`, if one does (only
/// our own child counts: another daemon may be holding the socket).
fn answering_pid(socket: &Path) -> Option<u32> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(b"{\"cmd\":\"status\"}\n").ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    match serde_json::from_str::<Reply>(&line)
        .ok()?
        .into_result()
        .ok()?
    {
        Response::Status(status) => status.pid,
        _ => None,
    }
}

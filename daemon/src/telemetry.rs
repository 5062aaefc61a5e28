//! Tracing set-up shared by `peerd server` and `peerd start`: an `EnvFilter`
//! that defaults to `info` and obeys `RUST_LOG`, in one of three formats
//! ([`LogFormat`]), to stderr, to a log file, or to a rotating log file.
//!
//! - `text`: one human line per event. Colours only on a terminal and never
//!   with `NO_COLOR` set. When stderr is the systemd journal (its
//!   `JOURNAL_STREAM` names stderr's device and inode), no timestamps: the
//!   journal stamps every line itself.
//! - `json`: one JSON object per line (`timestamp`, `level`, `target`, the
//!   event's fields flattened beside `message`).
//! - `journald`: straight to the journal's socket, with priorities and the
//!   event's fields as journal fields; falls back to `text` on stderr (with a
//!   warning) where no journal listens.
//!
//! The format is chosen once ([`choose_format`]): by `--log-format` (or
//! `PEERD_LOG_FORMAT`) first, then by a config file; the first choice wins.

use std::fs::{OpenOptions, Permissions};
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use serde::Deserialize;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (no timestamps when stderr is the journal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
    /// Native systemd journal entries, with priorities and fields.
    Journald,
}

/// A rotated log file grows to about this many bytes before it is rotated.
pub const LOG_MAX_BYTES: usize = 10 << 20;
/// Rotated log files kept beside the current one (`peerd.log.1` ... `.5`).
pub const LOG_KEEP: usize = 5;
/// Permissions of log files: the owner only (logs name peers and addresses).
pub const LOG_MODE: u32 = 0o600;

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Chooses the log format; the first call wins (call it with the flag's
/// value first, then with the config file's).
pub fn choose_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

/// The chosen format ([`LogFormat::Text`] if none was chosen).
pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// True when stderr is the systemd journal's stream for this service:
/// `JOURNAL_STREAM` is `DEVICE:INODE` of that stream (systemd.exec(5)).
pub fn stderr_is_journal() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    value
        .to_str()
        .is_some_and(|v| names_file(v, meta.dev(), meta.ino()))
}

/// True if `journal_stream` (`DEVICE:INODE`, decimal) names the file `dev`/`ino`.
fn names_file(journal_stream: &str, dev: u64, ino: u64) -> bool {
    journal_stream
        .split_once(':')
        .is_some_and(|(d, i)| d.parse() == Ok(dev) && i.parse() == Ok(ino))
}

/// Logs to stderr in the chosen format. Safe to call more than once (later
/// calls do nothing).
pub fn init_stderr() {
    match format() {
        LogFormat::Text => {
            let journal = stderr_is_journal();
            let colour = !journal
                && std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none();
            let builder = tracing_subscriber::fmt()
                .with_env_filter(filter())
                .with_writer(std::io::stderr)
                .with_ansi(colour);
            let _ = if journal {
                builder.without_time().try_init()
            } else {
                builder.try_init()
            };
        }
        LogFormat::Json => init_json(std::io::stderr),
        LogFormat::Journald => match tracing_journald::layer() {
            Ok(layer) => {
                let _ = tracing_subscriber::registry()
                    .with(filter())
                    .with(layer)
                    .try_init();
            }
            Err(e) => {
                let _ = tracing_subscriber::fmt()
                    .with_env_filter(filter())
                    .with_writer(std::io::stderr)
                    .with_ansi(false)
                    .try_init();
                tracing::warn!("no systemd journal to log to ({e}); logging text to stderr");
            }
        },
    }
}

fn init_json<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter())
        .with_writer(writer)
        .try_init();
}

/// Logs to a writer in the chosen format, without colours (`journald`
/// makes no sense for a file: it writes text there).
fn init_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format() {
        LogFormat::Json => init_json(writer),
        LogFormat::Text | LogFormat::Journald => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter())
                .with_ansi(false)
                .with_writer(writer)
                .try_init();
        }
    }
}

/// A log file at `path` that is rotated once it passes [`LOG_MAX_BYTES`]
/// (`path.1` is the newest old one, at most [`LOG_KEEP`] are kept), every
/// file created mode 0600. An existing `path` is appended to and its mode
/// narrowed to 0600. The parent directory must exist.
pub fn rotating_file(path: &Path) -> std::io::Result<FileRotate<AppendCount>> {
    rotating_file_with(path, LOG_MAX_BYTES, LOG_KEEP)
}

fn rotating_file_with(
    path: &Path,
    max_bytes: usize,
    keep: usize,
) -> std::io::Result<FileRotate<AppendCount>> {
    let path = std::path::absolute(path)?;
    if !path.parent().is_some_and(Path::is_dir) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no directory for the log file {}", path.display()),
        ));
    }
    let mut options = OpenOptions::new();
    options.read(true).create(true).append(true).mode(LOG_MODE);
    // Open once here so that an error is reported (the rotating writer
    // itself would drop lines silently), and fix an existing file's mode.
    let file = options.open(&path)?;
    file.set_permissions(Permissions::from_mode(LOG_MODE))?;
    drop(file);
    Ok(FileRotate::new(
        &path,
        AppendCount::new(keep),
        ContentLimit::BytesSurpassed(max_bytes),
        Compression::None,
        Some(options),
    ))
}

/// Logs to a rotating file ([`rotating_file`]) in the chosen format.
pub fn init_rotating(path: &Path) -> std::io::Result<()> {
    init_writer(Mutex::new(rotating_file(path)?));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn rotating_file_is_private_and_rotates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("peerd.log");
        let mut log = rotating_file_with(&path, 64, 2).expect("open");
        assert_eq!(mode(&path), 0o600);
        // tracing writes each event with one `write_all`, as here.
        for i in 0..10 {
            let line = format!("line {i}: {}\n", "x".repeat(40));
            log.write_all(line.as_bytes()).expect("write");
        }
        log.flush().expect("flush");
        let rotated = dir.path().join("peerd.log.1");
        assert!(rotated.exists(), "no rotation after 10 lines of 50 bytes");
        assert_eq!(mode(&rotated), 0o600);
        assert!(!dir.path().join("peerd.log.3").exists(), "more than 2 kept");
        let newest = std::fs::read_to_string(&path).expect("read");
        // A file is rotated before the write that finds it past the limit.
        assert!(
            newest.starts_with("line 8") && newest.contains("line 9"),
            "{newest:?}"
        );
        let older = std::fs::read_to_string(&rotated).expect("read");
        assert!(
            older.starts_with("line 6") && older.contains("line 7"),
            "{older:?}"
        );
    }

    #[test]
    fn existing_log_file_is_narrowed_to_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("peerd.log");
        std::fs::write(&path, "old line\n").expect("write");
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).expect("chmod");
        let mut log = rotating_file(&path).expect("open");
        log.write_all(b"new line\n").expect("write");
        log.flush().expect("flush");
        assert_eq!(mode(&path), 0o600);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "old line\nnew line\n");
    }

    #[test]
    fn missing_directory_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Err(e) = rotating_file(&dir.path().join("gone").join("peerd.log")) else {
            panic!("a log file in a missing directory was opened");
        };
        assert!(e.to_string().contains("gone"), "{e}");
    }

    #[test]
    fn journal_stream_names_one_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = std::fs::metadata(dir.path()).expect("stat");
        let (dev, ino) = (meta.dev(), meta.ino());
        assert!(names_file(&format!("{dev}:{ino}"), dev, ino));
        assert!(!names_file(&format!("{dev}:{}", ino + 1), dev, ino));
        assert!(!names_file(&format!("{}:{ino}", dev + 1), dev, ino));
        for bad in ["", ":", "x:y", &format!("{dev}"), &format!("{dev}:{ino}:1")] {
            assert!(!names_file(bad, dev, ino), "{bad:?}");
        }
    }
}

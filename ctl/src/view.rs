//! How human output is laid out: the time zone times are shown in, and
//! the width long texts are cut to (the terminal's, or `COLUMNS`, unless
//! `--full`).

use std::io::IsTerminal;

use jiff::tz::TimeZone;

/// Narrowest the text column is cut to, whatever the terminal's width.
pub const MIN_TEXT_WIDTH: usize = 16;

/// How human output is laid out: the time zone of times, and whether long
/// texts are cut to the width of the terminal.
#[derive(Debug, Clone)]
pub struct View {
    pub zone: TimeZone,
    /// Cut texts to [`View::width`] (false with `--full`).
    pub fit: bool,
}

impl View {
    /// Local times (UTC with `utc`); texts cut to the terminal unless `full`.
    pub fn new(utc: bool, full: bool) -> Self {
        Self {
            zone: crate::when::zone(utc),
            fit: !full,
        }
    }

    /// Columns to fit a line into, read now (the terminal may be resized):
    /// the terminal's on a terminal, else `COLUMNS` when set, else none.
    pub fn width(&self) -> Option<usize> {
        if !self.fit {
            return None;
        }
        if std::io::stdout().is_terminal() {
            if let Some((_, cols)) = console::Term::stdout().size_checked() {
                return Some(usize::from(cols));
            }
        }
        std::env::var("COLUMNS")
            .ok()?
            .trim()
            .parse()
            .ok()
            .filter(|c| *c > 0)
    }
}

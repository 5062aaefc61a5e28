//! Text that came from a peer, made safe to show on a terminal or in a log
//! line: [`escape_control`] writes control characters (ESC, BEL, newline,
//! carriage return, tab, DEL, the C1 range) and the invisible characters
//! that reorder or break lines (bidirectional overrides and isolates, the
//! Unicode line and paragraph separators) as visible escapes, so a received
//! text can neither repaint the terminal nor forge a second log line.
//!
//! Everything else, including every printable non-ASCII character, passes
//! unchanged. The exact text stays available where it is data, not display
//! (the store, `--json`, the control protocol).

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal or a log line as it is.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Arabic letter mark, left-to-right / right-to-left marks.
            '\u{061C}' | '\u{200E}' | '\u{200F}'
            // Bidirectional embeddings and overrides.
            | '\u{202A}'..='\u{202E}'
            // Bidirectional isolates.
            | '\u{2066}'..='\u{2069}'
            // Line and paragraph separators.
            | '\u{2028}' | '\u{2029}'
        )
}

/// `text` with every character of [`needs_escape`] written as an escape:
/// `\n`, `\r`, `\t`, `\e` (ESC), `\xHH` for the other characters below
/// U+0100 (`\x07` for BEL, `\x7f` for DEL, `\x9b` for CSI) and `\u{HHHH}`
/// above. Borrows `text` when nothing needs escaping.
///
/// A backslash is not doubled: the output is for people, and the exact
/// text is available as data (`--json`).
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c if needs_escape(c) && u32::from(c) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in ["hello", "héllo wörld", "日本語 😀", "a\\nb", ""] {
            assert!(matches!(escape_control(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(escape_control("a\nb"), "a\\nb");
        assert_eq!(escape_control("x\r\ty"), "x\\r\\ty");
        assert_eq!(escape_control("\u{1b}[2J\u{7}"), "\\e[2J\\x07");
        assert_eq!(escape_control("\u{0}\u{7f}\u{9b}"), "\\x00\\x7f\\x9b");
        assert_eq!(
            escape_control("abc\u{202E}fed\u{2028}"),
            "abc\\u{202e}fed\\u{2028}"
        );
    }

    #[test]
    fn no_control_character_survives() {
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let escaped = escape_control(&c.to_string()).into_owned();
            assert!(!escaped.chars().any(needs_escape), "{c:?} -> {escaped:?}");
            assert_eq!(escaped.len() > c.len_utf8(), needs_escape(c), "{c:?}");
        }
    }
}

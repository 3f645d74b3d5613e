//! What reaches a person's terminal: text from outside with its control characters
//! escaped, and standard output that survives its reader going away.
//!
//! Item names, script output, failure messages, blueprint keys and the tenant's
//! messages all come from outside the agent. Written raw, an `ESC [2J` clears the
//! admin's screen, a `CR` overwrites the start of a line to forge another, and a
//! right-to-left override makes a line read backwards. So every verb prints through
//! this module: [`print`] and [`print_error`] escape every control character except
//! the line breaks the agent itself wrote, [`print_json`] writes the few that
//! `serde_json` leaves raw as `\uXXXX` (the same JSON value), and [`printable`]
//! escapes line breaks too, for a value placed inside one line. The console log
//! layer escapes every field the same way (see [`crate::logging`]); the log files
//! keep the exact text. `agent logs` writes its lines to any `io::Write` (so
//! `--follow` can stop when the reader goes) and escapes each one with these.
//!
//! Rust ignores `SIGPIPE`, so a write to a pipe whose reader has gone
//! (`agent history | head -1`) fails with `BrokenPipe`, and `println!` would panic
//! with exit 101. [`print`] instead drops that write and every later one: the verb
//! finishes what it was doing and exits with its own code, as if the rest had been
//! read. Writes to stderr never fail a verb. `SIGPIPE` stays ignored, so a daemon
//! whose client hangs up is never killed by it.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout found its reader gone; later writes are dropped.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Whether `character` must not reach a terminal as itself: the C0 controls
/// (`ESC`, `CR`, `BEL`, ... and the line break), `DEL`, the C1 controls (`U+009B`
/// starts a sequence as `ESC [` does), the bidirectional overrides and isolates
/// that make text read in another order than it is stored (`U+202E`), and the
/// Unicode line and paragraph separators.
pub fn needs_escape(character: char) -> bool {
    character.is_control()
        || matches!(
            character,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every character [`needs_escape`] names written as its Rust escape
/// (`\u{1b}`, `\n`, `\r`, `\u{202e}`), so a hostile item name cannot move the
/// cursor, clear the screen or forge a line. For a value placed inside one line.
pub fn printable(text: &str) -> String {
    escaped(text, |_| false)
}

/// `text` escaped as [`printable`] does, but keeping its line breaks: for a whole
/// block the agent wrote, whose values were made [`printable`] where they went in.
pub fn printable_lines(text: &str) -> String {
    escaped(text, |character| character == '\n')
}

/// `text` with every character that needs escaping and is not `kept` escaped.
fn escaped(text: &str, kept: impl Fn(char) -> bool) -> String {
    if !text.chars().any(|character| needs_escape(character) && !kept(character)) {
        return text.to_string();
    }
    let mut shown = String::with_capacity(text.len() + 16);
    for character in text.chars() {
        if needs_escape(character) && !kept(character) {
            shown.extend(character.escape_default());
        } else {
            shown.push(character);
        }
    }
    shown
}

/// JSON text as `serde_json` writes it, with the characters it leaves raw (`DEL`,
/// the C1 controls, the bidirectional controls) written as `\uXXXX` escapes: the
/// same JSON value, nothing a terminal acts on. `serde_json` already escapes the
/// C0 controls inside strings, and outside strings there are only line breaks.
pub fn json_printable(json: &str) -> String {
    let mut shown = String::with_capacity(json.len());
    for character in json.chars() {
        if needs_escape(character) && character != '\n' {
            // Every character that needs escaping is in the Basic Multilingual Plane.
            shown.push_str(&format!("\\u{:04x}", u32::from(character)));
        } else {
            shown.push(character);
        }
    }
    shown
}

/// Prints `text` on stdout for a person, escaped by [`printable_lines`].
///
/// A reader that has gone away is not an error: this write and every later one
/// are dropped (see [`stdout_gone`]). Any other failure (a full disk behind a
/// redirection) is returned, as the output is lost.
pub fn print(text: &str) -> io::Result<()> {
    write_stdout(&printable_lines(text))
}

/// [`print`] with a line break after `line`.
pub fn print_line(line: &str) -> io::Result<()> {
    print(&format!("{line}\n"))
}

/// Prints `value` as pretty JSON on stdout, made safe by [`json_printable`].
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> io::Result<()> {
    let json = serde_json::to_string_pretty(value)?;
    write_stdout(&format!("{}\n", json_printable(&json)))
}

/// Prints `line` and a line break on stderr, escaped by [`printable_lines`]; a
/// stderr that cannot be written is ignored, as there is nowhere left to say so.
pub fn print_error(line: &str) {
    let text = format!("{}\n", printable_lines(line));
    let mut error = io::stderr().lock();
    let _ = error.write_all(text.as_bytes()).and_then(|()| error.flush());
}

/// Whether stdout's reader has gone away (`agent logs -f | head` after its lines):
/// a verb that would print on forever stops.
pub fn stdout_gone() -> bool {
    STDOUT_GONE.load(Ordering::Relaxed)
}

/// Writes `text` to stdout and flushes it, unless the reader has gone.
fn write_stdout(text: &str) -> io::Result<()> {
    if stdout_gone() {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {
            STDOUT_GONE.store(true, Ordering::Relaxed);
            Ok(())
        }
        result => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        for (name, shown) in [
            ("Set hostname", "Set hostname"),
            ("a/b", "a/b"),
            ("ä", "ä"),
            ("שלום", "שלום"),
            ("evil\nline", "evil\\nline"),
            ("\u{1b}[2J", "\\u{1b}[2J"),
            ("back\rover", "back\\rover"),
            ("bell\u{7}", "bell\\u{7}"),
            ("tab\there", "tab\\there"),
            ("del\u{7f}", "del\\u{7f}"),
            ("\u{9b}2J", "\\u{9b}2J"),
            ("txt.\u{202e}exe", "txt.\\u{202e}exe"),
            ("\u{2066}isolated\u{2069}", "\\u{2066}isolated\\u{2069}"),
            ("line\u{2028}separator", "line\\u{2028}separator"),
        ] {
            assert_eq!(printable(name), shown, "{name:?}");
        }
    }

    #[test]
    fn blocks_keep_their_line_breaks_and_nothing_else() {
        assert_eq!(printable_lines("one\ntwo\r\n\u{1b}[2J\n"), "one\ntwo\\r\n\\u{1b}[2J\n");
    }

    #[test]
    fn escaping_twice_changes_nothing_more() {
        let once = printable("\u{1b}[31mred\u{202e}\n");
        assert_eq!(printable(&once), once);
        assert_eq!(printable_lines(&once), once);
    }

    #[test]
    fn json_keeps_its_value_and_loses_what_a_terminal_acts_on() {
        let value = serde_json::json!({ "name": "\u{1b}[2J\r\u{7}\u{7f}\u{9b}\u{202e}" });
        let json = json_printable(&serde_json::to_string_pretty(&value).unwrap());
        assert!(!json.chars().any(|character| needs_escape(character) && character != '\n'), "{json}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&json).unwrap(), value);
    }
}

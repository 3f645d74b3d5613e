//! The log lines shown on stderr: compact, for a person, every field escaped.
//!
//! The files keep each value exactly; stderr is often a terminal (`agent run`), or
//! the file launchd keeps for the daemon that an admin reads with `cat`. So every
//! field of an event and of its spans goes through [`terminal::printable`] here,
//! whatever event carries it: an item name, a script's output or the tenant's
//! message can neither drive the terminal nor forge another log line.

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::MakeWriter;
use tracing_subscriber::registry::LookupSpan;

use crate::terminal;

/// The stderr layer: compact lines for a person, no time (launchd and terminals add
/// their own) and no module path, coloured only on a terminal. Every field of the
/// event and of its spans is escaped by [`ConsoleFields`]. A stderr that cannot be
/// written (its reader gone) loses the line and nothing else: the layer reports
/// no write error of its own.
pub(super) fn console_layer<S>(level: tracing::Level) -> impl Layer<S>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    console_layer_to(std::io::stderr, std::io::stderr().is_terminal(), level)
}

/// [`console_layer`] writing to `writer`, so tests can read its lines.
fn console_layer_to<S, W>(writer: W, ansi: bool, level: tracing::Level) -> impl Layer<S>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .compact()
        .without_time()
        .with_target(false)
        .fmt_fields(ConsoleFields)
        .with_ansi(ansi)
        .log_internal_errors(false)
        .with_writer(writer)
        .with_filter(LevelFilter::from_level(level))
}

/// Formats fields as the default formatter does (`message key=value ...`, text
/// values quoted), with every control character in the message and in each value
/// escaped by [`terminal::printable`], line breaks included: an item name, a
/// script's output or the tenant's message in a field can neither drive the
/// terminal nor forge another log line. Used for the event's fields and its spans'.
struct ConsoleFields;

impl<'writer> FormatFields<'writer> for ConsoleFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> std::fmt::Result {
        let mut visitor = ConsoleVisitor::default();
        fields.record(&mut visitor);
        writer.write_str(&visitor.text)
    }
}

/// Collects `message key=value ...` for [`ConsoleFields`].
#[derive(Default)]
struct ConsoleVisitor {
    text: String,
}

impl ConsoleVisitor {
    /// Appends one field, its value already formatted.
    fn push(&mut self, field: &Field, value: &str) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        if field.name() != "message" {
            self.text.push_str(field.name());
            self.text.push('=');
        }
        self.text.push_str(&terminal::printable(value));
    }
}

impl Visit for ConsoleVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" { self.push(field, value) } else { self.push(field, &format!("{value:?}")) }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::logging::tests::Captured;

    #[test]
    fn console_lines_escape_every_field_and_stay_one_line() {
        let captured = Captured::default();
        let writer = {
            let captured = captured.clone();
            move || captured.clone()
        };
        let subscriber = tracing_subscriber::registry().with(console_layer_to(writer, false, tracing::Level::WARN));
        let hostile = "\u{1b}[2J\r\u{7}\u{9b}1m\u{202e}\nforged";
        tracing::subscriber::with_default(subscriber, || {
            let item = tracing::warn_span!("item", item_name = %hostile);
            let _item = item.enter();
            let error = std::io::Error::other(hostile);
            tracing::warn!(name = hostile, shown = %hostile, error = &error as &dyn std::error::Error, "Item {hostile}.");
        });
        let text = captured.text();
        let body = text.strip_suffix('\n').expect("one line");
        assert!(!body.chars().any(terminal::needs_escape), "{body:?}");
        assert!(
            body.contains("WARN") && body.contains("Item \\u{1b}[2J\\r\\u{7}\\u{9b}1m\\u{202e}\\nforged."),
            "{body}"
        );
        assert!(body.contains(r#"name="\u{1b}[2J\r\u{7}\u{9b}1m\u{202e}\nforged""#), "{body}");
        assert!(body.contains("shown=\\u{1b}[2J\\r\\u{7}"), "{body}");
        assert!(body.contains("item_name=\\u{1b}[2J"), "span fields too: {body}");
    }
}

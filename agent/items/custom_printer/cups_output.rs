//! What CUPS' tools print, read into plain values.
//!
//! The audit prefers output that does not depend on the language the tools
//! speak: `lpstat -e` (one destination per line), `lpoptions -p NAME`
//! (`name=value` pairs) and `lpoptions -p NAME -l` (`Keyword/Text: a *b c`).
//! Only `lpstat -d` is prose; its parser relies on the shape every CUPS
//! translation keeps ("…: NAME" when there is a default, no colon when not).
//! The tools write errors to stderr, which the agent reads merged with stdout;
//! such lines start with the tool's name and a colon and are skipped.

use std::collections::BTreeMap;

/// The destinations `lpstat -e` lists, without their instance suffix (`name/instance`).
pub(crate) fn parse_destinations(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("lpstat:"))
        .map(|line| line.split_once('/').map_or(line, |(name, _)| name).to_string())
        .collect();
    names.dedup();
    names
}

/// The system's default destination, as `lpstat -d` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DefaultDestination {
    /// `system default destination: NAME` (in any language).
    Named(String),
    /// `no system default destination` (in any language).
    Nothing,
}

/// Reads `lpstat -d`; an error line (`lpstat: error - …`) or an empty answer is
/// returned as the error text.
pub(crate) fn parse_default_destination(text: &str) -> Result<DefaultDestination, String> {
    let Some(line) = text.lines().map(str::trim).find(|line| !line.is_empty()) else {
        return Err("lpstat -d printed nothing".into());
    };
    if line.starts_with("lpstat:") {
        return Err(line.to_string());
    }
    // Queue names hold no spaces, so the first ": " (or the full-width colon
    // some translations use) ends the prose even when the name has a colon.
    let named = line.split_once(": ").or_else(|| line.split_once('：')).map(|(_, name)| name.trim());
    match named {
        None => Ok(DefaultDestination::Nothing),
        Some(name) => {
            let name = name.split_once('/').map_or(name, |(name, _)| name);
            if name.is_empty() {
                Err(format!("no name in {line:?}"))
            } else {
                Ok(DefaultDestination::Named(name.into()))
            }
        }
    }
}

/// Reads `lpoptions -p NAME`: one line of `name=value` pairs (a bare `name`
/// means an empty value).
///
/// lpoptions wraps a value in single quotes when, and only when, it holds a
/// space or a tab, and escapes nothing inside. A quoted value therefore ends at
/// the first `'` that is followed by the end of the line or by a space and
/// something shaped like the next option; a value such as `a' b=c` is the one
/// shape this cannot tell apart, and no printer setting the agent writes has it.
pub(crate) fn parse_printer_options(text: &str) -> BTreeMap<String, String> {
    let mut options = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with("lpoptions:")) {
        let mut rest = line.trim_start();
        while !rest.is_empty() {
            let name_end = rest.find(['=', ' ', '\t']).unwrap_or(rest.len());
            let name = &rest[..name_end];
            let after = &rest[name_end..];
            let (value, remaining) = match after.strip_prefix('=') {
                Some(value_text) => {
                    let (printed, remaining) = split_value(value_text);
                    (unquote(printed), remaining)
                }
                None => (String::new(), after),
            };
            if !name.is_empty() {
                options.insert(name.to_string(), value);
            }
            rest = remaining.trim_start();
        }
    }
    options
}

/// Splits one printed value from the rest of the line.
fn split_value(text: &str) -> (&str, &str) {
    if text.starts_with('\'') {
        for (index, _) in text.match_indices('\'').skip(1) {
            let after = &text[index + 1..];
            if after.is_empty() || after.strip_prefix(' ').is_some_and(starts_with_option) {
                return (&text[..=index], after);
            }
        }
    }
    let end = text.find(' ').unwrap_or(text.len());
    (&text[..end], &text[end..])
}

/// Whether `text` starts with an option name followed by `=`, a space or the end.
fn starts_with_option(text: &str) -> bool {
    let end = text.find(['=', ' ']).unwrap_or(text.len());
    end > 0 && text[..end].chars().all(|character| character.is_ascii_alphanumeric() || "-_.".contains(character))
}

/// The value inside lpoptions' quotes; quotes around a value without a space
/// or tab are part of the value, since lpoptions would not have added them.
fn unquote(printed: &str) -> String {
    let inner = printed.strip_prefix('\'').and_then(|inner| inner.strip_suffix('\''));
    match inner {
        Some(inner) if inner.contains([' ', '\t']) => inner.to_string(),
        _ => printed.to_string(),
    }
}

/// The choice a PPD option is set to, as `lpoptions -l` marks it (`*A4`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Choice {
    /// A choice the PPD lists, such as `A4` or `DuplexNoTumble`.
    Listed(String),
    /// A custom value (`Custom.WIDTHxHEIGHT`, `Custom.INTEGER`, `{name=TYPE …}`),
    /// whose exact value lpoptions does not print.
    Custom,
    /// No choice is marked.
    Unmarked,
}

/// Reads `lpoptions -p NAME -l`: one `Keyword/Text: choice *marked choice` line
/// per PPD option, keyed by keyword.
pub(crate) fn parse_driver_choices(text: &str) -> BTreeMap<String, Choice> {
    let mut choices = BTreeMap::new();
    for line in text.lines() {
        let Some((keyword, rest)) = line.split_once('/') else {
            continue;
        };
        let keyword_ok = !keyword.is_empty() && keyword.chars().all(|character| character.is_ascii_graphic());
        // PPD choice keywords hold no colon, so the last colon ends the option's text.
        let Some((_, listed)) = rest.rsplit_once(':').filter(|_| keyword_ok && !keyword.contains(':')) else {
            continue;
        };
        let marked = listed.split_whitespace().find_map(|choice| choice.strip_prefix('*'));
        let choice = match marked {
            None => Choice::Unmarked,
            Some(choice) if choice.starts_with('{') || choice.starts_with("Custom.") || choice == "Custom" => {
                Choice::Custom
            }
            Some(choice) => Choice::Listed(choice.to_string()),
        };
        choices.insert(keyword.to_string(), choice);
    }
    choices
}

/// The lines of a tool's output that are its own complaints (`lpoptions: …`).
pub(crate) fn complaints<'a>(tool: &str, text: &'a str) -> Vec<&'a str> {
    let prefix = format!("{tool}:");
    text.lines().map(str::trim).filter(|line| line.starts_with(&prefix)).collect()
}

#[cfg(test)]
mod tests;

//! Reading `softwareupdate --list` output.
//!
//! The tool's prose (headers, "No new software available.") is localized and
//! mixed with stray log lines, so only the entries are read: since macOS 10.15
//! each is a `* Label: <label>` line followed by a tab-indented
//! `Title: …, Version: …, Size: …K, Recommended: YES, Action: restart,` line (the
//! size in KiB; newer versions print `KiB`);
//! macOS 10.14 and earlier printed `   * <label>` followed by
//! `\t<title> (<version>), <size>K [recommended] [restart]`. The label is what
//! `softwareupdate --install` takes.

use super::version::OsVersion;

/// One update `softwareupdate` offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailableUpdate {
    /// What `softwareupdate --install` is given, e.g. `macOS Sonoma 14.7.1-23H222`.
    pub label: String,
    /// What people read, e.g. `macOS Sonoma 14.7.1`.
    pub title: String,
    /// The version the update brings, as printed (`14.7.1`, `13.4.1 (a)`).
    pub version: Option<String>,
    /// Apple recommends it.
    pub recommended: bool,
    /// It restarts (or shuts down) the Mac to finish.
    pub restart_required: bool,
    /// The download size in bytes (`Size:`, printed in KiB).
    pub size_bytes: Option<u64>,
}

impl AvailableUpdate {
    /// The macOS version this update installs; `None` for other software (Safari,
    /// Command Line Tools) and for entries without a readable version.
    pub fn os_version(&self) -> Option<OsVersion> {
        let names = [&self.title, &self.label];
        let is_os = names.iter().any(|name| ["macOS", "Mac OS X", "OS X"].iter().any(|os| name.starts_with(os)));
        if !is_os {
            return None;
        }
        self.version.as_deref().and_then(OsVersion::leading)
    }

    /// The build the update installs, from the end of its label
    /// (`macOS Sonoma 14.7.1-23H222` → `23H222`); `None` when the label ends in
    /// something else (`Safari18.1-18.1`).
    pub fn build(&self) -> Option<String> {
        let (_, suffix) = self.label.rsplit_once('-')?;
        is_build(suffix).then(|| suffix.to_string())
    }

    /// The letter of a Rapid Security Response, as printed after its macOS
    /// version (`13.4.1 (a)` → `(a)`); `None` for every other update.
    pub fn security_response_extra(&self) -> Option<String> {
        self.os_version()?;
        let version = self.version.as_deref()?;
        let extra = version[version.find('(')?..].trim();
        let letters = extra.strip_prefix('(')?.strip_suffix(')')?;
        let is_letter = !letters.is_empty() && letters.bytes().all(|byte| byte.is_ascii_lowercase());
        is_letter.then(|| extra.to_string())
    }
}

/// An Apple build number: two digits, a capital letter, digits, and perhaps a
/// lower-case letter (`23H222`, `22F770820b`).
fn is_build(text: &str) -> bool {
    let body = text.strip_suffix(|character: char| character.is_ascii_lowercase()).unwrap_or(text);
    let bytes = body.as_bytes();
    bytes.len() >= 4
        && bytes[..2].iter().all(u8::is_ascii_digit)
        && bytes[2].is_ascii_uppercase()
        && bytes[3..].iter().all(u8::is_ascii_digit)
}

/// Reads every update entry of `softwareupdate --list` output, in order.
pub fn parse_software_update_list(output: &str) -> Vec<AvailableUpdate> {
    let mut updates: Vec<AvailableUpdate> = Vec::new();
    let mut awaiting_details = false;
    for line in output.lines() {
        let trimmed = line.trim();
        if let Some(label) = trimmed.strip_prefix("* Label:") {
            updates.push(entry(label));
            awaiting_details = true;
        } else if let Some(label) = trimmed.strip_prefix("* ").filter(|_| line.starts_with(char::is_whitespace)) {
            updates.push(entry(label));
            awaiting_details = true;
        } else if let (true, Some(update)) = (awaiting_details, updates.last_mut()) {
            if trimmed.starts_with("Title:") {
                read_title_line(trimmed, update);
                awaiting_details = false;
            } else if line.starts_with('\t') {
                read_legacy_line(trimmed, update);
                awaiting_details = false;
            }
        }
    }
    updates
}

/// A new entry whose title is its label until a details line says otherwise.
fn entry(label: &str) -> AvailableUpdate {
    let label = label.trim().to_string();
    AvailableUpdate {
        title: label.clone(),
        label,
        version: None,
        recommended: false,
        restart_required: false,
        size_bytes: None,
    }
}

/// Reads `Title: …, Version: …, Size: …K, Recommended: YES, Action: restart,`.
fn read_title_line(line: &str, update: &mut AvailableUpdate) {
    for (key, value) in title_fields(line) {
        match key {
            "Title" => update.title = value,
            "Version" => update.version = Some(value).filter(|version| !version.is_empty()),
            "Recommended" => update.recommended = value.eq_ignore_ascii_case("YES"),
            "Action" => update.restart_required = is_restart(&value),
            "Size" => update.size_bytes = kibibytes(&value),
            _ => {}
        }
    }
}

/// Splits a details line into `Key: value` fields; a comma inside a value (a
/// title such as `Foo, Inc. Update`) stays with that value.
fn title_fields(line: &str) -> Vec<(&str, String)> {
    let mut fields: Vec<(&str, String)> = Vec::new();
    for piece in line.trim().trim_end_matches(',').split(", ") {
        match piece.split_once(':') {
            Some((key, value)) if !key.is_empty() && key.bytes().all(|byte| byte.is_ascii_alphabetic()) => {
                fields.push((key, value.trim().to_string()));
            }
            _ => {
                if let Some((_, value)) = fields.last_mut() {
                    value.push_str(", ");
                    value.push_str(piece);
                }
            }
        }
    }
    fields
}

/// Reads `<title> (<version>), <size>K [recommended] [restart]`.
fn read_legacy_line(line: &str, update: &mut AvailableUpdate) {
    let flags_start = line.find(" [").unwrap_or(line.len());
    let (description, flags) = line.split_at(flags_start);
    update.size_bytes = description.rsplit_once(", ").and_then(|(_, size)| kibibytes(size));
    update.recommended = flags.contains("[recommended]");
    update.restart_required = flags.contains("[restart]") || flags.contains("[shut down]");
    let Some(close) = description.rfind(')') else {
        return;
    };
    let Some(open) = description[..close].rfind('(') else {
        return;
    };
    update.title = description[..open].trim().to_string();
    update.version = Some(description[open + 1..close].trim().to_string()).filter(|version| !version.is_empty());
}

/// `1676288K` or `1676288KiB` (what the tool prints) in bytes.
fn kibibytes(size: &str) -> Option<u64> {
    let number = size.trim().strip_suffix("KiB").or_else(|| size.trim().strip_suffix('K'))?;
    number.parse::<u64>().ok()?.checked_mul(1024)
}

fn is_restart(action: &str) -> bool {
    ["restart", "shut down"].iter().any(|restart| action.eq_ignore_ascii_case(restart))
}

#[cfg(test)]
#[path = "software_update_tests.rs"]
mod tests;

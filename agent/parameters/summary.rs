//! From what a parameter found, entry by entry, to its report: one line for admins
//! ("re-applied 2 of 5 files: /etc/motd (missing), …"), and every entry in the
//! output, so a long list never makes the status line unreadable.

use super::ParameterReport;
use crate::items::ItemReport;
use crate::state::ItemStatus;

/// How many entries a one-line message names before "and N more".
const NAMED_IN_MESSAGE: usize = 3;

/// What a parameter found and did, entry by entry.
pub(crate) struct Findings {
    /// What the entries are called: ("file", "files").
    noun: (&'static str, &'static str),
    checked: usize,
    changed: Vec<String>,
    failed: Vec<String>,
    failed_count: usize,
    output: Vec<String>,
}

impl Findings {
    /// Nothing found yet about entries called `singular` / `plural`.
    pub(crate) fn new(singular: &'static str, plural: &'static str) -> Self {
        Self {
            noun: (singular, plural),
            checked: 0,
            changed: Vec::new(),
            failed: Vec::new(),
            failed_count: 0,
            output: Vec::new(),
        }
    }

    /// One entry was already as declared.
    pub(crate) fn compliant(&mut self, entry: impl std::fmt::Display) {
        self.checked += 1;
        self.output.push(format!("compliant: {entry}"));
    }

    /// Entries examined that need no line of their own.
    pub(crate) fn checked_quietly(&mut self, count: usize) {
        self.checked += count;
    }

    /// One entry was out of line and was put back; `entry` says what changed.
    pub(crate) fn changed(&mut self, verb: &str, entry: String) {
        self.checked += 1;
        self.output.push(format!("{verb}: {entry}"));
        self.changed.push(entry);
    }

    /// `count` entries could not be checked or put back, for one reason.
    pub(crate) fn failed(&mut self, count: usize, entry: String) {
        self.checked += count;
        self.failed_count += count;
        self.output.push(format!("failed: {entry}"));
        self.failed.push(entry);
    }

    /// A line for the output only.
    pub(crate) fn note(&mut self, line: String) {
        self.output.push(line);
    }

    /// The entries put back, as listed.
    pub(crate) fn changes(&self) -> &[String] {
        &self.changed
    }

    /// The entries that failed, as listed.
    pub(crate) fn failures(&self) -> &[String] {
        &self.failed
    }

    /// How many entries were examined.
    pub(crate) fn checked(&self) -> usize {
        self.checked
    }

    /// `count` entries, with the right noun.
    pub(crate) fn count(&self, count: usize) -> String {
        format!("{count} {}", if count == 1 { self.noun.0 } else { self.noun.1 })
    }

    /// The one-line message: "compliant: …", "{verb} N of M …: …", or the failures first.
    pub(crate) fn message(&self, verb: &str, compliant: &str) -> String {
        let changed = name_some(&self.changed);
        let total = self.count(self.checked);
        match (self.failed_count, self.changed.len()) {
            (0, 0) => format!("compliant: {compliant}"),
            (0, count) => format!("{verb} {count} of {total}: {changed}"),
            (failed, 0) => format!("failed {failed} of {total}: {}", name_some(&self.failed)),
            (failed, count) => {
                format!("failed {failed} of {total}: {}; {verb} {count}: {changed}", name_some(&self.failed))
            }
        }
    }

    /// The parameter's report with `message`; failed when any entry failed.
    pub(crate) fn into_report(self, id: &str, name: &str, message: String) -> ParameterReport {
        let status = if self.failed_count > 0 { ItemStatus::Failed } else { ItemStatus::Succeeded };
        let mut output = self.output.join("\n");
        if !output.is_empty() {
            output.push('\n');
        }
        let reapplied = u32::try_from(self.changed.len()).unwrap_or(u32::MAX);
        let report = ItemReport { status, message, exit_code: None, output, reapplied: reapplied > 0 };
        ParameterReport { id: id.to_string(), name: name.to_string(), report, reapplied }
    }
}

/// The first few entries, then "and N more".
pub(crate) fn name_some(entries: &[String]) -> String {
    let named = entries.iter().take(NAMED_IN_MESSAGE).cloned().collect::<Vec<_>>().join(", ");
    match entries.len().saturating_sub(NAMED_IN_MESSAGE) {
        0 => named,
        more => format!("{named} and {more} more"),
    }
}

/// A report for a parameter that did not run in this check-in.
pub(crate) fn skipped(id: &str, name: &str, reason: &str) -> ParameterReport {
    let report = ItemReport {
        status: ItemStatus::Skipped,
        message: reason.to_string(),
        exit_code: None,
        output: String::new(),
        reapplied: false,
    };
    ParameterReport { id: id.to_string(), name: name.to_string(), report, reapplied: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(compliant: usize, changed: &[&str], failed: &[(usize, &str)]) -> Findings {
        let mut findings = Findings::new("file", "files");
        (0..compliant).for_each(|index| findings.compliant(format!("/c{index}")));
        changed.iter().for_each(|entry| findings.changed("re-applied", entry.to_string()));
        failed.iter().for_each(|(count, entry)| findings.failed(*count, entry.to_string()));
        findings
    }

    #[test]
    fn the_message_says_what_was_found_and_done_in_one_line() {
        let cases = [
            (findings(5, &[], &[]), "compliant: all as declared", ItemStatus::Succeeded, 0),
            (findings(0, &["/a (missing)"], &[]), "re-applied 1 of 1 file: /a (missing)", ItemStatus::Succeeded, 1),
            (
                findings(3, &["/a (missing)", "/b (mode 0600 → 0644)"], &[]),
                "re-applied 2 of 5 files: /a (missing), /b (mode 0600 → 0644)",
                ItemStatus::Succeeded,
                2,
            ),
            (
                findings(1, &["/a", "/b", "/c", "/d", "/e"], &[]),
                "re-applied 5 of 6 files: /a, /b, /c and 2 more",
                ItemStatus::Succeeded,
                5,
            ),
            (findings(1, &[], &[(2, "/p: bad")]), "failed 2 of 3 files: /p: bad", ItemStatus::Failed, 0),
            (
                findings(0, &["/a (missing)"], &[(1, "/x: unknown user \"bob\"")]),
                "failed 1 of 2 files: /x: unknown user \"bob\"; re-applied 1: /a (missing)",
                ItemStatus::Failed,
                1,
            ),
        ];
        for (findings, expected, status, reapplied) in cases {
            let message = findings.message("re-applied", "all as declared");
            assert_eq!(message, expected);
            let report = findings.into_report("managed_files", "Managed files", message);
            assert_eq!(report.report.status, status, "{expected}");
            assert_eq!(report.reapplied, reapplied, "{expected}");
            assert_eq!(report.report.reapplied, reapplied > 0, "{expected}");
        }
    }

    #[test]
    fn the_output_lists_every_entry() {
        let many: Vec<String> = (0..10).map(|index| format!("/f{index} (missing)")).collect();
        let mut findings = findings(1, &[], &[(1, "/x: bad")]);
        many.iter().for_each(|entry| findings.changed("re-applied", entry.clone()));
        let report = findings.into_report("managed_files", "Managed files", String::new());
        let lines: Vec<&str> = report.report.output.lines().collect();
        assert_eq!(lines.len(), 12);
        assert_eq!(lines[0], "compliant: /c0");
        assert_eq!(lines[1], "failed: /x: bad");
        assert_eq!(lines[11], "re-applied: /f9 (missing)");
    }
}

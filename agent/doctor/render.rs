//! The report as people read it: one line per check (verdict, title, what was
//! measured), the fix under each warning and failure, then the overall verdict.

use std::fmt::Write;

use super::check::{Report, Verdict};
use crate::render::printable;

/// The width of the title column.
const TITLE_WIDTH: usize = 17;

/// The report as text, ending with a newline.
pub fn render(report: &Report) -> String {
    let mut text = format!("Endpoint Agent doctor, {}\n\n", crate::render::time(report.checked_at));
    let indent = " ".repeat(4 + 2 + TITLE_WIDTH + 2);
    for check in &report.checks {
        let _ = writeln!(text, "{}  {:<TITLE_WIDTH$}  {}", check.verdict.word(), check.title, printable(&check.value));
        if let Some(fix) = &check.fix {
            let _ = writeln!(text, "{indent}Fix: {}", printable(fix));
        }
    }
    let counts = [
        (Verdict::Fail, "failed", "failed"),
        (Verdict::Warn, "warning", "warnings"),
        (Verdict::Pass, "passed", "passed"),
        (Verdict::Skipped, "skipped", "skipped"),
    ]
    .iter()
    .filter_map(|(verdict, one, many)| match report.count(*verdict) {
        0 => None,
        1 => Some(format!("1 {one}")),
        count => Some(format!("{count} {many}")),
    })
    .collect::<Vec<_>>()
    .join(", ");
    let _ = writeln!(text, "\nVerdict: {} ({counts})", report.verdict.word());
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::doctor::check::{Check, CheckKind, Finding};

    #[test]
    fn the_report_reads_well() {
        let check = |kind, finding| Check::new(kind, finding, Duration::from_millis(2));
        let checks = vec![
            check(CheckKind::AgentBinary, Finding::pass("/usr/local/bin/agent: agent 0.1.0")),
            check(CheckKind::LaunchdLoaded, Finding::skipped("/bin/launchctl not found: launchd exists on macOS only")),
            check(
                CheckKind::TenantConnection,
                Finding::fail(
                    "127.0.0.1:9 failed after 0ms: Connection refused (os error 111)",
                    "Check the network path to the tenant.",
                ),
            ),
            check(
                CheckKind::LastCheckin,
                Finding::warn(
                    "8 days ago (2026-11-18T12:00:00Z); over 7d: no longer verified",
                    "`sudo agent run` checks in now.",
                ),
            ),
            check(CheckKind::FileVault, Finding::pass("On\u{1b}[2J")),
        ];
        let report = Report::new("2026-11-26T12:00:00Z".parse().unwrap(), checks);
        insta::assert_snapshot!(render(&report));
    }
}

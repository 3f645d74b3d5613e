//! One line of `agent doctor` and the whole report: what was checked, the
//! verdict, what was measured, and the fix an admin should try.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How one check came out, from least to most serious. `Skipped` means the check
/// does not apply here (launchd on Linux, the tenant of a device without one);
/// it is never counted as a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Not applicable here; the value says why.
    Skipped,
    /// As it should be.
    Pass,
    /// Worth a look: the device still works, or it is too early to tell.
    Warn,
    /// Broken: the device is, or will be, out of the admin's control.
    Fail,
}

impl Verdict {
    /// The word people read: `PASS`, `WARN`, `FAIL`, `SKIP`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Skipped => "SKIP",
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// Every check, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckKind {
    AgentBinary,
    LaunchdJob,
    LaunchdLoaded,
    TenantConnection,
    TenantRequest,
    ApplePush,
    LastCheckin,
    LastInventory,
    MdmProfile,
    MdmCertificate,
    FileVault,
}

impl CheckKind {
    /// The name in `--json`, stable for scripts.
    pub(crate) fn name(self) -> &'static str {
        match self {
            CheckKind::AgentBinary => "agent_binary",
            CheckKind::LaunchdJob => "launchd_job",
            CheckKind::LaunchdLoaded => "launchd_loaded",
            CheckKind::TenantConnection => "tenant_connection",
            CheckKind::TenantRequest => "tenant_request",
            CheckKind::ApplePush => "apple_push",
            CheckKind::LastCheckin => "last_checkin",
            CheckKind::LastInventory => "last_inventory",
            CheckKind::MdmProfile => "mdm_profile",
            CheckKind::MdmCertificate => "mdm_certificate",
            CheckKind::FileVault => "filevault",
        }
    }

    /// The title people read.
    pub(crate) fn title(self) -> &'static str {
        match self {
            CheckKind::AgentBinary => "Agent binary",
            CheckKind::LaunchdJob => "launchd job",
            CheckKind::LaunchdLoaded => "Daemon loaded",
            CheckKind::TenantConnection => "Tenant connection",
            CheckKind::TenantRequest => "Tenant request",
            CheckKind::ApplePush => "Apple push",
            CheckKind::LastCheckin => "Last check-in",
            CheckKind::LastInventory => "Last inventory",
            CheckKind::MdmProfile => "MDM profile",
            CheckKind::MdmCertificate => "MDM certificate",
            CheckKind::FileVault => "FileVault",
        }
    }
}

/// What a check found, before it is named and timed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) verdict: Verdict,
    pub(crate) value: String,
    pub(crate) fix: Option<String>,
}

impl Finding {
    /// As it should be.
    pub(crate) fn pass(value: impl Into<String>) -> Self {
        Self { verdict: Verdict::Pass, value: value.into(), fix: None }
    }

    /// Worth a look, and what to try.
    pub(crate) fn warn(value: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { verdict: Verdict::Warn, value: value.into(), fix: Some(fix.into()) }
    }

    /// Broken, and what to try.
    pub(crate) fn fail(value: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { verdict: Verdict::Fail, value: value.into(), fix: Some(fix.into()) }
    }

    /// Not applicable here, and why.
    pub(crate) fn skipped(value: impl Into<String>) -> Self {
        Self { verdict: Verdict::Skipped, value: value.into(), fix: None }
    }

    /// `verdict` with `value`, and `fix` unless it passed or was skipped.
    pub(crate) fn judged(verdict: Verdict, value: impl Into<String>, fix: impl Into<String>) -> Self {
        let fix = matches!(verdict, Verdict::Warn | Verdict::Fail).then(|| fix.into());
        Self { verdict, value: value.into(), fix }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The stable name: `last_checkin`.
    pub name: &'static str,
    /// What people read: `Last check-in`.
    pub title: &'static str,
    /// How it came out.
    pub verdict: Verdict,
    /// What was measured, in words: `8 days ago (2026-11-18T02:00:00Z)`.
    pub value: String,
    /// What an admin should try; only on `warn` and `fail`.
    pub fix: Option<String>,
    /// How long the check took.
    pub duration_ms: u64,
}

impl Check {
    /// Names `finding` as `kind`, which took `elapsed`.
    pub(crate) fn new(kind: CheckKind, finding: Finding, elapsed: Duration) -> Self {
        Self {
            name: kind.name(),
            title: kind.title(),
            verdict: finding.verdict,
            value: finding.value,
            fix: finding.fix,
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Everything `agent doctor` found; `--json` prints it as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// When the checks ran.
    pub checked_at: DateTime<Utc>,
    /// The worst verdict of any check (`pass` when every check passed or was skipped).
    pub verdict: Verdict,
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
}

impl Report {
    /// The report of `checks`, made at `checked_at`.
    pub(crate) fn new(checked_at: DateTime<Utc>, checks: Vec<Check>) -> Self {
        let verdict = checks.iter().map(|check| check.verdict).max().unwrap_or(Verdict::Pass).max(Verdict::Pass);
        Self { checked_at, verdict, checks }
    }

    /// How many checks came out as `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|check| check.verdict == verdict).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(verdict: Verdict) -> Check {
        let finding = Finding::judged(verdict, "measured", "try this");
        Check::new(CheckKind::LastCheckin, finding, Duration::from_millis(3))
    }

    #[test]
    fn the_report_takes_the_worst_verdict_and_skipped_counts_as_nothing() {
        let cases: [(&[Verdict], Verdict); 6] = [
            (&[], Verdict::Pass),
            (&[Verdict::Skipped], Verdict::Pass),
            (&[Verdict::Pass, Verdict::Skipped], Verdict::Pass),
            (&[Verdict::Pass, Verdict::Warn, Verdict::Skipped], Verdict::Warn),
            (&[Verdict::Fail, Verdict::Warn], Verdict::Fail),
            (&[Verdict::Skipped, Verdict::Fail], Verdict::Fail),
        ];
        for (verdicts, expected) in cases {
            let report = Report::new(Utc::now(), verdicts.iter().copied().map(check).collect());
            assert_eq!(report.verdict, expected, "{verdicts:?}");
        }
    }

    #[test]
    fn only_warnings_and_failures_carry_a_fix() {
        for (verdict, has_fix) in
            [(Verdict::Pass, false), (Verdict::Skipped, false), (Verdict::Warn, true), (Verdict::Fail, true)]
        {
            assert_eq!(check(verdict).fix.is_some(), has_fix, "{verdict:?}");
        }
    }
}

//! Folder permissions (daily check-in): files and folders anyone may write to,
//! under the configured folders (`/Applications` and the system folder by default).
//!
//! A world-writable app bundle lets any local user replace code that an admin will
//! later run. Each folder is searched without following symbolic links, without
//! crossing into another volume, down to `max_depth` levels and at most
//! `max_entries` entries, on a blocking thread so the agent stays responsive. Only
//! regular files and folders count (links have no permissions of their own;
//! sockets and devices are not what this check is about), and a folder named
//! `Drop Box` is world-writable by design. With `fix` (the default) the
//! world-write bit is cleared (`0777` → `0775`); without it the entries are
//! reported and the parameter fails, like an audit without a remediation.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::file_system::{mode_text, permission_bits, set_mode_of_examined};
use super::summary::{Findings, name_some};
use super::{ParameterContext, ParameterReport};
use crate::blueprint::FolderPermissions;
use crate::items::ItemReport;
use crate::state::ItemStatus;

/// The parameter's key in the blueprint.
pub(crate) const ID: &str = "folder_permissions";
/// What admins call it.
pub(crate) const NAME: &str = "Folder permissions";
const WORLD_WRITABLE: u32 = 0o002;
/// The macOS Public folder's drop box: anyone may drop files in, by design.
const DROP_BOX: &str = "Drop Box";
/// How many entries are examined between looks at the deadline.
const ENTRIES_BETWEEN_CHECKS: u32 = 512;

/// Searches every configured folder, fixes (or reports) what anyone may write to.
pub(crate) async fn enforce(settings: &FolderPermissions, context: &ParameterContext<'_>) -> ParameterReport {
    let settings = settings.clone();
    let root = context.paths.root.clone();
    let stop = Stop { deadline: context.deadline.into_std(), cancel: context.cancel.clone() };
    match tokio::task::spawn_blocking(move || check(&settings, &root, &stop)).await {
        Ok(report) => report,
        Err(error) => {
            let report = ItemReport::failed(format!("the permission check stopped unexpectedly: {error}"));
            ParameterReport { id: ID.into(), name: NAME.into(), report, reapplied: 0 }
        }
    }
}

/// When a search must stop early.
pub(crate) struct Stop {
    /// The run's budget ends here.
    pub(crate) deadline: Instant,
    /// The agent is shutting down.
    pub(crate) cancel: CancellationToken,
}

/// Why a search stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    Deadline,
    Cancelled,
}

impl Stop {
    fn interruption(&self) -> Option<Interruption> {
        if self.cancel.is_cancelled() {
            Some(Interruption::Cancelled)
        } else if Instant::now() >= self.deadline {
            Some(Interruption::Deadline)
        } else {
            None
        }
    }
}

/// How the search of one folder ended.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// The folder is not there (or not a folder); nothing to search.
    Absent(&'static str),
    /// Every entry within the depth was examined.
    Complete,
    /// `max_entries` entries were examined; the rest were not.
    LimitReached,
    /// The deadline or a shutdown stopped it.
    Interrupted(Interruption),
}

/// Searches the folders in order and reports.
pub(crate) fn check(settings: &FolderPermissions, root: &Path, stop: &Stop) -> ParameterReport {
    let mut findings = Findings::new("entry", "entries");
    let mut searched = Vec::new();
    let mut limited = Vec::new();
    for folder in &settings.folders {
        let shown = folder.to_string();
        match Search::new(settings, stop, &mut findings).run(&folder.under(root), &shown) {
            Scan::Absent(why) => findings.note(format!("skipped: {shown} ({why})")),
            Scan::Complete => searched.push(shown),
            Scan::LimitReached => {
                findings.note(format!("limit: stopped after {} entries of {shown}", settings.max_entries));
                limited.push(shown.clone());
                searched.push(shown);
            }
            Scan::Interrupted(interruption) => return interrupted(findings, interruption, &shown),
        }
    }
    let message = summarise(&findings, settings, &searched, &limited);
    findings.into_report(ID, NAME, message)
}

/// The one-line message once every folder was searched.
fn summarise(findings: &Findings, settings: &FolderPermissions, searched: &[String], limited: &[String]) -> String {
    let folders = settings.folders.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let compliant = if searched.is_empty() {
        format!("none of the folders exists ({folders})")
    } else {
        format!("none of {} in {} is world-writable", findings.count(findings.checked()), searched.join(", "))
    };
    let left = findings.failures();
    let mut message = if settings.fix || left.is_empty() {
        findings.message("fixed", &compliant)
    } else {
        let total = findings.count(findings.checked());
        format!(
            "not compliant: {} of {total} world-writable, left as they are (fix is off): {}",
            left.len(),
            name_some(left)
        )
    };
    if !limited.is_empty() {
        message.push_str(&format!(" (stopped at the {}-entry limit in {})", settings.max_entries, limited.join(", ")));
    }
    message
}

/// The report of a search the deadline or a shutdown cut short.
fn interrupted(findings: Findings, interruption: Interruption, folder: &str) -> ParameterReport {
    let (status, reason) = match interruption {
        Interruption::Deadline => (ItemStatus::TimedOut, "the run's budget ran out"),
        Interruption::Cancelled => (ItemStatus::Failed, "the agent is shutting down"),
    };
    let mut message = format!("stopped while searching {folder}: {reason}");
    if !findings.changes().is_empty() {
        message.push_str(&format!("; fixed {} so far: {}", findings.changes().len(), name_some(findings.changes())));
    }
    let mut report = findings.into_report(ID, NAME, message);
    report.report.status = status;
    report
}

/// One folder's search.
struct Search<'a> {
    settings: &'a FolderPermissions,
    stop: &'a Stop,
    findings: &'a mut Findings,
    examined: u32,
    flagged: u32,
}

impl<'a> Search<'a> {
    fn new(settings: &'a FolderPermissions, stop: &'a Stop, findings: &'a mut Findings) -> Self {
        Self { settings, stop, findings, examined: 0, flagged: 0 }
    }

    /// Searches `base` (shown to admins as `shown`), depth first, entries in byte order.
    fn run(mut self, base: &Path, shown: &str) -> Scan {
        let metadata = match std::fs::symlink_metadata(base) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Scan::Absent("not present"),
            Err(error) => {
                self.findings.failed(1, format!("{shown}: cannot be read: {error}"));
                return Scan::Complete;
            }
        };
        if metadata.file_type().is_symlink() {
            return Scan::Absent("a symbolic link, not followed");
        }
        if !metadata.is_dir() {
            return Scan::Absent("not a folder");
        }
        let device = metadata.dev();
        self.examine(base, shown, "", &metadata);
        let mut pending = vec![(base.to_path_buf(), PathBuf::from(shown), 1)];
        let scan = loop {
            let Some((folder, folder_shown, depth)) = pending.pop() else { break Scan::Complete };
            if let Some(interruption) = self.stop.interruption() {
                break Scan::Interrupted(interruption);
            }
            match self.search_folder(&folder, &folder_shown, depth, device) {
                Ok(deeper) => pending.extend(deeper.into_iter().rev()),
                Err(scan) => break scan,
            }
        };
        self.findings.checked_quietly(self.examined.saturating_sub(self.flagged) as usize);
        scan
    }

    /// Examines the entries of one folder; the folders to search next, in order.
    fn search_folder(
        &mut self,
        folder: &Path,
        shown: &Path,
        depth: u32,
        device: u64,
    ) -> Result<Vec<(PathBuf, PathBuf, u32)>, Scan> {
        let entries = match sorted_entries(folder) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                // The folder was counted when it was examined; its failure is not another entry.
                self.flagged += 1;
                self.findings.failed(1, format!("{}: cannot be read: {error}", shown.display()));
                return Ok(Vec::new());
            }
        };
        let mut deeper = Vec::new();
        for (name, metadata) in entries {
            if self.examined >= self.settings.max_entries {
                return Err(Scan::LimitReached);
            }
            if self.examined % ENTRIES_BETWEEN_CHECKS == 0 {
                if let Some(interruption) = self.stop.interruption() {
                    return Err(Scan::Interrupted(interruption));
                }
            }
            let (path, entry_shown) = (folder.join(&name), shown.join(&name));
            self.examine(&path, &entry_shown.to_string_lossy(), &name.to_string_lossy(), &metadata);
            if metadata.is_dir() && depth < self.settings.max_depth && metadata.dev() == device {
                deeper.push((path, entry_shown, depth + 1));
            }
        }
        Ok(deeper)
    }

    /// Counts one entry and, when anyone may write to it, fixes or reports it.
    fn examine(&mut self, path: &Path, shown: &str, name: &str, metadata: &Metadata) {
        self.examined += 1;
        let mode = permission_bits(metadata);
        let relevant = metadata.is_file() || (metadata.is_dir() && name != DROP_BOX);
        if !relevant || mode & WORLD_WRITABLE == 0 {
            return;
        }
        self.flagged += 1;
        if !self.settings.fix {
            return self.findings.failed(1, format!("{shown} ({})", mode_text(mode)));
        }
        let fixed = mode & !WORLD_WRITABLE;
        match set_mode_of_examined(path, metadata, fixed) {
            Ok(()) => self.findings.changed("fixed", format!("{shown} ({} → {})", mode_text(mode), mode_text(fixed))),
            Err(error) => self.findings.failed(1, format!("{shown}: {error}")),
        }
    }
}

/// A folder's entries with their own metadata (links not followed), by name.
fn sorted_entries(folder: &Path) -> std::io::Result<Vec<(std::ffi::OsString, Metadata)>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        match entry.metadata() {
            Ok(metadata) => entries.push((entry.file_name(), metadata)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    entries.sort_by(|left, right| left.0.cmp(&right.0));
    Ok(entries)
}

#[cfg(test)]
#[path = "folder_permissions_tests.rs"]
mod tests;

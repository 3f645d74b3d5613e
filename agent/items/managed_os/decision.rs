//! Deciding what a managed OS item does, from facts already read.
//!
//! Pure: the installed version, the offered updates and the check-in's start
//! time go in, a decision comes out, so every case is a table row in the tests.
//!
//! - At or above the minimum: compliant; nothing else is looked at.
//! - Below it with an update that reaches it: before the deadline (or with no
//!   deadline) the item only reports the update as pending and succeeds: the
//!   device is inside the grace period the admin chose, so a red item every 15
//!   minutes for weeks would drown real failures. Once the deadline has passed,
//!   the update is installed.
//! - Below it with no update that reaches it (Apple has not released the
//!   version, or this Mac cannot run it): before the deadline that is reported
//!   and succeeds, as nothing is wrong yet; after the deadline it fails, because
//!   the device is out of compliance and the agent cannot fix it: the admin must.
//!
//! Which update: among the macOS updates reaching the minimum, the newest one
//! within the installed major version (a 14.6 Mac with a 14.7 minimum gets the
//! latest 14.x, not Sequoia); a major upgrade only when no update within the
//! installed major version reaches the minimum, and then the oldest major that does.

use chrono::{DateTime, Utc};

use crate::blueprint::ManagedOs;
use crate::operating_system::{AvailableUpdate, OsVersion};

/// What the item does about the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing to install now: report what was found.
    Report(Finding),
    /// An update reaches the minimum and the deadline has passed: install it.
    Enforce(Candidate),
}

/// What an item that installs nothing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// The installed version meets the minimum.
    Compliant,
    /// An update reaches the minimum; its deadline has not passed (or there is none).
    Pending(Candidate),
    /// No offered update reaches the minimum.
    NoUpdate {
        /// The newest macOS update offered, which falls short, if any.
        newest_offered: Option<Candidate>,
        /// The deadline has passed, so the device is now out of compliance.
        deadline_passed: bool,
    },
}

/// An offered macOS update and the version it brings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// The update as `softwareupdate --list` printed it.
    pub(crate) update: AvailableUpdate,
    /// The macOS version it installs.
    pub(crate) version: OsVersion,
}

/// Decides what to do about a device running `installed` that is offered
/// `updates`, at the check-in's start time `now`.
pub(crate) fn decide(
    settings: &ManagedOs,
    installed: &OsVersion,
    updates: &[AvailableUpdate],
    now: DateTime<Utc>,
) -> Decision {
    if *installed >= settings.minimum_version {
        return Decision::Report(Finding::Compliant);
    }
    let deadline_passed = settings.deadline.is_some_and(|deadline| now >= deadline);
    let offered: Vec<Candidate> = updates
        .iter()
        .filter_map(|update| update.os_version().map(|version| Candidate { update: update.clone(), version }))
        .collect();
    match choose(&settings.minimum_version, installed, &offered) {
        Some(candidate) if deadline_passed => Decision::Enforce(candidate.clone()),
        Some(candidate) => Decision::Report(Finding::Pending(candidate.clone())),
        None => {
            let newest_offered = offered.iter().max_by(|left, right| left.version.cmp(&right.version)).cloned();
            Decision::Report(Finding::NoUpdate { newest_offered, deadline_passed })
        }
    }
}

/// The update to install: the newest within the installed major version that
/// reaches the minimum, else the newest of the oldest major that does.
fn choose<'a>(minimum: &OsVersion, installed: &OsVersion, offered: &'a [Candidate]) -> Option<&'a Candidate> {
    let reaching = || offered.iter().filter(|candidate| candidate.version >= *minimum);
    let newest = |left: &&Candidate, right: &&Candidate| left.version.cmp(&right.version);
    if let Some(same_major) =
        reaching().filter(|candidate| candidate.version.major() == installed.major()).max_by(newest)
    {
        return Some(same_major);
    }
    let lowest_major = reaching().map(|candidate| candidate.version.major()).min()?;
    reaching().filter(|candidate| candidate.version.major() == lowest_major).max_by(newest)
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;

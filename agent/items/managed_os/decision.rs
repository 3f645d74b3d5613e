//! Deciding what a managed OS item does, from facts already read.
//!
//! Pure: the installed version, the offered updates, the check-in's start time,
//! what earlier check-ins saved (reminders shown, deferrals used, a countdown
//! started), whether someone is logged in and the kind of Mac go in; a decision
//! comes out, so every case is a table row in the tests.
//!
//! - At or above the minimum: compliant; nothing else is looked at (the saved
//!   pending work is cleared).
//! - Below it with no update that reaches it (Apple has not released the
//!   version, or this Mac cannot run it): before the deadline that is reported
//!   and succeeds, as nothing is wrong yet; after the deadline it fails, because
//!   the device is out of compliance and the agent cannot fix it: the admin must.
//! - Below it with an update that reaches it, before `deadline - notify_before`
//!   (or with no deadline): the update is reported as pending and the item
//!   succeeds: the device is inside the grace period the admin chose, so a red
//!   item every 15 minutes for weeks would drown real failures.
//! - From `notify_before` ahead of the deadline, on an Intel Mac with someone
//!   logged in: a reminder ("Update Now" / "Later") at most once per
//!   `notices.interval`; in between the item is `deferred` and shows nothing.
//! - Past the deadline, or with every deferral used: with someone logged in, the
//!   final notice counts down `restart_countdown` and the update is installed when
//!   it ends (a countdown already started resumes where it was; one already over
//!   installs at once); with nobody logged in, the update is installed at once. An
//!   item whose `install_action` is `install` restarts nothing, so it installs
//!   at once. A person who used their last deferral is not counted down before
//!   the interval since that reminder has passed.
//! - Asked for in Self Service (Update Now), whenever an update reaches the
//!   minimum: installed at once on Intel, Software Update opened for the person on
//!   Apple silicon; no notice, no countdown: the person asked.
//! - On Apple silicon the agent never installs (`softwareupdate --install` needs a
//!   volume owner's credentials there): from `notify_before` on, the person is
//!   asked, at most once per interval, to open Software Update, and the item
//!   waits for them.
//!
//! Which update: among the macOS updates reaching the minimum, the newest one
//! within the installed major version (a 14.6 Mac with a 14.7 minimum gets the
//! latest 14.x, not Sequoia); a major upgrade only when no update within the
//! installed major version reaches the minimum, and then the oldest major that does.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::blueprint::{InstallAction, ManagedOs};
use crate::operating_system::{AvailableUpdate, OsVersion};

/// What the item does about the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing to install or show now: report what was found.
    Report(Finding),
    /// Do `Action` about the update `Candidate`.
    Act(Candidate, Action),
}

/// What is done about an update that reaches the minimum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Remind the person (Intel, before the deadline, deferrals left).
    Remind,
    /// The person was told less than `notices.interval` ago: show nothing, the
    /// item is deferred until `until`.
    Wait {
        /// When the next notice may be shown.
        until: DateTime<Utc>,
    },
    /// Show the final notice, counting down to `ends_at`, then install.
    Countdown {
        /// When the countdown ends, and the install starts whatever the person does.
        ends_at: DateTime<Utc>,
        /// True when an earlier check-in started it: it goes on, not over.
        resumed: bool,
    },
    /// Install now, for `reason`, with no notice.
    Install {
        /// Why it is installed now, without a notice.
        reason: InstallReason,
    },
    /// The person asked for it in Self Service (Update Now): install at once on
    /// Intel, open Software Update for them on Apple silicon. No notice: they asked.
    PersonAsked,
    /// Apple silicon: only the person can install it; the item waits for them.
    AskThePerson {
        /// Show the notice now: someone is logged in and was not told within the interval.
        notify: bool,
    },
}

/// Why an update is installed with no notice first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstallReason {
    /// Nobody is logged in: nobody to warn, nothing to lose.
    NobodyLoggedIn,
    /// The countdown a person was shown ended (while the agent was not running).
    CountdownOver,
    /// `install_action` is `install`: nothing restarts, so nothing is disrupted.
    NoRestart,
}

/// What an item that installs nothing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// The installed version meets the minimum.
    Compliant,
    /// An update reaches the minimum; its deadline is not near (or there is
    /// none), or nobody is logged in to be reminded.
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

/// What earlier check-ins saved about the person and one update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// The update it is about (its `softwareupdate` label): another update starts
    /// the counting over.
    pub(crate) subject: String,
    /// When the last notice was shown.
    pub(crate) notice_shown_at: Option<DateTime<Utc>>,
    /// How many times the person chose "Later".
    pub(crate) deferrals_used: u32,
    /// When the countdown shown to the person ends, once one has started.
    pub(crate) countdown_ends_at: Option<DateTime<Utc>>,
}

/// Everything the decision rests on, read before it.
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    /// The installed macOS version.
    pub(crate) installed: &'a OsVersion,
    /// What `softwareupdate --list` offers.
    pub(crate) updates: &'a [AvailableUpdate],
    /// The check-in's start time.
    pub(crate) now: DateTime<Utc>,
    /// What earlier check-ins saved, if anything.
    pub(crate) progress: Option<&'a Progress>,
    /// `notices.interval`: the same item's notice is shown at most once per interval.
    pub(crate) notice_interval: Duration,
    /// Someone is logged in at the Mac's screen.
    pub(crate) someone_logged_in: bool,
    /// The Mac has Apple silicon, where the agent cannot install macOS updates.
    pub(crate) apple_silicon: bool,
    /// The person asked for this item in Self Service (Update Now on its pending work).
    pub(crate) asked_by_person: bool,
}

/// Decides what to do about the device `facts` describe.
pub(crate) fn decide(settings: &ManagedOs, facts: &Facts<'_>) -> Decision {
    if *facts.installed >= settings.minimum_version {
        return Decision::Report(Finding::Compliant);
    }
    let deadline_passed = settings.deadline.is_some_and(|deadline| facts.now >= deadline);
    let offered: Vec<Candidate> = facts
        .updates
        .iter()
        .filter_map(|update| update.os_version().map(|version| Candidate { update: update.clone(), version }))
        .collect();
    let Some(candidate) = choose(&settings.minimum_version, facts.installed, &offered).cloned() else {
        let newest_offered = offered.iter().max_by(|left, right| left.version.cmp(&right.version)).cloned();
        return Decision::Report(Finding::NoUpdate { newest_offered, deadline_passed });
    };
    if facts.asked_by_person {
        return Decision::Act(candidate, Action::PersonAsked);
    }
    let window_open = settings.deadline.is_some_and(|deadline| facts.now >= reminders_start(deadline, settings));
    if !window_open {
        return Decision::Report(Finding::Pending(candidate));
    }
    let progress = facts.progress.filter(|progress| progress.subject == candidate.update.label);
    let quiet_until = progress
        .and_then(|progress| progress.notice_shown_at)
        .and_then(|shown| chrono::Duration::from_std(facts.notice_interval).ok().map(|interval| shown + interval))
        .filter(|until| facts.now < *until);
    if facts.apple_silicon {
        let notify = facts.someone_logged_in && quiet_until.is_none();
        return Decision::Act(candidate, Action::AskThePerson { notify });
    }
    let deferrals_used = progress.map_or(0, |progress| progress.deferrals_used);
    if deadline_passed || deferrals_used >= settings.max_deferrals {
        let action = enforce(settings, facts, progress, quiet_until.filter(|_| !deadline_passed));
        return Decision::Act(candidate, action);
    }
    match quiet_until {
        _ if !facts.someone_logged_in => Decision::Report(Finding::Pending(candidate)),
        Some(until) => Decision::Act(candidate, Action::Wait { until }),
        None => Decision::Act(candidate, Action::Remind),
    }
}

/// When reminders start: `notify_before` ahead of the deadline.
fn reminders_start(deadline: DateTime<Utc>, settings: &ManagedOs) -> DateTime<Utc> {
    chrono::Duration::from_std(settings.notify_before)
        .ok()
        .and_then(|ahead| deadline.checked_sub_signed(ahead))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The deadline has passed, or the deferrals are used up (then `quiet_until` says
/// until when the last reminder keeps the countdown away).
fn enforce(
    settings: &ManagedOs,
    facts: &Facts<'_>,
    progress: Option<&Progress>,
    quiet_until: Option<DateTime<Utc>>,
) -> Action {
    let install = |reason| Action::Install { reason };
    if settings.install_action == InstallAction::Install {
        return install(InstallReason::NoRestart);
    }
    if !facts.someone_logged_in {
        return install(InstallReason::NobodyLoggedIn);
    }
    match progress.and_then(|progress| progress.countdown_ends_at) {
        Some(ends_at) if ends_at <= facts.now => install(InstallReason::CountdownOver),
        Some(ends_at) => Action::Countdown { ends_at, resumed: true },
        None => match quiet_until {
            Some(until) => Action::Wait { until },
            None => {
                let countdown = chrono::Duration::from_std(settings.restart_countdown).unwrap_or_default();
                Action::Countdown { ends_at: facts.now + countdown, resumed: false }
            }
        },
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

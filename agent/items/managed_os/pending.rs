//! A managed OS item's pending work in the store: what `agent status` lists
//! (what will happen, by when, where it stands), and what the next check-in
//! resumes from (the last notice, the deferrals used, a countdown's end).
//!
//! The store is the agent's own: failing to write it does not fail the item (the
//! update still matters more), it is logged, and at worst a notice comes back
//! sooner or a countdown starts over.

use chrono::{DateTime, Utc};

use super::decision::{Candidate, Progress};
use crate::blueprint::{InstallAction, ManagedOs};
use crate::items::ItemContext;
use crate::state::{Deferral, PendingWork};

/// What a person's answer to a notice is recorded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Recorded {
    /// "Later": counted against `max_deferrals`.
    Later,
    /// The notice gave up: recorded, not counted.
    NoAnswer,
}

impl Recorded {
    /// The choice's word in the store and the results report.
    fn as_str(self) -> &'static str {
        match self {
            Recorded::Later => "later",
            Recorded::NoAnswer => "no_answer",
        }
    }
}

/// The item's saved pending work, if any.
pub(super) fn saved(context: &ItemContext<'_>) -> Option<PendingWork> {
    context.store.pending_work(context.item_id).unwrap_or_else(|error| {
        tracing::warn!(item_id = %context.item_id, error = %error, "Could not read the item's pending work; starting afresh.");
        None
    })
}

/// What the decision needs of the saved work.
pub(super) fn progress(work: &PendingWork) -> Progress {
    Progress {
        subject: work.subject.clone(),
        notice_shown_at: work.notice_shown_at,
        deferrals_used: work.deferrals_used,
        countdown_ends_at: work.countdown_ends_at,
    }
}

/// The pending work about `candidate`: the saved one when it is about the same
/// update, else a fresh one (a new update starts the counting over).
pub(super) fn about(
    candidate: &Candidate,
    settings: &ManagedOs,
    apple_silicon: bool,
    saved: Option<&PendingWork>,
    context: &ItemContext<'_>,
) -> PendingWork {
    let label = &candidate.update.label;
    let fresh = || PendingWork {
        item_id: context.item_id.to_string(),
        item_name: context.item_name.to_string(),
        action: String::new(),
        subject: label.clone(),
        deadline: settings.deadline,
        state: String::new(),
        notice_shown_at: None,
        deferrals_used: 0,
        countdown_ends_at: None,
        updated_at: Utc::now(),
    };
    let mut work = saved.filter(|work| work.subject == *label).cloned().unwrap_or_else(fresh);
    work.item_name = context.item_name.to_string();
    work.deadline = settings.deadline;
    work.action = action(candidate, settings, apple_silicon);
    work
}

/// What will happen, in words: `install macOS Sonoma 14.7.1 and restart`.
fn action(candidate: &Candidate, settings: &ManagedOs, apple_silicon: bool) -> String {
    let title = &candidate.update.title;
    match settings.install_action {
        _ if apple_silicon => format!("install {title} (by the person at the Mac, in Software Update)"),
        InstallAction::InstallAndRestart => format!("install {title} and restart"),
        InstallAction::Install => format!("install {title}"),
    }
}

/// Saves `work` with its `state` words.
pub(super) fn save(context: &ItemContext<'_>, mut work: PendingWork, state: String) {
    work.state = state;
    work.updated_at = Utc::now();
    if let Err(error) = context.store.save_pending_work(&work) {
        tracing::warn!(item_id = %context.item_id, error = %error, "Could not save the item's pending work.");
    }
}

/// Forgets the item's pending work: the device is compliant, or the update installed.
pub(super) fn clear(context: &ItemContext<'_>) {
    if let Err(error) = context.store.clear_pending_work(context.item_id) {
        tracing::warn!(item_id = %context.item_id, error = %error, "Could not clear the item's pending work.");
    }
}

/// Records `user`'s answer against the run, with `reason` in words.
pub(super) fn record(context: &ItemContext<'_>, at: DateTime<Utc>, user: &str, choice: Recorded, reason: String) {
    let deferral = Deferral {
        run_id: context.run_id.to_string(),
        item_id: context.item_id.to_string(),
        at,
        user: user.to_string(),
        choice: choice.as_str().to_string(),
        reason,
    };
    if let Err(error) = context.store.record_deferral(&deferral) {
        tracing::warn!(item_id = %context.item_id, error = %error, "Could not record the person's answer.");
    }
    tracing::info!(item_id = %context.item_id, user = %user, choice = %choice.as_str(), "Recorded the person's answer to a notice.");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::items::ScratchItem;
    use crate::operating_system::{OsVersion, parse_software_update_list};

    const SONOMA_UPDATE: &str = include_str!("../../../tests/fixtures/softwareupdate/sonoma-update.txt");

    fn settings(install_action: InstallAction) -> ManagedOs {
        ManagedOs {
            minimum_version: OsVersion::parse("14.7").unwrap(),
            deadline: Some(Utc::now()),
            install_action,
            notify_before: Duration::from_secs(3600),
            restart_countdown: Duration::from_secs(60),
            max_deferrals: 3,
        }
    }

    #[test]
    fn work_about_the_same_update_goes_on_and_a_new_update_starts_over() {
        let update = parse_software_update_list(SONOMA_UPDATE).remove(0);
        let candidate = Candidate { version: update.os_version().unwrap(), update };
        let mut scratch = ScratchItem::new();
        let context = scratch.context();
        let restart = settings(InstallAction::InstallAndRestart);
        let fresh = about(&candidate, &restart, false, None, &context);
        assert_eq!((fresh.deferrals_used, fresh.subject.as_str()), (0, "macOS Sonoma 14.7.1-23H222"));
        assert_eq!(fresh.action, "install macOS Sonoma 14.7.1 and restart");
        assert_eq!((fresh.item_id.as_str(), fresh.item_name.as_str()), ("scratch-item", "Scratch item"));

        let used = PendingWork { deferrals_used: 2, notice_shown_at: Some(Utc::now()), ..fresh.clone() };
        save(&context, used.clone(), "deferred by ada (2 of 3)".into());
        let saved = saved(&context).expect("saved");
        assert_eq!((saved.deferrals_used, saved.state.as_str()), (2, "deferred by ada (2 of 3)"));
        let same = about(&candidate, &settings(InstallAction::Install), false, Some(&saved), &context);
        assert_eq!((same.deferrals_used, same.action.as_str()), (2, "install macOS Sonoma 14.7.1"));
        let apple = about(&candidate, &restart, true, Some(&saved), &context);
        assert_eq!(apple.action, "install macOS Sonoma 14.7.1 (by the person at the Mac, in Software Update)");

        let older = PendingWork { subject: "macOS Sonoma 14.7-23H124".into(), ..saved };
        let over = about(&candidate, &restart, false, Some(&older), &context);
        assert_eq!((over.deferrals_used, over.notice_shown_at), (0, None), "a new update starts the counting over");

        record(&context, Utc::now(), "ada", Recorded::NoAnswer, "did not answer".into());
        let recorded = context.store.deferrals_of_run(context.run_id).unwrap();
        assert_eq!((recorded[0].choice.as_str(), recorded[0].user.as_str()), ("no_answer", "ada"));
        clear(&context);
        assert_eq!(super::saved(&context), None);
    }
}

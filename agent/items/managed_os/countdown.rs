//! The final notice past the deadline (or once every deferral is used): it counts
//! down `restart_countdown`, and the update is installed when it ends or when
//! the person clicks "Restart Now".
//!
//! The countdown's end is saved before the notice shows, so an agent restarted
//! meanwhile resumes with the time left instead of starting over, and installs
//! at once when it already ended. A notice that comes back before the end
//! without "Restart Now" (it could not be shown, or gave up early) does not
//! shorten the countdown: the install still waits for its end.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::messages::{self, Why};
use super::notices;
use super::pending;
use super::reminder::clicked;
use super::{Subject, install, person_at_the_mac};
use crate::items::{ItemContext, ItemReport};
use crate::person::Notice;
use crate::tool_runner::Transcript;

/// Counts down to `ends_at` with the person told, then installs for `why`.
pub(super) async fn count_down(
    subject: &Subject<'_>,
    ends_at: DateTime<Utc>,
    why: &Why,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<ItemReport, ItemReport> {
    let mut work = subject.work.clone();
    work.countdown_ends_at = Some(ends_at);
    work.notice_shown_at = Some(Utc::now());
    pending::save(context, work, format!("restart at {}", messages::format_time(ends_at)));
    let restart_now = show(subject, ends_at, context, transcript).await;
    if !restart_now {
        if let Err(why_not) = wait_until(ends_at, context).await {
            tracing::info!(item_id = %context.item_id, "The restart countdown outlived the run; it resumes at the next check-in.");
            return Ok(messages::countdown_goes_on(&subject.candidate, ends_at, why_not));
        }
    }
    install(subject, why, context, transcript).await
}

/// Shows the countdown notice for the time left; true when the person clicked
/// "Restart Now".
async fn show(
    subject: &Subject<'_>,
    ends_at: DateTime<Utc>,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> bool {
    let remaining = time_left(ends_at);
    let environment = context.environment.clone();
    let Some(person) = person_at_the_mac(context, &environment) else {
        return false;
    };
    if remaining.is_zero() {
        return false;
    }
    let message = notices::countdown_message(&subject.candidate.update.title, remaining);
    let notice = Notice {
        title: notices::COUNTDOWN_TITLE,
        message: &message,
        buttons: &[notices::RESTART_NOW],
        default_button: notices::RESTART_NOW,
        timeout: remaining,
    };
    (context.on_phase)("notice");
    match person.notify(&notice, transcript).await {
        Ok(answer) => {
            let restart_now = clicked(&answer) == Some(notices::RESTART_NOW);
            let user = &person.user.name;
            tracing::info!(item_id = %context.item_id, user = %user, restart_now, "The restart countdown notice closed.");
            restart_now
        }
        Err(error) => {
            let user = &person.user.name;
            tracing::warn!(item_id = %context.item_id, user = %user, error = %error, "Could not show the restart countdown.");
            false
        }
    }
}

/// Waits for the countdown's end; `Err` says why it could not (the run's budget
/// ran out, or the agent is shutting down).
async fn wait_until(ends_at: DateTime<Utc>, context: &ItemContext<'_>) -> Result<(), &'static str> {
    let end = tokio::time::Instant::now() + time_left(ends_at);
    if end > context.deadline {
        tokio::select! {
            () = tokio::time::sleep_until(context.deadline) => return Err("the run's budget ran out first"),
            () = context.cancel.cancelled() => return Err("the agent is shutting down"),
        }
    }
    tokio::select! {
        () = tokio::time::sleep_until(end) => Ok(()),
        () = context.cancel.cancelled() => Err("the agent is shutting down"),
    }
}

/// How long until `ends_at`, zero once it passed.
fn time_left(ends_at: DateTime<Utc>) -> Duration {
    (ends_at - Utc::now()).to_std().unwrap_or_default()
}

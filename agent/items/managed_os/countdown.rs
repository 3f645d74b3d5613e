//! The final notice past the deadline (or once every deferral is used): it counts
//! down `restart_countdown`, and the update is installed when it ends or when
//! the person clicks "Restart Now".
//!
//! The countdown's end is saved before the notice shows, so an agent restarted
//! meanwhile resumes with the time left instead of starting over, and installs
//! at once when it already ended. A notice that comes back before the end
//! without "Restart Now" (it could not be shown, or gave up early) does not
//! shorten the countdown: the install still waits for its end.

use chrono::{DateTime, Utc};

use super::messages::{self, Why};
use super::notices;
use super::pending;
use super::{Subject, install, person_at_the_mac};
use crate::items::{ItemContext, ItemReport};
use crate::person::{self, Countdown, time_left};
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
        if let Err(why_not) = person::wait_until(ends_at, context.deadline, context.cancel).await {
            tracing::info!(item_id = %context.item_id, "The restart countdown outlived the run; it resumes at the next check-in.");
            return Ok(messages::countdown_goes_on(&subject.candidate, ends_at, why_not));
        }
    }
    install(subject, why, context, transcript).await
}

/// Shows the countdown notice for the time left (see [`crate::person::show`]);
/// true when the person clicked "Restart Now".
async fn show(
    subject: &Subject<'_>,
    ends_at: DateTime<Utc>,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> bool {
    let environment = context.environment.clone();
    let Some(person) = person_at_the_mac(context, &environment) else {
        return false;
    };
    if time_left(ends_at).is_zero() {
        return false;
    }
    let title = &subject.candidate.update.title;
    let message = |remaining| notices::countdown_message(title, remaining);
    let countdown = Countdown { title: notices::COUNTDOWN_TITLE, message: &message, ends_at };
    (context.on_phase)("notice");
    let restart_now = person::show(&person, &countdown, transcript).await;
    tracing::info!(item_id = %context.item_id, restart_now, "The managed OS countdown notice closed.");
    restart_now
}

//! The countdown to a restart, as the person at the Mac sees it: one notice
//! with one button, "Restart Now", that stays up for the time left and gives up
//! at its end; then the wait for that end, unless they clicked. Shared by a
//! managed OS update's final notice and the restart a custom app asks for.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::at_the_mac::PersonAtTheMac;
use super::notice::{Answer, Notice};
use crate::tool_runner::Transcript;

/// The countdown notice's only button: restart now, without waiting for the end.
pub(crate) const RESTART_NOW: &str = "Restart Now";

/// A countdown notice: its title, and its message for the time left.
pub(crate) struct Countdown<'a> {
    /// The notice's title.
    pub title: &'a str,
    /// The notice's message, given the time left (`Your Mac will restart in 5 minutes`).
    pub message: &'a dyn Fn(Duration) -> String,
    /// When the countdown ends.
    pub ends_at: DateTime<Utc>,
}

/// Shows `countdown` to `person` for the time left; true when they clicked
/// "Restart Now". Nothing is shown once the end has passed; a notice that
/// cannot be shown is logged, and counts as no click.
pub(crate) async fn show(person: &PersonAtTheMac<'_>, countdown: &Countdown<'_>, transcript: &mut Transcript) -> bool {
    let remaining = time_left(countdown.ends_at);
    if remaining.is_zero() {
        return false;
    }
    let message = (countdown.message)(remaining);
    let notice = Notice {
        title: countdown.title,
        message: &message,
        buttons: &[RESTART_NOW],
        default_button: RESTART_NOW,
        timeout: remaining,
    };
    let user = &person.user.name;
    match person.notify(&notice, transcript).await {
        Ok(answer) => {
            let restart_now = answer == Answer::Clicked(RESTART_NOW.to_string());
            tracing::info!(user = %user, restart_now, title = %countdown.title, "The restart countdown notice closed.");
            restart_now
        }
        Err(error) => {
            tracing::warn!(user = %user, error = %error, title = %countdown.title, "Could not show the restart countdown.");
            false
        }
    }
}

/// Waits for the countdown's end at `ends_at`; `Err` says why it could not:
/// `deadline` comes first, or `cancel` fires (the agent is shutting down).
pub(crate) async fn wait_until(
    ends_at: DateTime<Utc>,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(), &'static str> {
    let end = Instant::now() + time_left(ends_at);
    if end > deadline {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return Err("the run's budget ran out first"),
            () = cancel.cancelled() => return Err("the agent is shutting down"),
        }
    }
    tokio::select! {
        () = tokio::time::sleep_until(end) => Ok(()),
        () = cancel.cancelled() => Err("the agent is shutting down"),
    }
}

/// How long until `ends_at`, zero once it passed.
pub(crate) fn time_left(ends_at: DateTime<Utc>) -> Duration {
    (ends_at - Utc::now()).to_std().unwrap_or_default()
}

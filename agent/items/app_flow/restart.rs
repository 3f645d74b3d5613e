//! The restart a custom app with `restart: true` asks for after its install.
//!
//! Restarting inside a check-in would cut it short: the items after the app
//! would not run, and the run's record and its report to the tenant would be
//! lost with the agent. So the install only records the restart as the item's
//! pending work (`agent status` lists it), and the check-in restarts the Mac at
//! its very end, once everything is recorded and reported ([`restart_if_asked`]):
//! one restart for every app that asked. With someone logged in they are first
//! shown a countdown of `notices.restart_countdown` (the notice a managed OS
//! update counts down with, [`crate::person::show`]), which "Restart Now" cuts
//! short; with nobody logged in the Mac restarts at once. The restart is
//! `shutdown -r now` (`commands.shutdown`).
//!
//! The pending restart is forgotten just before `shutdown` runs. When the
//! countdown is cut short (the agent is shutting down) or `shutdown` fails, it
//! stays, and the next check-in's end tries again.

use std::ffi::OsString;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::rules::AppItem;
use crate::config::AgentConfig;
use crate::items::ItemContext;
use crate::paths::AgentPaths;
use crate::person::{self, Countdown, PersonAtTheMac};
use crate::process::deadline_after;
use crate::state::{PendingWork, Store};
use crate::tool_runner::{ToolRunner, Transcript};

/// The subject of a pending restart, which tells it from other pending work.
pub(super) const SUBJECT: &str = "restart";
/// The countdown notice's title.
const RESTART_TITLE: &str = "Restart required";
/// How long `shutdown` may take, and the notice past its countdown.
const SHUTDOWN_TIME: Duration = Duration::from_secs(60);

/// Records that the Mac restarts at the end of this check-in for `app`, and
/// says so for the item's message. A store that cannot record it is logged:
/// the app is installed, and the restart is then left to the person.
pub(super) fn ask(app: &AppItem<'_>, context: &ItemContext<'_>) -> &'static str {
    let work = PendingWork {
        item_id: context.item_id.to_string(),
        item_name: context.item_name.to_string(),
        action: format!("restart the Mac after installing {}", app.package.app.bundle_name()),
        subject: SUBJECT.to_string(),
        deadline: None,
        state: "restart at the end of this check-in".to_string(),
        notice_shown_at: None,
        deferrals_used: 0,
        countdown_ends_at: None,
        updated_at: Utc::now(),
    };
    if let Err(error) = context.store.save_pending_work(&work) {
        tracing::warn!(item_id = %context.item_id, error = %error, "Cannot record the restart the app asks for.");
        return "; the restart it asks for could not be recorded";
    }
    "; the Mac restarts at the end of this check-in"
}

/// Restarts the Mac when an install of this check-in (or an earlier one whose
/// restart did not happen) asked for it: after a countdown with someone logged
/// in, at once with nobody. Call at the very end of a check-in.
pub(crate) async fn restart_if_asked(
    paths: &AgentPaths,
    config: &AgentConfig,
    store: &Store,
    cancel: &CancellationToken,
) {
    let asked = match store.all_pending_work() {
        Ok(all) => all.into_iter().filter(|work| work.subject == SUBJECT).collect::<Vec<_>>(),
        Err(error) => {
            tracing::warn!(error = %error, "Cannot read the pending work; a restart asked for waits for the next check-in.");
            return;
        }
    };
    if asked.is_empty() || cancel.is_cancelled() {
        return;
    }
    let countdown = config.notices.restart_countdown;
    let deadline = deadline_after(Instant::now(), countdown + SHUTDOWN_TIME);
    let grace = config.timeouts.termination_grace;
    let tools = ToolRunner { root: &paths.root, environment: &[], deadline, grace, cancel };
    if let Some(person) = PersonAtTheMac::find(&paths.root, &config.commands, tools) {
        if let Err(why_not) = count_down(&person, &asked, countdown, store, deadline, cancel).await {
            tracing::info!(reason = why_not, "The restart countdown was cut short; the next check-in's end restarts.");
            return;
        }
    }
    for work in &asked {
        if let Err(error) = store.clear_pending_work(&work.item_id) {
            tracing::warn!(item_id = %work.item_id, error = %error, "Cannot forget the pending restart.");
        }
    }
    let items = names(&asked);
    tracing::info!(items = %items, "Restarting the Mac: an app's install asked for it.");
    let args = vec![OsString::from("-r"), OsString::from("now")];
    let failure = match tools.run(&config.commands.shutdown, args).await {
        Ok(run) if run.succeeded() => return,
        Ok(run) => format!("shutdown ended: {}", run.end),
        Err(error) => error.to_string(),
    };
    tracing::warn!(items = %items, error = %failure, "Could not restart the Mac; the next check-in's end tries again.");
    for work in asked {
        let state = format!("the restart failed ({failure}); tried again at the end of the next check-in");
        let work = PendingWork { state, updated_at: Utc::now(), ..work };
        if let Err(error) = store.save_pending_work(&work) {
            tracing::warn!(item_id = %work.item_id, error = %error, "Cannot record the failed restart.");
        }
    }
}

/// Shows `person` the countdown and waits for its end unless they click
/// "Restart Now"; the pending work says when the restart comes meanwhile.
async fn count_down(
    person: &PersonAtTheMac<'_>,
    asked: &[PendingWork],
    countdown: Duration,
    store: &Store,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(), &'static str> {
    let now = Utc::now();
    let ends_at = now + chrono::Duration::from_std(countdown).unwrap_or_default();
    for work in asked {
        let state = format!("restart at {} (counting down)", ends_at.to_rfc3339());
        let work = PendingWork { state, notice_shown_at: Some(now), countdown_ends_at: Some(ends_at), ..work.clone() };
        if let Err(error) = store.save_pending_work(&work) {
            tracing::warn!(item_id = %work.item_id, error = %error, "Cannot record the restart countdown.");
        }
    }
    let items = names(asked);
    let message = |remaining| restart_message(&items, remaining);
    let notice = Countdown { title: RESTART_TITLE, message: &message, ends_at };
    let restart_now = person::show(person, &notice, &mut Transcript::default()).await;
    if restart_now {
        return Ok(());
    }
    person::wait_until(ends_at, deadline, cancel).await
}

/// The items that asked for the restart, by name.
fn names(asked: &[PendingWork]) -> String {
    asked.iter().map(|work| work.item_name.as_str()).collect::<Vec<_>>().join(", ")
}

/// The countdown notice's message: `The install of Foo needs a restart. Your
/// Mac will restart in 5 minutes. Save your work now.`
fn restart_message(items: &str, remaining: Duration) -> String {
    let minutes = remaining.as_secs().div_ceil(60).max(1);
    let minutes = if minutes == 1 { "1 minute".to_string() } else { format!("{minutes} minutes") };
    format!("The install of {items} needs a restart. Your Mac will restart in {minutes}. Save your work now.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_counts_whole_minutes_rounded_up() {
        let cases = [(1, "1 minute"), (60, "1 minute"), (61, "2 minutes"), (300, "5 minutes")];
        for (seconds, minutes) in cases {
            let expected =
                format!("The install of Foo needs a restart. Your Mac will restart in {minutes}. Save your work now.");
            assert_eq!(restart_message("Foo", Duration::from_secs(seconds)), expected);
        }
    }
}

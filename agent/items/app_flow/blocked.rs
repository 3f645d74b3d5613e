//! Before an app is replaced: the blocking applications running now, and what
//! the flow does about them, by the rules of [`super::waiting`].
//!
//! - Nothing runs: the install goes ahead.
//! - Until `force_install_after`: the person is asked to quit them (at most once
//!   per `notices.interval`; "Quit and Update" asks them to quit and installs at
//!   once when they did within 30 s), the choice is recorded as a deferral, the
//!   pending work is kept for `agent status`, and the item ends `deferred`.
//!   Nobody logged in: no notice, the same deferral. A person who asked for the
//!   item in Self Service chose "Quit and Update" already.
//! - From `force_install_after` on: a notice says they quit now, they are asked
//!   to quit, given `timeouts.termination_grace`, stopped (TERM, then KILL), and
//!   the app is installed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::rules::AppItem;
use super::running::{self, RunningApplication};
use super::waiting::{self, Quitting, Step, Texts};
use crate::items::{ItemContext, ItemReport};
use crate::person::{Answer, Notice, PersonAtTheMac, QuitTarget};
use crate::state::{Deferral, ItemStatus, PendingWork};
use crate::tool_runner::Transcript;

/// Whether the install may go ahead.
pub(super) enum Way {
    /// Nothing blocks it (any more): install, keeping what was run so far and
    /// adding `note` to the install's message.
    Clear {
        /// The notices and quit requests run so far.
        transcript: Transcript,
        /// How the way was cleared, for the item's message.
        note: Option<String>,
    },
    /// The item ends here: deferred, or failed.
    Ended(ItemReport),
}

/// One install held up by running applications, and what the flow knows of it.
struct Blocked<'a, 'context> {
    app: &'a AppItem<'a>,
    context: &'a ItemContext<'context>,
    /// Where the app being installed is.
    app_path: PathBuf,
    /// The blocking applications found running.
    found: Vec<RunningApplication>,
    /// Their names, as people read them.
    names: Vec<String>,
    /// The version the app is updated to, in words.
    version: Option<String>,
    transcript: Transcript,
}

impl Blocked<'_, '_> {
    fn texts(&self) -> Texts<'_> {
        Texts { app: self.app.person_name(), version: self.version.as_deref(), running: &self.names }
    }
}

/// Looks for blocking applications and, when some run, waits for them or quits them.
pub(super) async fn clear_the_way(app: &AppItem<'_>, context: &ItemContext<'_>) -> Way {
    let app_path = app.package.app.resolve(context.paths);
    let display = app.package.app.display_path();
    let found = running::find_running(&running::blockers(app.blocking, &app_path, &display, &context.paths.root));
    if found.is_empty() {
        return Way::Clear { transcript: Transcript::default(), note: None };
    }
    let names = waiting::names(&found);
    let version = app.wanted.lowest().map(ToString::to_string);
    let mut blocked = Blocked { app, context, app_path, found, names, version, transcript: Transcript::default() };
    let subject = blocked.texts().subject();
    let pending = match context.store.pending_work(context.item_id) {
        Ok(pending) => pending.filter(|work| work.subject == subject),
        Err(error) => return Way::Ended(ItemReport::failed(format!("cannot read the item's pending work: {error}"))),
    };
    let person = PersonAtTheMac::find(&context.paths.root, &context.config.commands, context.tools());
    let shown = pending.as_ref().and_then(|work| work.notice_shown_at);
    match waiting::step(app.blocking.force_install_after, context.now, shown, context.config.notices.interval) {
        Step::Force => force(&mut blocked, person.as_ref()).await,
        Step::Wait { notice_due } => wait(&mut blocked, person.as_ref(), notice_due, pending).await,
    }
}

/// After `force_install_after`: tell the person, ask the applications to quit,
/// stop what is left, and clear the way.
async fn force(blocked: &mut Blocked<'_, '_>, person: Option<&PersonAtTheMac<'_>>) -> Way {
    let deadline = blocked.app.blocking.force_install_after.unwrap_or(blocked.context.now);
    let mut remaining = blocked.found.clone();
    if let Some(person) = person {
        let (title, message) = (blocked.texts().forced_title(), blocked.texts().forced_message());
        let buttons = [waiting::OK];
        let notice = Notice {
            title: &title,
            message: &message,
            buttons: &buttons,
            default_button: waiting::OK,
            timeout: waiting::FORCED_NOTICE_TIMEOUT,
        };
        if let Err(error) = person.notify(&notice, &mut blocked.transcript).await {
            tracing::warn!(item_id = %blocked.context.item_id, error = %error, "Cannot show the notice before quitting blocking applications.");
        }
        if ask_to_quit(blocked, person).await {
            let grace = blocked.context.termination_grace;
            remaining = wait_for_quit(blocked.context, &blocked.found, grace, Duration::from_millis(100)).await;
        }
    }
    if remaining.is_empty() {
        let note = waiting::forced_note(&blocked.found, deadline, Quitting::Quit);
        return Way::Clear { transcript: std::mem::take(&mut blocked.transcript), note: Some(note) };
    }
    let stopped = running::stop(&remaining, blocked.context.termination_grace).await;
    tracing::info!(item_id = %blocked.context.item_id, terminated = stopped.terminated.len(), killed = stopped.killed.len(), "Stopped blocking applications past force_install_after.");
    if !stopped.survived.is_empty() {
        let message =
            format!("{} after SIGKILL; the app was not replaced", waiting::still_running_with_pids(&stopped.survived));
        return Way::Ended(report(ItemStatus::Failed, message, std::mem::take(&mut blocked.transcript)));
    }
    let note = waiting::forced_note(&blocked.found, deadline, Quitting::Stopped);
    Way::Clear { transcript: std::mem::take(&mut blocked.transcript), note: Some(note) }
}

/// Until `force_install_after`: tell the person when a notice is due (or act on
/// their Self Service request), then record the deferral and keep the work pending.
async fn wait(
    blocked: &mut Blocked<'_, '_>,
    person: Option<&PersonAtTheMac<'_>>,
    notice_due: bool,
    pending: Option<PendingWork>,
) -> Way {
    let context = blocked.context;
    let mut work = pending.unwrap_or_else(|| new_work(blocked));
    let mut choice = "blocked";
    let mut reason = waiting::deferral_reason(&blocked.found);
    let answer = match (person, context.requested_by) {
        (Some(_), Some(_)) => Some(waiting::QUIT_AND_UPDATE.to_string()),
        (Some(person), None) if notice_due => ask(blocked, person, &mut work).await,
        _ => None,
    };
    let user = context.requested_by.map(str::to_string).or_else(|| person.map(|person| person.user.name.clone()));
    let user = user.unwrap_or_default();
    match (answer.as_deref(), person) {
        (Some(waiting::QUIT_AND_UPDATE), Some(person)) if ask_to_quit(blocked, person).await => {
            let left = wait_for_quit(context, &blocked.found, waiting::QUIT_WAIT, waiting::QUIT_POLL).await;
            if left.is_empty() {
                let note = waiting::quit_on_request_note(&blocked.names, &user);
                return Way::Clear { transcript: std::mem::take(&mut blocked.transcript), note: Some(note) };
            }
            reason = format!("{} after \"{}\"", waiting::still_running_with_pids(&left), waiting::QUIT_AND_UPDATE);
        }
        (Some(waiting::LATER), _) => {
            choice = "later";
            work.deferrals_used += 1;
        }
        (Some(""), _) => choice = "no_answer",
        _ => {}
    }
    defer(
        blocked,
        work,
        Deferral {
            run_id: context.run_id.to_string(),
            item_id: context.item_id.to_string(),
            at: context.now,
            user,
            choice: choice.to_string(),
            reason,
        },
    )
}

/// Shows the notice asking the person to quit; the button they clicked, `""`
/// when the notice gave up, `None` when it could not be shown.
async fn ask(blocked: &mut Blocked<'_, '_>, person: &PersonAtTheMac<'_>, work: &mut PendingWork) -> Option<String> {
    let (title, message) = (blocked.texts().wait_title(), blocked.texts().wait_message());
    let buttons = [waiting::QUIT_AND_UPDATE, waiting::LATER];
    let notice = Notice {
        title: &title,
        message: &message,
        buttons: &buttons,
        default_button: waiting::LATER,
        timeout: blocked.context.config.notices.answer_timeout,
    };
    match person.notify(&notice, &mut blocked.transcript).await {
        Ok(answer) => {
            work.notice_shown_at = Some(blocked.context.now);
            tracing::info!(item_id = %blocked.context.item_id, answer = ?answer, "Asked the person at the Mac to quit blocking applications.");
            Some(match answer {
                Answer::Clicked(button) => button,
                Answer::NoAnswer => String::new(),
            })
        }
        Err(error) => {
            tracing::warn!(item_id = %blocked.context.item_id, error = %error, "Cannot ask the person at the Mac to quit blocking applications.");
            None
        }
    }
}

/// The pending work of this install, before any notice.
fn new_work(blocked: &Blocked<'_, '_>) -> PendingWork {
    let texts = blocked.texts();
    PendingWork {
        item_id: blocked.context.item_id.to_string(),
        item_name: blocked.context.item_name.to_string(),
        action: texts.action(blocked.app.package.app.bundle_name()),
        subject: texts.subject(),
        deadline: None,
        state: String::new(),
        notice_shown_at: None,
        deferrals_used: 0,
        countdown_ends_at: None,
        updated_at: blocked.context.now,
    }
}

/// Records the deferral, keeps the work pending, and ends the item `deferred`.
fn defer(blocked: &mut Blocked<'_, '_>, mut work: PendingWork, deferral: Deferral) -> Way {
    let (context, transcript) = (blocked.context, std::mem::take(&mut blocked.transcript));
    work.deadline = blocked.app.blocking.force_install_after;
    work.state = blocked.texts().state();
    work.updated_at = context.now;
    let stored = context.store.record_deferral(&deferral).and_then(|()| context.store.save_pending_work(&work));
    if let Err(error) = stored {
        let message = format!("cannot record the deferral: {error}");
        return Way::Ended(report(ItemStatus::Failed, message, transcript));
    }
    tracing::info!(item_id = %context.item_id, choice = %deferral.choice, user = %deferral.user, "Deferred an app's install while a blocking application runs.");
    let message = waiting::deferred_message(&blocked.found, blocked.app.blocking.force_install_after);
    Way::Ended(report(ItemStatus::Deferred, message, transcript))
}

/// Asks each running application that is an app bundle to quit, as the person;
/// whether there was one to ask.
async fn ask_to_quit(blocked: &mut Blocked<'_, '_>, person: &PersonAtTheMac<'_>) -> bool {
    let targets = quit_targets(&blocked.found, &blocked.app_path, blocked.app.package.bundle_id.as_deref());
    let asked = !targets.is_empty();
    for target in targets {
        if let Err(error) = person.ask_to_quit(&target, &mut blocked.transcript).await {
            tracing::warn!(item_id = %blocked.context.item_id, target = ?target, error = %error, "Cannot ask a blocking application to quit.");
        }
    }
    asked
}

/// What to ask to quit: the app being installed by its bundle identifier (when
/// the item has one), any other app bundle by its name, each once. A process
/// outside any bundle is no app: it is only stopped, after `force_install_after`.
fn quit_targets(found: &[RunningApplication], app_path: &Path, bundle_id: Option<&str>) -> Vec<QuitTarget> {
    let resolved = std::fs::canonicalize(app_path).ok();
    let mut targets = Vec::new();
    for application in found {
        let Some(executable) = application.executable.as_deref() else { continue };
        let is_the_app =
            executable.starts_with(app_path) || resolved.as_ref().is_some_and(|path| executable.starts_with(path));
        let target = match (is_the_app, bundle_id) {
            (true, Some(bundle_id)) => QuitTarget::BundleId(bundle_id.to_string()),
            _ if waiting::bundle_of(application).is_some() => QuitTarget::Name(waiting::display_name(application)),
            _ => continue,
        };
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    targets
}

/// Waits for `found` to quit, polling every `interval`, for at most `limit` and
/// never past the item's deadline or the agent's shutdown; those still running.
async fn wait_for_quit(
    context: &ItemContext<'_>,
    found: &[RunningApplication],
    limit: Duration,
    interval: Duration,
) -> Vec<RunningApplication> {
    let limit = limit.min(context.deadline.saturating_duration_since(tokio::time::Instant::now()));
    tokio::select! {
        left = running::wait_until_gone(found, limit, interval) => left,
        () = context.cancel.cancelled() => running::still_running(found),
    }
}

/// Forgets the item's pending work once its app needs nothing more; a restart
/// an install asked for stays until it happens (see [`super::restart`]).
pub(super) fn forget_pending(context: &ItemContext<'_>) {
    let forgotten = context.store.pending_work(context.item_id).and_then(|pending| match pending {
        Some(work) if work.subject != super::restart::SUBJECT => context.store.clear_pending_work(context.item_id),
        _ => Ok(()),
    });
    if let Err(error) = forgotten {
        tracing::warn!(item_id = %context.item_id, error = %error, "Cannot forget the item's pending work.");
    }
}

fn report(status: ItemStatus, message: String, transcript: Transcript) -> ItemReport {
    let exit_code = transcript.last_exit_code();
    ItemReport { status, message, exit_code, output: transcript.into_text(), reapplied: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_itself_is_asked_by_its_bundle_id_other_apps_by_name_and_plain_processes_not_at_all() {
        let found = [
            RunningApplication::example(1, "Foo", Some("/r/Applications/Foo.app/Contents/MacOS/Foo")),
            RunningApplication::example(2, "Foo", Some("/r/Applications/Foo.app/Contents/MacOS/Foo")),
            RunningApplication::example(3, "Helper", Some("/r/Library/Foo Helper.app/Contents/MacOS/Helper")),
            RunningApplication::example(4, "foo-daemon", Some("/usr/local/bin/foo-daemon")),
            RunningApplication::example(5, "bar", None),
        ];
        let app = Path::new("/r/Applications/Foo.app");
        assert_eq!(
            quit_targets(&found, app, Some("com.example.foo")),
            [QuitTarget::BundleId("com.example.foo".into()), QuitTarget::Name("Foo Helper".into())]
        );
        assert_eq!(
            quit_targets(&found, app, None),
            [QuitTarget::Name("Foo".into()), QuitTarget::Name("Foo Helper".into())]
        );
    }
}

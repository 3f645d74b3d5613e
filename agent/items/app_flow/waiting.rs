//! What an app item does while a blocking application runs, and the words for
//! it. Pure: the flow ([`super::blocked`]) shows, records and stops.
//!
//! Until the item's `force_install_after` the install waits: the person is told
//! at most once per `notices.interval`, and the item ends `deferred`. From that
//! moment on the applications are asked to quit, then stopped, and the app is
//! installed at once.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use super::running::RunningApplication;

/// The button that asks the blocking applications to quit and installs at once.
pub(crate) const QUIT_AND_UPDATE: &str = "Quit and Update";
/// The button that leaves them running; the notice's default.
pub(crate) const LATER: &str = "Later";
/// The only button of the notice shown before the applications are quit.
pub(crate) const OK: &str = "OK";
/// How long the notice before a forced quit stays up.
pub(crate) const FORCED_NOTICE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the applications get to quit after the person chose "Quit and Update".
pub(crate) const QUIT_WAIT: Duration = Duration::from_secs(30);
/// How often the agent looks whether they quit.
pub(crate) const QUIT_POLL: Duration = Duration::from_millis(500);

/// What to do about applications found running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Wait for them to quit; tell the person first when `notice_due`.
    Wait {
        /// No notice of this item was shown within `notices.interval`.
        notice_due: bool,
    },
    /// `force_install_after` has passed: quit them, stop them, install.
    Force,
}

/// The step at `now`, given the item's `force_install_after`, when its notice
/// was last shown, and `notices.interval`.
pub(crate) fn step(
    force_install_after: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    notice_shown_at: Option<DateTime<Utc>>,
    interval: Duration,
) -> Step {
    if force_install_after.is_some_and(|deadline| now >= deadline) {
        return Step::Force;
    }
    let interval = TimeDelta::from_std(interval).unwrap_or(TimeDelta::MAX);
    let notice_due = notice_shown_at.is_none_or(|shown| now.signed_duration_since(shown) >= interval);
    Step::Wait { notice_due }
}

/// The outermost `.app` bundle a running application's executable lies in,
/// without `.app`: `Foo` for `…/Foo.app/Contents/MacOS/Foo`.
pub(crate) fn bundle_of(application: &RunningApplication) -> Option<String> {
    application.executable.as_deref()?.parent()?.components().find_map(|component| {
        let name = component.as_os_str().to_str()?;
        name.strip_suffix(".app").filter(|stem| !stem.is_empty()).map(str::to_string)
    })
}

/// How a running application is named to people: its bundle ([`bundle_of`]),
/// else its process name.
pub(crate) fn display_name(application: &RunningApplication) -> String {
    bundle_of(application).unwrap_or_else(|| application.name.clone())
}

/// The applications' names, each once, in the order found.
pub(crate) fn names(running: &[RunningApplication]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in running.iter().map(display_name) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The words of the notices and messages about one blocked install.
pub(crate) struct Texts<'a> {
    /// The app being installed, as people know it: `Foo`, `Firefox`.
    pub app: &'a str,
    /// The version it is updated to, when the item names one.
    pub version: Option<&'a str>,
    /// The blocking applications running, as [`names`] gives them.
    pub running: &'a [String],
}

impl Texts<'_> {
    /// The running applications in one phrase: `Foo`, `Foo and Bar`, `Foo, Bar and Baz`.
    fn running_phrase(&self) -> String {
        match self.running {
            [] => self.app.to_string(),
            [one] => one.clone(),
            [first @ .., last] => format!("{} and {last}", first.join(", ")),
        }
    }

    /// Only the app itself is running.
    fn only_itself(&self) -> bool {
        self.running.iter().all(|name| name == self.app)
    }

    fn plural(&self) -> bool {
        self.running.len() > 1
    }

    /// ` to 2.1`, or nothing.
    fn to_version(&self) -> String {
        self.version.map(|version| format!(" to {version}")).unwrap_or_default()
    }

    /// The title of the notice asking the person to quit.
    pub(crate) fn wait_title(&self) -> String {
        if self.only_itself() {
            format!("Quit {} to update it", self.app)
        } else {
            format!("Quit {} to update {}", self.running_phrase(), self.app)
        }
    }

    /// The message of the notice asking the person to quit.
    pub(crate) fn wait_message(&self) -> String {
        let (running, version) = (self.running_phrase(), self.to_version());
        let (need, them, they) = if self.plural() { ("need", "them", "they") } else { ("needs", "it", "it") };
        let updated = if self.only_itself() {
            format!("it can be updated{version}")
        } else {
            format!("{} can be updated{version}", self.app)
        };
        format!(
            "{running} {need} to quit so {updated}. Quit {them} when you are ready: the update is installed at the next check-in after {they} {}.",
            if self.plural() { "quit" } else { "quits" }
        )
    }

    /// The title of the notice shown as the applications are quit.
    pub(crate) fn forced_title(&self) -> String {
        format!("Updating {}", self.app)
    }

    /// The message of the notice shown as the applications are quit.
    pub(crate) fn forced_message(&self) -> String {
        let version = self.to_version();
        if self.only_itself() {
            format!("{} is quitting now to be updated{version}.", self.app)
        } else {
            let is = if self.plural() { "are" } else { "is" };
            format!("{} {is} quitting now so {} can be updated{version}.", self.running_phrase(), self.app)
        }
    }

    /// What the pending work says will happen: `replace Foo.app (Foo 2.1)`.
    pub(crate) fn action(&self, bundle: &str) -> String {
        match self.version {
            Some(version) => format!("replace {bundle} ({} {version})", self.app),
            None => format!("replace {bundle} ({})", self.app),
        }
    }

    /// What the notices are about: the app and the version it is updated to.
    pub(crate) fn subject(&self) -> String {
        match self.version {
            Some(version) => format!("{} {version}", self.app),
            None => self.app.to_string(),
        }
    }

    /// Where the pending work stands: `waiting for Foo to quit`.
    pub(crate) fn state(&self) -> String {
        format!("waiting for {} to quit", self.running_phrase())
    }
}

/// The running applications with their pids: `Foo is running (pid 123)`,
/// `Foo (pids 1, 2) and bar (pid 3) are running`.
pub(crate) fn running_with_pids(running: &[RunningApplication]) -> String {
    with_pids(running, "running")
}

/// The same, of those left after they were asked to quit: `Foo is still running (pid 123)`.
pub(crate) fn still_running_with_pids(running: &[RunningApplication]) -> String {
    with_pids(running, "still running")
}

fn with_pids(running: &[RunningApplication], state: &str) -> String {
    let grouped: Vec<(String, String)> = names(running)
        .into_iter()
        .map(|name| {
            let pids: Vec<String> = running
                .iter()
                .filter(|application| display_name(application) == name)
                .map(|application| application.pid.to_string())
                .collect();
            let label = if pids.len() == 1 { "pid" } else { "pids" };
            (name, format!("({label} {})", pids.join(", ")))
        })
        .collect();
    match grouped.as_slice() {
        [] => format!("nothing is {state}"),
        [(name, pids)] => format!("{name} is {state} {pids}"),
        [first @ .., (last, last_pids)] => {
            let first: Vec<String> = first.iter().map(|(name, pids)| format!("{name} {pids}")).collect();
            format!("{} and {last} {last_pids} are {state}", first.join(", "))
        }
    }
}

/// The item's message while it waits: `deferred: Foo is running (pid 123); it
/// is installed once Foo quits, or after 2026-12-31T17:00:00Z`.
pub(crate) fn deferred_message(running: &[RunningApplication], force_install_after: Option<DateTime<Utc>>) -> String {
    let names = names(running);
    let quits = match names.as_slice() {
        [one] => format!("{one} quits"),
        _ => "they quit".to_string(),
    };
    let after = force_install_after.map(|time| format!(", or after {}", time_text(time))).unwrap_or_default();
    format!("deferred: {}; it is installed once {quits}{after}", running_with_pids(running))
}

/// Why the install waited, for the deferral record: `Foo is running (pid 123)`.
pub(crate) fn deferral_reason(running: &[RunningApplication]) -> String {
    running_with_pids(running)
}

/// How the applications were stopped before a forced install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quitting {
    /// They quit when asked.
    Quit,
    /// They were sent SIGTERM (and SIGKILL when that was not enough).
    Stopped,
}

/// Added to the install's message after a forced quit: `Foo was running after
/// force_install_after 2026-12-31T17:00:00Z: asked to quit, then stopped`.
pub(crate) fn forced_note(running: &[RunningApplication], force_install_after: DateTime<Utc>, how: Quitting) -> String {
    let names = names(running);
    let was = if names.len() > 1 { "were" } else { "was" };
    let phrase = Texts { app: "", version: None, running: &names }.running_phrase();
    let ending = match how {
        Quitting::Quit => "asked to quit, and quit",
        Quitting::Stopped => "asked to quit, then stopped",
    };
    format!("{phrase} {was} running after force_install_after {}: {ending}", time_text(force_install_after))
}

/// Added to the install's message when the person chose "Quit and Update":
/// `Foo quit when ada chose "Quit and Update"`.
pub(crate) fn quit_on_request_note(running: &[String], user: &str) -> String {
    let phrase = Texts { app: "", version: None, running }.running_phrase();
    format!("{phrase} quit when {user} chose \"{QUIT_AND_UPDATE}\"")
}

/// A time as the blueprint gives it: `2026-12-31T17:00:00Z`.
pub(crate) fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
#[path = "waiting_tests.rs"]
mod tests;

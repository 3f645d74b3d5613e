//! Managed OS: the macOS version a device must reach, and by when.
//!
//! Audit first: the installed version is read (`sw_vers`; on Linux, where
//! there is none, `/etc/os-release` under the agent's root). At or above the
//! item's minimum the device is compliant and nothing else runs. Below it,
//! `softwareupdate --list` says what is offered, who is logged in and what kind
//! of Mac it is are read (`crate::person`), and [`decision::decide`] picks what
//! to do with what earlier check-ins saved: report, remind the person (at most
//! once per `notices.interval`), count down to the restart, install with
//! `softwareupdate --install <label> --agree-to-license [--restart]`, or, on
//! Apple silicon, ask the person to install it. What waits is saved as the
//! item's pending work, for `agent status` and the next check-in.
//! Bounded only by the run's budget: an OS update can take hours.

mod countdown;
mod decision;
mod messages;
mod notices;
mod pending;
mod reminder;
mod tools;

use std::ffi::OsString;

use chrono::{DateTime, Utc};

use self::decision::{Action, Candidate, Decision, Facts, Finding};
use self::messages::Why;
use self::tools::{not_done, run_tool};
use super::{ItemContext, ItemReport};
use crate::blueprint::{InstallAction, ManagedOs};
use crate::config::AgentConfig;
use crate::operating_system::{InstalledOs, parse_os_release, parse_software_update_list, parse_sw_vers};
use crate::person::{Architecture, PersonAtTheMac, architecture, console_user};
use crate::process::{ChildEnd, SpawnError};
use crate::state::PendingWork;
use crate::tool_runner::{ToolRunner, Transcript};

/// Audits the installed OS version and, when the decision says so, tells the
/// person, counts down, or installs the update.
pub async fn run(settings: &ManagedOs, context: &mut ItemContext<'_>) -> ItemReport {
    let mut transcript = Transcript::default();
    let report = match audit_and_enforce(settings, context, &mut transcript).await {
        Ok(report) | Err(report) => report,
    };
    ItemReport { output: transcript.into_text(), ..report }
}

/// The update a non-compliant device is offered, and all an item needs to act on it.
struct Subject<'item> {
    /// The item's settings.
    settings: &'item ManagedOs,
    /// The installed OS.
    installed: &'item InstalledOs,
    /// The update chosen.
    candidate: Candidate,
    /// Its pending work: as saved, or fresh when it is about another update.
    work: PendingWork,
    /// The Mac has Apple silicon: only the person can install the update.
    apple_silicon: bool,
}

async fn audit_and_enforce(
    settings: &ManagedOs,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<ItemReport, ItemReport> {
    let installed = read_installed(context, transcript).await?;
    if installed.version >= settings.minimum_version {
        pending::clear(context);
        return Ok(messages::found(&Finding::Compliant, &installed, settings));
    }
    let program = context.config.commands.softwareupdate.clone();
    let listed = run_tool(context, "softwareupdate --list", &program, &["--list"], transcript)
        .await
        .map_err(|error| ItemReport::failed(format!("cannot list the available updates: {error}")))?;
    if !listed.succeeded() {
        return Err(not_done("softwareupdate --list", "list the available updates", listed.end));
    }
    let updates = parse_software_update_list(&listed.output);
    let saved = pending::saved(context);
    let progress = saved.as_ref().map(pending::progress);
    let sysctl = context.config.commands.sysctl.clone();
    let apple_silicon = architecture(&context.tools(), &sysctl, transcript).await == Architecture::AppleSilicon;
    let facts = Facts {
        installed: &installed.version,
        updates: &updates,
        now: context.now,
        progress: progress.as_ref(),
        notice_interval: context.config.notices.interval,
        someone_logged_in: console_user(context.root).is_some(),
        apple_silicon,
        asked_by_person: context.requested_by.is_some(),
    };
    let decision = decision::decide(settings, &facts);
    tracing::debug!(item_id = %context.item_id, decision = ?decision, "Decided what the managed OS item does.");
    let (candidate, action) = match decision {
        Decision::Report(finding) => {
            return Ok(report(&finding, &installed, settings, apple_silicon, saved.as_ref(), context));
        }
        Decision::Act(candidate, action) => (candidate, action),
    };
    let work = pending::about(&candidate, settings, apple_silicon, saved.as_ref(), context);
    let subject = Subject { settings, installed: &installed, candidate, work, apple_silicon };
    act(action, &subject, facts.now, context, transcript).await
}

/// Reports a finding; a pending update with a deadline is saved as pending work,
/// anything else clears it.
fn report(
    finding: &Finding,
    installed: &InstalledOs,
    settings: &ManagedOs,
    apple_silicon: bool,
    saved: Option<&PendingWork>,
    context: &ItemContext<'_>,
) -> ItemReport {
    match finding {
        Finding::Pending(candidate) if settings.deadline.is_some() => {
            let work = pending::about(candidate, settings, apple_silicon, saved, context);
            pending::save(context, work, waiting_words(settings));
        }
        _ => pending::clear(context),
    }
    messages::found(finding, installed, settings)
}

/// Does `action` about `subject`.
async fn act(
    action: Action,
    subject: &Subject<'_>,
    now: DateTime<Utc>,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<ItemReport, ItemReport> {
    let settings = subject.settings;
    match action {
        Action::Remind => reminder::remind(subject, context, transcript).await,
        Action::Wait { until } => {
            let work = &subject.work;
            Ok(messages::quiet(&subject.candidate, settings, work.notice_shown_at, until, work.deferrals_used))
        }
        Action::Countdown { ends_at, resumed } => {
            // A new countdown runs its whole length from now, whatever ran before this item.
            let ends_at = if resumed { ends_at } else { Utc::now() + countdown_length(settings) };
            countdown::count_down(subject, ends_at, &why_enforced(settings, now), context, transcript).await
        }
        Action::Install { reason } => {
            tracing::info!(item_id = %context.item_id, reason = ?reason, "Installing an OS update without a notice.");
            install(subject, &why_enforced(settings, now), context, transcript).await
        }
        Action::AskThePerson { notify } => reminder::ask_the_person(subject, notify, context, transcript).await,
        Action::PersonAsked => reminder::asked_in_self_service(subject, context, transcript).await,
    }
}

/// Where a pending update stands while no notice is due: when reminders start,
/// or that nobody is logged in to be reminded.
fn waiting_words(settings: &ManagedOs) -> String {
    match settings.deadline {
        Some(deadline) => {
            let ahead = chrono::Duration::from_std(settings.notify_before).unwrap_or_default();
            let start = deadline.checked_sub_signed(ahead).unwrap_or(deadline);
            if Utc::now() < start {
                format!("reminders from {}", messages::format_time(start))
            } else {
                "to be reminded when someone is logged in".to_string()
            }
        }
        None => String::new(),
    }
}

/// The item's `restart_countdown`.
fn countdown_length(settings: &ManagedOs) -> chrono::Duration {
    chrono::Duration::from_std(settings.restart_countdown).unwrap_or_default()
}

/// Why an update is installed without the person asking: the deadline, or the
/// deferrals used up before it.
fn why_enforced(settings: &ManagedOs, now: DateTime<Utc>) -> Why {
    match settings.deadline {
        Some(deadline) if now < deadline => Why::DeferralsUsed,
        _ => Why::DeadlinePassed,
    }
}

/// The person at the Mac, if someone is logged in, reached with the item's
/// tools; `environment` is a copy of the item's, so the context stays free.
fn person_at_the_mac<'reach, 'context: 'reach>(
    context: &ItemContext<'context>,
    environment: &'reach [(OsString, OsString)],
) -> Option<PersonAtTheMac<'reach>> {
    let config: &'context AgentConfig = context.config;
    let tools = ToolRunner {
        root: context.root,
        environment,
        deadline: context.deadline,
        grace: context.termination_grace,
        cancel: context.cancel,
    };
    PersonAtTheMac::find(context.root, &config.commands, tools)
}

/// The installed OS: from the configured `sw_vers`, or from `etc/os-release`
/// under the root when that program does not exist (Linux).
async fn read_installed(context: &mut ItemContext<'_>, transcript: &mut Transcript) -> Result<InstalledOs, ItemReport> {
    let program = context.config.commands.sw_vers.clone();
    let step = match run_tool(context, "sw_vers", &program, &[], transcript).await {
        Ok(step) => step,
        Err(SpawnError::NotFound { .. }) => {
            return read_os_release(context, &program.display().to_string(), transcript);
        }
        Err(error) => return Err(ItemReport::failed(format!("cannot read the OS version: {error}"))),
    };
    if !step.succeeded() {
        return Err(not_done("sw_vers", "read the OS version", step.end));
    }
    parse_sw_vers(&step.output)
        .map_err(|error| ItemReport::failed(format!("cannot read the OS version from sw_vers: {error}")))
}

fn read_os_release(
    context: &ItemContext<'_>,
    sw_vers: &str,
    transcript: &mut Transcript,
) -> Result<InstalledOs, ItemReport> {
    let path = context.root.join("etc/os-release");
    let text = std::fs::read_to_string(&path).map_err(|error| {
        ItemReport::failed(format!(
            "cannot read the OS version: {sw_vers} does not exist and {} cannot be read ({error})",
            path.display()
        ))
    })?;
    transcript.note(&format!("{sw_vers} does not exist; read {}", path.display()), &text);
    parse_os_release(&text)
        .map_err(|error| ItemReport::failed(format!("cannot read the OS version from {}: {error}", path.display())))
}

/// Installs the update with the configured `softwareupdate`, for `why`; clears
/// the pending work once it started, keeps it (saying so) when it failed.
async fn install(
    subject: &Subject<'_>,
    why: &Why,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<ItemReport, ItemReport> {
    let Subject { settings, installed, candidate, .. } = subject;
    let label = candidate.update.label.as_str();
    let mut args = vec!["--install", label, "--agree-to-license"];
    if settings.install_action == InstallAction::InstallAndRestart {
        args.push("--restart");
    }
    let (item_id, install_action) = (context.item_id, settings.install_action.as_str());
    match why {
        Why::DeadlinePassed => tracing::info!(
            item_id = %item_id, label = %label, install_action = %install_action,
            "Installing an OS update: the deadline has passed."
        ),
        Why::DeferralsUsed => tracing::info!(
            item_id = %item_id, label = %label, install_action = %install_action,
            "Installing an OS update: every deferral is used."
        ),
        Why::PersonChose { user } => tracing::info!(
            item_id = %item_id, label = %label, install_action = %install_action, user = %user,
            "Installing an OS update: the person chose Update Now."
        ),
    }
    let program = context.config.commands.softwareupdate.clone();
    let step = run_tool(context, "softwareupdate --install", &program, &args, transcript)
        .await
        .map_err(|error| ItemReport::failed(format!("cannot install {}: {error}", candidate.update.title)))?;
    match step.end {
        ChildEnd::Exited { code: 0 } => {
            pending::clear(context);
            Ok(messages::update_started(candidate, installed, settings, why))
        }
        ChildEnd::Exited { code } => {
            let state = format!("the install failed: softwareupdate exited {code}");
            pending::save(context, subject.work.clone(), state);
            Err(messages::update_failed(code, candidate, installed, settings, why))
        }
        end => Err(not_done("softwareupdate --install", &format!("install {}", candidate.update.title), end)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::ScratchItem;
    use crate::operating_system::OsVersion;
    use crate::state::ItemStatus;

    /// Where `sw_vers` is not, the version comes from `etc/os-release` under the root.
    #[tokio::test]
    async fn without_sw_vers_the_version_is_read_from_os_release_under_the_root() {
        let settings = |minimum: &str| ManagedOs {
            minimum_version: OsVersion::parse(minimum).unwrap(),
            deadline: None,
            install_action: InstallAction::InstallAndRestart,
            notify_before: std::time::Duration::ZERO,
            restart_countdown: std::time::Duration::from_secs(3600),
            max_deferrals: 3,
        };
        let mut scratch = ScratchItem::new();
        scratch.config.commands.sw_vers = scratch.root().join("usr/bin/sw_vers");
        let release = scratch.root().join("etc/os-release");
        let report = run(&settings("14"), &mut scratch.context()).await;
        assert_eq!(report.status, ItemStatus::Failed);
        let expected = format!("{} cannot be read", release.display());
        assert!(report.message.starts_with("cannot read the OS version: ") && report.message.contains(&expected));

        std::fs::create_dir_all(release.parent().unwrap()).unwrap();
        std::fs::write(&release, "NAME=\"Scratch OS\"\nVERSION_ID=\"14.6\"\n").unwrap();
        let report = run(&settings("14"), &mut scratch.context()).await;
        assert_eq!(report.status, ItemStatus::Succeeded, "{}", report.message);
        assert_eq!(report.message, "compliant: Scratch OS 14.6 meets the minimum 14");
        assert!(report.output.contains("VERSION_ID=\"14.6\""), "{}", report.output);
    }
}

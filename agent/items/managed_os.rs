//! Managed OS: the macOS version a device must reach, and by when.
//!
//! Audit first: the installed version is read (`sw_vers`; on Linux, where
//! there is none, `/etc/os-release` under the agent's root). At or above the
//! item's minimum the device is compliant and nothing else runs. Below it,
//! `softwareupdate --list` says what is offered, [`decision::decide`] picks what
//! to do, and only once the deadline has passed is the update installed with
//! `softwareupdate --install <label> --agree-to-license [--restart]`.
//! Bounded only by the run's budget: an OS update can take hours.

mod decision;
mod messages;
mod notices;
mod tools;

use self::decision::{Candidate, Decision};
use self::tools::{not_done, run_tool};
use super::{ItemContext, ItemReport};
use crate::blueprint::{InstallAction, ManagedOs};
use crate::operating_system::{InstalledOs, parse_os_release, parse_software_update_list, parse_sw_vers};
use crate::process::{ChildEnd, SpawnError};
use crate::tool_runner::Transcript;

/// Audits the installed OS version and, past the deadline, installs the update.
pub async fn run(settings: &ManagedOs, context: &mut ItemContext<'_>) -> ItemReport {
    let mut transcript = Transcript::default();
    let report = match audit_and_enforce(settings, context, &mut transcript).await {
        Ok(report) | Err(report) => report,
    };
    ItemReport { output: transcript.into_text(), ..report }
}

async fn audit_and_enforce(
    settings: &ManagedOs,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<ItemReport, ItemReport> {
    let installed = read_installed(context, transcript).await?;
    if installed.version >= settings.minimum_version {
        return Ok(messages::found(&decision::Finding::Compliant, &installed, settings));
    }
    let program = context.config.commands.softwareupdate.clone();
    let listed = run_tool(context, "softwareupdate --list", &program, &["--list"], transcript)
        .await
        .map_err(|error| ItemReport::failed(format!("cannot list the available updates: {error}")))?;
    if !listed.succeeded() {
        return Err(not_done("softwareupdate --list", "list the available updates", listed.end));
    }
    let updates = parse_software_update_list(&listed.output);
    let facts = decision::Facts {
        installed: &installed.version,
        updates: &updates,
        now: context.now,
        progress: None,
        notice_interval: std::time::Duration::from_secs(24 * 60 * 60),
        someone_logged_in: false,
        apple_silicon: false,
    };
    match decision::decide(settings, &facts) {
        Decision::Report(finding) => Ok(messages::found(&finding, &installed, settings)),
        Decision::Install { candidate, .. } => install(&candidate, &installed, settings, context, transcript).await,
        Decision::Remind(candidate)
        | Decision::Wait { candidate, .. }
        | Decision::Countdown { candidate, .. }
        | Decision::AskThePerson { candidate, .. } => {
            Ok(messages::found(&decision::Finding::Pending(candidate), &installed, settings))
        }
    }
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

/// Installs `candidate` with the configured `softwareupdate`, the deadline having passed.
async fn install(
    candidate: &Candidate,
    installed: &InstalledOs,
    settings: &ManagedOs,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<ItemReport, ItemReport> {
    let label = candidate.update.label.as_str();
    let mut args = vec!["--install", label, "--agree-to-license"];
    if settings.install_action == InstallAction::InstallAndRestart {
        args.push("--restart");
    }
    tracing::info!(
        item_id = %context.item_id, label = %label, install_action = %settings.install_action.as_str(),
        "Installing an OS update: the deadline has passed."
    );
    let program = context.config.commands.softwareupdate.clone();
    let step = run_tool(context, "softwareupdate --install", &program, &args, transcript)
        .await
        .map_err(|error| ItemReport::failed(format!("cannot install {}: {error}", candidate.update.title)))?;
    match step.end {
        ChildEnd::Exited { code: 0 } => Ok(messages::update_started(candidate, installed, settings)),
        ChildEnd::Exited { code } => Err(messages::update_failed(code, candidate, installed, settings)),
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

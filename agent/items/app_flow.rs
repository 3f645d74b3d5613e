//! The one way an app item runs, for custom apps and auto apps alike: read the
//! app at its path (`Info.plist`: bundle identifier and
//! `CFBundleShortVersionString`), decide ([`decide`]), and when it must be
//! installed, wait for or quit the blocking applications that run
//! ([`blocked`]), deliver the package ([`crate::installers::deliver`]), read the
//! app again, and remember the install.
//!
//! What differs between the types is data, an [`AppItem`]: its enforcement
//! (install once and no enforcement are a custom app's), the version it wants
//! ([`Wanted`]: at least a minimum, or the catalog's release, never downgraded),
//! which also sets how its messages name the app ([`messages`]) and whether an
//! update counts as re-applied, and what the device remembers of an install.
//!
//! A custom app adds its own [`Steps`]: an audit script that replaces the
//! built-in check, preinstall and postinstall scripts around the placement
//! ([`scripts`]), and a restart at the end of the check-in ([`restart`]).

mod blocked;
mod decision;
mod memory;
mod messages;
mod restart;
mod rules;
mod running;
mod scripts;
#[cfg(test)]
pub(crate) mod test_items;
mod waiting;

use blocked::Way;
use decision::decide_after_audit_script;
pub(crate) use decision::{Decision, decide};
pub(crate) use restart::restart_if_asked;
pub(crate) use rules::{AppItem, Reason, Wanted};
pub(crate) use scripts::Steps;

use super::{ItemContext, ItemReport};
use crate::app_bundle;
use crate::downloads::{DownloadError, Downloader};
use crate::installers::{Delivery, deliver};
use crate::state::ItemStatus;
use crate::tool_runner::{ToolRunner, Transcript};

/// Audits the app and installs it when the item's rules say so.
pub(crate) async fn run(app: &AppItem<'_>, context: &mut ItemContext<'_>) -> ItemReport {
    run_with(app, &Steps::NONE, context).await
}

/// [`run`], with a custom app's own `steps`: its audit script replaces the
/// built-in check, its preinstall script runs before anything is placed and its
/// postinstall script after the app is read back.
pub(crate) async fn run_with(app: &AppItem<'_>, steps: &Steps<'_>, context: &mut ItemContext<'_>) -> ItemReport {
    let mut audit = Transcript::default();
    let report = audit_and_install(app, steps, context, &mut audit).await;
    scripts::with_output_before(report, audit.into_text())
}

/// The audit (the built-in check, or the audit script) and what follows it;
/// the audit script's output goes to `audit`.
async fn audit_and_install(
    app: &AppItem<'_>,
    steps: &Steps<'_>,
    context: &mut ItemContext<'_>,
    audit: &mut Transcript,
) -> ItemReport {
    (context.on_phase)("audit");
    let found = app_bundle::inspect(&app.package.app.resolve(context.paths));
    let installed_before = match memory::installed_before(context) {
        Ok(installed_before) => installed_before,
        Err(report) => return report,
    };
    let decision = match &steps.scripts.audit {
        None => decide(app, &found, installed_before),
        Some(source) => match scripts::run("audit_script", source, context, audit).await {
            Ok(0) => Decision::Done("compliant: the audit script exited 0".to_string()),
            Ok(code) => decide_after_audit_script(app, &found, installed_before, code),
            Err(report) => return report,
        },
    };
    match decision {
        Decision::Done(message) => {
            blocked::forget_pending(context);
            report(ItemStatus::Succeeded, message, audit.last_exit_code(), String::new(), false)
        }
        Decision::Refuse(message) => ItemReport::failed(message),
        Decision::AlreadyThere(message) => {
            blocked::forget_pending(context);
            remember(app, context, message)
        }
        Decision::Install(reason) => match blocked::clear_the_way(app, context).await {
            Way::Clear { transcript, note } => install(app, steps, context, reason, transcript, note).await,
            Way::Ended(report) => report,
        },
    }
}

/// Remembers an app found already in place, for install once.
fn remember(app: &AppItem<'_>, context: &ItemContext<'_>, message: String) -> ItemReport {
    match memory::remember_install(context, app.remembered) {
        Ok(()) => report(ItemStatus::Succeeded, message, None, String::new(), false),
        Err(error) => ItemReport::failed(format!("{message}, but the device cannot remember it: {error}")),
    }
}

/// Installs (the preinstall script first, when given), checks the result,
/// remembers the install, then runs the postinstall script; `transcript` holds
/// what ran before (notices, quit requests) and `note` how the way was cleared.
async fn install(
    app: &AppItem<'_>,
    steps: &Steps<'_>,
    context: &mut ItemContext<'_>,
    reason: Reason,
    mut transcript: Transcript,
    note: Option<String>,
) -> ItemReport {
    if let Some(source) = &steps.scripts.preinstall {
        if let Err(report) = preinstall(app, source, context, &mut transcript).await {
            return scripts::with_output_before(report, transcript.into_text());
        }
    }
    let (work_dir, run_folder) = (context.work_dir, context.run_folder);
    let mount_point = || {
        let path = work_dir.join("mount");
        run_folder.make_folder(&path).map(|()| path)
    };
    // Field by field, not `context.tools()`, so the phase callback can be lent beside it.
    let tools = ToolRunner {
        root: context.root,
        environment: &context.environment,
        deadline: context.deadline,
        grace: context.termination_grace,
        cancel: context.cancel,
    };
    let (item_id, paths, config) = (context.item_id, context.paths, context.config);
    let delivery =
        Delivery { item_id, paths, config, tools, mount_point: &mount_point, on_phase: &mut *context.on_phase };
    let delivered = deliver(app.package, delivery, &mut transcript).await;
    (context.on_phase)("verify");
    let exit_code = transcript.last_exit_code();
    let delivered = match delivered {
        Ok(delivered) => delivered,
        Err(error) => {
            let exit_code = error.exit_code().or(exit_code);
            return report(error.status(), error.to_string(), exit_code, transcript.into_text(), false);
        }
    };
    let message = match messages::installed(app, &delivered, &reason) {
        Ok(message) => note.map_or(message.clone(), |note| format!("{message}; {note}")),
        Err(problem) => return report(ItemStatus::Failed, problem, exit_code, transcript.into_text(), false),
    };
    blocked::forget_pending(context);
    if let Err(error) = memory::remember_install(context, app.remembered) {
        let message = format!("{message}, but the device cannot remember the install: {error}");
        return report(ItemStatus::Failed, message, exit_code, transcript.into_text(), false);
    }
    let reapplied = reason.is_drift(&app.wanted);
    if let Some(source) = &steps.scripts.postinstall {
        if let Err(failed) = postinstall(source, &message, context, &mut transcript).await {
            let output = transcript.into_text();
            return ItemReport { reapplied, ..scripts::with_output_before(failed, output) };
        }
    }
    let message = if steps.restart { message + restart::ask(app, context) } else { message };
    let exit_code = transcript.last_exit_code();
    report(ItemStatus::Succeeded, message, exit_code, transcript.into_text(), reapplied)
}

/// Runs the postinstall script after the app installed as `message` says; a
/// failure fails the item, and the app stays.
async fn postinstall(
    source: &str,
    message: &str,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<(), ItemReport> {
    match scripts::run("postinstall_script", source, context, transcript).await {
        Ok(0) => Ok(()),
        Ok(code) => {
            let message = format!("{message}, but the postinstall script exited {code}; the app stays");
            Err(ItemReport { exit_code: Some(code), ..ItemReport::failed(message) })
        }
        Err(ended) => Err(ItemReport { message: format!("{message}, but {}; the app stays", ended.message), ..ended }),
    }
}

/// Downloads and verifies the package, then runs the preinstall script before
/// anything is placed: the install that follows uses the verified file from the
/// cache. Any end but exit 0 installs nothing, and the item fails (retried at
/// the next check-in).
async fn preinstall(
    app: &AppItem<'_>,
    source: &str,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<(), ItemReport> {
    (context.on_phase)("download");
    let downloader = Downloader::for_agent(context.paths, context.config, context.deadline, context.cancel);
    let package = app.package;
    if let Err(error) = downloader.fetch(&package.url, &package.sha256, package.source.as_str()).await {
        let status = match error {
            DownloadError::TimedOut { .. } => ItemStatus::TimedOut,
            _ => ItemStatus::Failed,
        };
        return Err(ItemReport { status, ..ItemReport::failed(error.to_string()) });
    }
    match scripts::run("preinstall_script", source, context, transcript).await? {
        0 => Ok(()),
        code => {
            let message = format!("the preinstall script exited {code}; nothing was installed");
            Err(ItemReport { exit_code: Some(code), ..ItemReport::failed(message) })
        }
    }
}

fn report(status: ItemStatus, message: String, exit_code: Option<i32>, output: String, reapplied: bool) -> ItemReport {
    ItemReport { status, message, exit_code, output, reapplied }
}

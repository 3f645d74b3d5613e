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

mod blocked;
mod decision;
mod memory;
mod messages;
mod rules;
mod running;
#[cfg(test)]
pub(crate) mod test_items;
mod waiting;

use blocked::Way;
pub(crate) use decision::{Decision, decide};
pub(crate) use rules::{AppItem, Reason, Wanted};

use super::{ItemContext, ItemReport};
use crate::app_bundle;
use crate::installers::{Delivery, deliver};
use crate::state::ItemStatus;
use crate::tool_runner::{ToolRunner, Transcript};

/// Audits the app and installs it when the item's rules say so.
pub(crate) async fn run(app: &AppItem<'_>, context: &mut ItemContext<'_>) -> ItemReport {
    (context.on_phase)("audit");
    let found = app_bundle::inspect(&app.package.app.resolve(context.paths));
    let installed_before = match memory::installed_before(context) {
        Ok(installed_before) => installed_before,
        Err(report) => return report,
    };
    match decide(app, &found, installed_before) {
        Decision::Done(message) => {
            blocked::forget_pending(context);
            report(ItemStatus::Succeeded, message, None, String::new(), false)
        }
        Decision::Refuse(message) => ItemReport::failed(message),
        Decision::AlreadyThere(message) => {
            blocked::forget_pending(context);
            remember(app, context, message)
        }
        Decision::Install(reason) => match blocked::clear_the_way(app, context).await {
            Way::Clear { transcript, note } => install(app, context, reason, transcript, note).await,
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

/// Installs, checks the result, and remembers the install; `transcript` holds
/// what ran before (notices, quit requests) and `note` how the way was cleared.
async fn install(
    app: &AppItem<'_>,
    context: &mut ItemContext<'_>,
    reason: Reason,
    mut transcript: Transcript,
    note: Option<String>,
) -> ItemReport {
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
    let output = transcript.into_text();
    let delivered = match delivered {
        Ok(delivered) => delivered,
        Err(error) => {
            let exit_code = error.exit_code().or(exit_code);
            return report(error.status(), error.to_string(), exit_code, output, false);
        }
    };
    let message = match messages::installed(app, &delivered, &reason) {
        Ok(message) => note.map_or(message.clone(), |note| format!("{message}; {note}")),
        Err(problem) => return report(ItemStatus::Failed, problem, exit_code, output, false),
    };
    blocked::forget_pending(context);
    if let Err(error) = memory::remember_install(context, app.remembered) {
        let message = format!("{message}, but the device cannot remember the install: {error}");
        return report(ItemStatus::Failed, message, exit_code, output, false);
    }
    report(ItemStatus::Succeeded, message, exit_code, output, reason.is_drift(&app.wanted))
}

fn report(status: ItemStatus, message: String, exit_code: Option<i32>, output: String, reapplied: bool) -> ItemReport {
    ItemReport { status, message, exit_code, output, reapplied }
}

//! The one way an app item runs, for custom apps and auto apps alike: read the
//! app at its path (`Info.plist`: bundle identifier and
//! `CFBundleShortVersionString`), decide ([`decide`]), and when it must be
//! installed, deliver the package ([`crate::installers::deliver`]), read the
//! app again, and remember the install.
//!
//! What differs between the types is data, an [`AppItem`]: its enforcement
//! (install once and no enforcement are a custom app's), the version it wants
//! ([`Wanted`]: at least a minimum, or the catalog's release, never downgraded),
//! which also sets how its messages name the app ([`messages`]) and whether an
//! update counts as re-applied, and what the device remembers of an install.

mod decision;
mod memory;
mod messages;
#[cfg(test)]
pub(crate) mod test_items;

pub(crate) use decision::{Decision, Reason, decide};

use super::{ItemContext, ItemReport};
use crate::app_bundle;
use crate::blueprint::{AppPackage, Enforcement};
use crate::installers::{Delivery, deliver};
use crate::state::ItemStatus;
use crate::tool_runner::{ToolRunner, Transcript};
use crate::version::AppVersion;

/// An app item as the flow reads it.
pub(crate) struct AppItem<'a> {
    /// Where the installer comes from and which app it puts where.
    pub package: &'a AppPackage,
    /// What the agent does when the app is missing or old; an auto app always
    /// audits and enforces.
    pub enforcement: Enforcement,
    /// The version the item wants.
    pub wanted: Wanted<'a>,
    /// What the device remembers once the agent installed the app: the
    /// package's sha256 (custom app) or the catalog's version (auto app).
    pub remembered: &'a str,
}

/// The version an app item wants. A newer app than that is never replaced.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wanted<'a> {
    /// A custom app: at least this version (any version, readable or not, when
    /// none is given). Messages name the app by its bundle (`Foo.app`) and an
    /// app below the minimum counts as drift.
    Minimum(Option<&'a AppVersion>),
    /// An auto app: the catalog's release of `title`. Messages name it by its
    /// title (`Firefox 128.0`), and updating to a new release is not drift.
    Catalog {
        /// The app's name in the catalog.
        title: &'a str,
        /// The catalog's version.
        version: &'a AppVersion,
    },
}

impl Wanted<'_> {
    /// The lowest version that satisfies the item, if any.
    pub(crate) fn lowest(&self) -> Option<&AppVersion> {
        match self {
            Wanted::Minimum(minimum) => *minimum,
            Wanted::Catalog { version, .. } => Some(version),
        }
    }

    /// `version` (`None`: unreadable) is below what the item wants.
    pub(crate) fn unmet_by(&self, version: Option<&AppVersion>) -> bool {
        self.lowest().is_some_and(|lowest| version.is_none_or(|version| version < lowest))
    }
}

/// Audits the app and installs it when the item's rules say so.
pub(crate) async fn run(app: &AppItem<'_>, context: &mut ItemContext<'_>) -> ItemReport {
    (context.on_phase)("audit");
    let found = app_bundle::inspect(&app.package.app.resolve(context.paths));
    let installed_before = match memory::installed_before(context) {
        Ok(installed_before) => installed_before,
        Err(report) => return report,
    };
    match decide(app, &found, installed_before) {
        Decision::Done(message) => report(ItemStatus::Succeeded, message, None, String::new(), false),
        Decision::Refuse(message) => ItemReport::failed(message),
        Decision::AlreadyThere(message) => remember(app, context, message),
        Decision::Install(reason) => install(app, context, reason).await,
    }
}

/// Remembers an app found already in place, for install once.
fn remember(app: &AppItem<'_>, context: &ItemContext<'_>, message: String) -> ItemReport {
    match memory::remember_install(context, app.remembered) {
        Ok(()) => report(ItemStatus::Succeeded, message, None, String::new(), false),
        Err(error) => ItemReport::failed(format!("{message}, but the device cannot remember it: {error}")),
    }
}

/// Installs, checks the result, and remembers the install.
async fn install(app: &AppItem<'_>, context: &mut ItemContext<'_>, reason: Reason) -> ItemReport {
    let mut transcript = Transcript::default();
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
        Ok(message) => message,
        Err(problem) => return report(ItemStatus::Failed, problem, exit_code, output, false),
    };
    if let Err(error) = memory::remember_install(context, app.remembered) {
        let message = format!("{message}, but the device cannot remember the install: {error}");
        return report(ItemStatus::Failed, message, exit_code, output, false);
    }
    report(ItemStatus::Succeeded, message, exit_code, output, reason.is_drift(&app.wanted))
}

fn report(status: ItemStatus, message: String, exit_code: Option<i32>, output: String, reapplied: bool) -> ItemReport {
    ItemReport { status, message, exit_code, output, reapplied }
}

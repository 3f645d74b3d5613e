//! Runs every check and puts the report together.
//!
//! ```text
//! state store, inventory.json ─> last check-in, last inventory, MDM profile and certificate, launchd job
//! at once, each within doctor.timeout:
//!   agent --version · launchctl print · TCP to the tenant · GET blueprint · TCP to Apple push · fdesetup status
//! ```
//!
//! The local checks read files and take milliseconds. The network and tool
//! checks run side by side, each bounded by `doctor.timeout` (the tools are
//! stopped, process group and all, when it runs out), so the whole doctor takes
//! about one timeout at worst, whatever is broken.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::check::{Check, CheckKind, Finding, Report};
use super::checkin::{last_checkin, read_store};
use super::inventory_age::last_inventory;
use super::mdm::{mdm_certificate, mdm_profile};
use super::{filevault, installation, network, tenant};
use crate::config::AgentConfig;
use crate::error_chain::with_causes;
use crate::inventory::{self, Platform, ToolRunner};
use crate::paths::AgentPaths;

/// The most a tool gets between SIGTERM and SIGKILL once its time is up.
const TOOL_GRACE: Duration = Duration::from_secs(1);

/// Runs every check on the device under `paths` and reports, in a fixed order.
/// `cancel` stops the tools early (Ctrl-C).
pub async fn diagnose(
    paths: &AgentPaths,
    config: &AgentConfig,
    platform: Platform,
    cancel: &CancellationToken,
) -> Report {
    let now = Utc::now();
    let doctor = &config.doctor;
    let limit = doctor.timeout;
    let runner = ToolRunner {
        deadline: crate::process::deadline_after(tokio::time::Instant::now(), limit),
        grace: config.timeouts.termination_grace.min(TOOL_GRACE),
        cancel: cancel.clone(),
        current_dir: paths.root.clone(),
    };
    let tenant_configured = config.tenant.url.is_some();

    let started = Instant::now();
    let (times, identity) = read_store(paths, tenant_configured);
    let store_elapsed = started.elapsed();
    let started = Instant::now();
    let saved = inventory::load(paths).map_err(|error| with_causes(&error));
    let inventory_elapsed = started.elapsed();

    let (binary, loaded, connection, request, push, filevault) = tokio::join!(
        timed(CheckKind::AgentBinary, installation::agent_binary(paths, &runner)),
        timed(CheckKind::LaunchdLoaded, installation::launchd_loaded(&config.commands.launchctl, &runner, platform)),
        timed(CheckKind::TenantConnection, tenant::tenant_connection(config, limit)),
        timed(CheckKind::TenantRequest, tenant::tenant_request(paths, config, identity, limit)),
        timed(CheckKind::ApplePush, network::apple_push(&doctor.push_host, &doctor.push_ports, limit)),
        timed(CheckKind::FileVault, filevault::filevault(&config.commands.fdesetup, &runner, platform)),
    );
    let job = measured(CheckKind::LaunchdJob, Duration::ZERO, || installation::launchd_job(paths));
    let checkin =
        measured(CheckKind::LastCheckin, store_elapsed, || last_checkin(&times, tenant_configured, now, doctor));
    let inventory_check = measured(CheckKind::LastInventory, inventory_elapsed, || last_inventory(&saved, now, doctor));
    let profile = measured(CheckKind::MdmProfile, inventory_elapsed, || mdm_profile(&saved));
    let certificate = measured(CheckKind::MdmCertificate, inventory_elapsed, || mdm_certificate(&saved, now, doctor));
    let checks =
        vec![binary, job, loaded, connection, request, push, checkin, inventory_check, profile, certificate, filevault];
    Report::new(now, checks)
}

/// Runs `work` and names and times what it found.
async fn timed(kind: CheckKind, work: impl Future<Output = Finding>) -> Check {
    let started = Instant::now();
    let finding = work.await;
    Check::new(kind, finding, started.elapsed())
}

/// Runs the local check `work`, whose reading took `reading` already.
fn measured(kind: CheckKind, reading: Duration, work: impl FnOnce() -> Finding) -> Check {
    let started = Instant::now();
    let finding = work();
    Check::new(kind, finding, reading + started.elapsed())
}

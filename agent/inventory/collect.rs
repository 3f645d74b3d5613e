//! Collecting the inventory: every collector at once, each under
//! `inventory.collector_timeout`, each giving its facts or a named error.
//!
//! ```text
//!  collect ─┬─ system           sysinfo: processor, memory, volumes, uptime, accounts
//!           ├─ system_profiler  system_profiler -xml SPHardwareDataType SPSoftwareDataType
//!           ├─ ioreg            ioreg -rd1 -c IOPlatformExpertDevice
//!           ├─ sw_vers          sw_vers
//!           ├─ filevault        fdesetup status
//!           ├─ enrollment       profiles status -type enrollment
//!           ├─ profiles         profiles -C -o stdout-xml
//!           ├─ certificates     security find-certificate -a -Z -p <System keychain>
//!           ├─ identities       security find-identity <System keychain>
//!           ├─ software_updates softwareupdate --list
//!           ├─ applications     the Applications folders
//!           └─ linux            DMI, machine-id, os-release (not on a Mac)
//!                 └──► assemble ──► Inventory (+ errors: [{collector, message}])
//! ```
//!
//! Which collectors apply is decided by [`Platform`], a value (not conditional
//! compilation), so both sides are tested on Linux. On a Mac a tool that does
//! not exist is an error; elsewhere a macOS tool that does not exist simply does
//! not apply, and one that does (a stand-in a test configured) runs like on a Mac.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::assemble::{Collected, Outcome, assemble};
use super::model::{Inventory, SoftwareUpdate};
use super::parse_error::ParseError;
use super::platform::Platform;
use super::tool::{ToolError, ToolRunner};
use super::{applications, certificates, enrollment, fdesetup, ioreg, linux, profiles, system, system_profiler};
use crate::config::AgentConfig;
use crate::operating_system::{parse_software_update_list, parse_sw_vers};

/// How long a collector that overran its time is waited for while its
/// processes are stopped, beyond `timeouts.termination_grace`.
const STOP_MARGIN: Duration = Duration::from_secs(2);

/// What a collection needs.
struct Collector<'a> {
    root: &'a Path,
    platform: Platform,
    timeout: Duration,
    runner: ToolRunner,
    cancel: &'a CancellationToken,
}

/// Collects the inventory of the device under `root`, every collector at once.
/// Never fails: what could not be collected is named in `errors`.
pub async fn collect(config: &AgentConfig, root: &Path, platform: Platform, cancel: &CancellationToken) -> Inventory {
    let collected_at = Utc::now();
    let timeout = config.inventory.collector_timeout;
    let runner = ToolRunner {
        deadline: crate::process::deadline_after(Instant::now(), timeout),
        grace: config.timeouts.termination_grace,
        cancel: cancel.clone(),
        current_dir: root.to_path_buf(),
    };
    let collector = Collector { root, platform, timeout, runner, cancel };
    let collected = collector.run_all(config).await;
    assemble(collected, collected_at)
}

impl Collector<'_> {
    /// Runs every collector at once and keeps what each gave.
    async fn run_all(&self, config: &AgentConfig) -> Collected {
        let commands = &config.commands;
        let keychain = self.root.join("Library/Keychains/System.keychain").display().to_string();
        let hardware_and_software = ["-xml", "SPHardwareDataType", "SPSoftwareDataType"];
        let find_certificates = ["find-certificate", "-a", "-Z", "-p", keychain.as_str()];
        let find_identities = ["find-identity", keychain.as_str()];
        let platform = self.platform;
        let (
            system,
            profiler,
            ioreg,
            sw_vers,
            filevault,
            enrollment,
            profiles,
            certificates,
            identities,
            updates,
            applications,
            linux,
        ) = tokio::join!(
            self.blocking(move || Ok(Some(system::read_system_facts(platform)))),
            self.tool(&commands.system_profiler, &hardware_and_software, system_profiler::parse_system_profiler),
            self.tool(&commands.ioreg, &["-rd1", "-c", "IOPlatformExpertDevice"], ioreg::parse_ioreg),
            self.tool(&commands.sw_vers, &[], parse_sw_vers),
            self.tool(&commands.fdesetup, &["status"], |output| infallible(fdesetup::parse_fdesetup_status(output))),
            self.tool(&commands.profiles, &["status", "-type", "enrollment"], |output| {
                infallible(enrollment::parse_enrollment_status(output))
            }),
            self.tool(&commands.profiles, &["-C", "-o", "stdout-xml"], profiles::parse_profiles),
            self.tool(&commands.security, &find_certificates, certificates::parse_certificates),
            self.tool(&commands.security, &find_identities, |output| infallible(certificates::parse_identities(
                output
            ))),
            self.tool(&commands.softwareupdate, &["--list"], |output| infallible(software_updates(output))),
            self.blocking(self.application_scan()),
            self.blocking(linux_facts(self.root.to_path_buf(), self.platform)),
        );
        let mut collected = Collected::default();
        collected.system = collected.record("system", system);
        collected.profiler = collected.record("system_profiler", profiler);
        collected.ioreg = collected.record("ioreg", ioreg);
        collected.sw_vers = collected.record("sw_vers", sw_vers);
        collected.filevault = collected.record("filevault", filevault);
        collected.enrollment = collected.record("enrollment", enrollment);
        collected.profiles = collected.record("profiles", profiles);
        collected.certificates = collected.record("certificates", certificates);
        collected.identities = collected.record("identities", identities);
        collected.software_updates = collected.record("software_updates", updates);
        let scan = collected.record("applications", applications);
        collected.applications = scan.map(|scan| {
            scan.skipped.into_iter().for_each(|message| collected.error("applications", message));
            scan.applications
        });
        collected.linux = collected.record("linux", linux);
        collected
    }

    /// Runs a tool and parses what it printed. A tool that does not exist does
    /// not apply, except on a Mac, where it is an error.
    async fn tool<T, E: std::fmt::Display>(
        &self,
        program: &Path,
        args: &[&str],
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Outcome<T> {
        let run = async {
            match self.runner.output(program, args).await {
                Ok(output) => parse(&output).map(Some).map_err(|error| error.to_string()),
                Err(ToolError::Missing { .. }) if self.platform == Platform::Other => Ok(None),
                Err(error) => Err(error.to_string()),
            }
        };
        // The runner stops the tool at the deadline; this bound only guards the stopping.
        self.bounded(self.timeout + self.runner.grace + STOP_MARGIN, run).await
    }

    /// Runs blocking work (a scan, system calls) on the blocking pool.
    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce() -> Outcome<T> + Send + 'static) -> Outcome<T> {
        let task = tokio::task::spawn_blocking(work);
        let joined =
            async { task.await.unwrap_or_else(|error| Err(format!("the collector stopped unexpectedly: {error}"))) };
        self.bounded(self.timeout, joined).await
    }

    /// `work`, unless it overruns `limit` or the agent stops first.
    async fn bounded<T>(&self, limit: Duration, work: impl Future<Output = Outcome<T>>) -> Outcome<T> {
        let timed_out = || format!("did not finish within {}", humantime::format_duration(self.timeout));
        tokio::select! {
            outcome = tokio::time::timeout(limit, work) => outcome.unwrap_or_else(|_| Err(timed_out())),
            () = self.cancel.cancelled() => Err("stopped: the agent is shutting down".to_string()),
        }
    }

    /// The application scan, stopping at the collector's deadline or shutdown.
    fn application_scan(&self) -> impl FnOnce() -> Outcome<applications::ApplicationScan> + Send + 'static {
        let root = self.root.to_path_buf();
        let deadline = crate::process::deadline_after(Instant::now(), self.timeout).into_std();
        let cancel = self.cancel.clone();
        move || {
            let stop = || std::time::Instant::now() >= deadline || cancel.is_cancelled();
            applications::scan_applications(&root, &stop).map(Some).map_err(|error| error.to_string())
        }
    }
}

/// The Linux facts, except on a Mac where they do not apply.
fn linux_facts(root: PathBuf, platform: Platform) -> impl FnOnce() -> Outcome<linux::LinuxFacts> + Send + 'static {
    move || Ok((platform == Platform::Other).then(|| linux::read_linux_facts(&root)))
}

/// A parser that always reads something, as the collectors' parse type.
fn infallible<T>(value: T) -> Result<T, ParseError> {
    Ok(value)
}

/// The updates `softwareupdate --list` offers, as the inventory keeps them.
pub(crate) fn software_updates(output: &str) -> Vec<SoftwareUpdate> {
    parse_software_update_list(output)
        .into_iter()
        .map(|update| SoftwareUpdate {
            is_os_update: update.os_version().is_some(),
            build: update.build(),
            version_extra: update.security_response_extra(),
            size_bytes: update.size_bytes,
            product_key: update.label,
            title: update.title,
            version: update.version,
            recommended: update.recommended,
            restart_required: update.restart_required,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration whose macOS tools are all missing.
    fn without_tools(root: &Path) -> AgentConfig {
        let mut config = AgentConfig::default();
        let commands = &mut config.commands;
        for command in [
            &mut commands.system_profiler,
            &mut commands.ioreg,
            &mut commands.sw_vers,
            &mut commands.fdesetup,
            &mut commands.profiles,
            &mut commands.security,
            &mut commands.softwareupdate,
        ] {
            *command = root.join("missing").join(command.file_name().unwrap());
        }
        config
    }

    #[tokio::test]
    async fn missing_macos_tools_are_errors_on_a_mac_and_absent_elsewhere() {
        let root = tempfile::tempdir().unwrap();
        let config = without_tools(root.path());
        let cancel = CancellationToken::new();
        let mac = collect(&config, root.path(), Platform::Mac, &cancel).await;
        let failed: Vec<&str> = mac.errors.iter().map(|error| error.collector.as_str()).collect();
        let expected = [
            "system_profiler",
            "ioreg",
            "sw_vers",
            "filevault",
            "enrollment",
            "profiles",
            "certificates",
            "identities",
            "software_updates",
        ];
        assert_eq!(failed, expected);
        assert!(mac.errors[0].message.ends_with("missing/system_profiler does not exist"), "{:?}", mac.errors[0]);
        assert!(mac.hardware.memory_bytes.is_some(), "sysinfo still reports");
        let other = collect(&config, root.path(), Platform::Other, &cancel).await;
        assert_eq!(other.errors, [], "on Linux the macOS collectors do not apply");
    }

    #[tokio::test]
    async fn a_stopping_agent_ends_the_collection_at_once() {
        let root = tempfile::tempdir().unwrap();
        let mut config = without_tools(root.path());
        let hanging = root.path().join("system_profiler");
        std::fs::write(&hanging, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&hanging, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        config.commands.system_profiler = hanging;
        let cancel = CancellationToken::new();
        let stopper = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            stopper.cancel();
        });
        let started = std::time::Instant::now();
        let inventory = collect(&config, root.path(), Platform::Other, &cancel).await;
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        let error = &inventory.errors[0];
        assert_eq!(
            (error.collector.as_str(), error.message.as_str()),
            ("system_profiler", "stopped: the agent is shutting down")
        );
    }
}

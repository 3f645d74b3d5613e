//! Putting what the collectors gave into one [`Inventory`], a plain function.
//!
//! Where two sources know a fact, the one closest to the hardware wins:
//!
//! | fact | first | then |
//! | --- | --- | --- |
//! | serial number | `ioreg` | `system_profiler`, DMI |
//! | UDID | provisioning UDID (`system_profiler`) | `IOPlatformUUID`, DMI product UUID |
//! | model identifier | `ioreg` | `system_profiler` |
//! | device name | Computer Name (`system_profiler`) | host name |
//! | processor, cores, memory | `system_profiler` | `sysinfo` |
//! | OS name, version, build | `sw_vers` | `os-release` |
//! | MDM profile installed | profile list (`com.apple.mdm` payload) | enrollment status |

use chrono::{DateTime, Utc};

use super::certificates::mark_identities;
use super::ioreg::IoregFacts;
use super::linux::LinuxFacts;
use super::model::{
    Application, Certificate, CollectorError, Device, Enrollment, FileVault, Hardware, Inventory, OperatingSystem,
    Profile, Security, SoftwareUpdate,
};
use super::profiles::mdm_profile;
use super::system::SystemFacts;
use super::system_profiler::ProfilerFacts;
use crate::operating_system::InstalledOs;

/// What one collector gave: facts, nothing (it does not apply here), or why not.
pub(crate) type Outcome<T> = Result<Option<T>, String>;

/// What every collector gave (`None`: failed, or does not apply here).
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) system: Option<SystemFacts>,
    pub(crate) profiler: Option<ProfilerFacts>,
    pub(crate) ioreg: Option<IoregFacts>,
    pub(crate) sw_vers: Option<InstalledOs>,
    pub(crate) filevault: Option<FileVault>,
    pub(crate) enrollment: Option<Enrollment>,
    pub(crate) profiles: Option<Vec<Profile>>,
    pub(crate) certificates: Option<Vec<Certificate>>,
    pub(crate) identities: Option<std::collections::BTreeSet<String>>,
    pub(crate) software_updates: Option<Vec<SoftwareUpdate>>,
    pub(crate) applications: Option<Vec<Application>>,
    pub(crate) linux: Option<LinuxFacts>,
    /// The collectors that failed, in the order they are listed.
    pub(crate) errors: Vec<CollectorError>,
}

impl Collected {
    /// Keeps a collector's facts, or its error under its `name`.
    pub(crate) fn record<T>(&mut self, name: &str, outcome: Outcome<T>) -> Option<T> {
        outcome.unwrap_or_else(|message| {
            self.error(name, message);
            None
        })
    }

    /// Names a problem of the collector `name` that did not stop it (one app skipped).
    pub(crate) fn error(&mut self, name: &str, message: String) {
        self.errors.push(CollectorError { collector: name.to_string(), message });
    }
}

/// The inventory from what was collected, started at `collected_at`.
pub(crate) fn assemble(collected: Collected, collected_at: DateTime<Utc>) -> Inventory {
    let profiles = collected.profiles.clone().unwrap_or_default();
    let mdm = mdm_profile(&profiles);
    let mdm_profile_installed = match (&collected.profiles, &collected.enrollment) {
        (Some(_), _) => Some(mdm.is_some()),
        (None, Some(enrollment)) => enrollment.mdm_enrolled,
        (None, None) => None,
    };
    let mut certificates = collected.certificates.clone().unwrap_or_default();
    if let Some(identities) = &collected.identities {
        mark_identities(&mut certificates, identities);
    }
    let system = collected.system.clone().unwrap_or_default();
    Inventory {
        collected_at,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        device: device(&collected),
        hardware: hardware(&collected),
        operating_system: operating_system(&collected),
        security: Security {
            filevault: collected.filevault.clone(),
            enrollment: collected.enrollment.clone(),
            system_integrity_protection: collected
                .profiler
                .as_ref()
                .and_then(|facts| facts.system_integrity_protection),
        },
        mdm_profile_installed,
        mdm_enrolled_at: mdm.and_then(|profile| profile.install_date),
        assigned_user: collected.profiler.as_ref().and_then(|facts| facts.console_user.clone()),
        users: system.users,
        disks: system.disks,
        applications: collected.applications.unwrap_or_default(),
        profiles,
        certificates,
        available_updates: collected.software_updates.unwrap_or_default(),
        errors: collected.errors,
    }
}

fn device(collected: &Collected) -> Device {
    let profiler = collected.profiler.as_ref();
    let ioreg = collected.ioreg.as_ref();
    let linux = collected.linux.as_ref();
    let hostname = collected.system.as_ref().and_then(|facts| facts.hostname.clone());
    Device {
        device_name: profiler.and_then(|facts| facts.computer_name.clone()).or_else(|| hostname.clone()),
        hostname,
        serial_number: first([
            ioreg.and_then(|facts| facts.serial_number.clone()),
            profiler.and_then(|facts| facts.serial_number.clone()),
            linux.and_then(|facts| facts.serial_number.clone()),
        ]),
        udid: first([
            profiler.and_then(|facts| facts.provisioning_udid.clone()),
            ioreg.and_then(|facts| facts.platform_uuid.clone()),
            profiler.and_then(|facts| facts.platform_uuid.clone()),
            linux.and_then(|facts| facts.uuid.clone()),
        ]),
        platform_uuid: first([
            ioreg.and_then(|facts| facts.platform_uuid.clone()),
            profiler.and_then(|facts| facts.platform_uuid.clone()),
        ]),
        asset_tag: linux.and_then(|facts| facts.asset_tag.clone()),
        model: first([profiler.and_then(|facts| facts.model.clone()), linux.and_then(|facts| facts.model.clone())]),
        model_identifier: first([
            ioreg.and_then(|facts| facts.model_identifier.clone()),
            profiler.and_then(|facts| facts.model_identifier.clone()),
        ]),
        model_number: profiler.and_then(|facts| facts.model_number.clone()),
        manufacturer: first([
            ioreg.and_then(|facts| facts.manufacturer.clone()),
            linux.and_then(|facts| facts.manufacturer.clone()),
        ]),
        machine_id: linux.and_then(|facts| facts.machine_id.clone()),
    }
}

fn hardware(collected: &Collected) -> Hardware {
    let profiler = collected.profiler.as_ref();
    let system = collected.system.as_ref();
    let root_volume = system.and_then(|facts| facts.disks.iter().find(|disk| disk.mount_point == "/"));
    Hardware {
        processor: first([
            profiler.and_then(|facts| facts.processor.clone()),
            system.and_then(|facts| facts.processor.clone()),
        ]),
        processor_cores: profiler
            .and_then(|facts| facts.processor_cores)
            .or_else(|| system.and_then(|facts| facts.processor_cores)),
        architecture: system.and_then(|facts| facts.architecture.clone()),
        memory_bytes: profiler
            .and_then(|facts| facts.memory_bytes)
            .or_else(|| system.and_then(|facts| facts.memory_bytes)),
        storage_bytes: root_volume.map(|disk| disk.total_bytes),
        storage_available_bytes: root_volume.map(|disk| disk.available_bytes),
        activation_lock_enabled: profiler.and_then(|facts| facts.activation_lock_enabled),
    }
}

fn operating_system(collected: &Collected) -> OperatingSystem {
    let profiler = collected.profiler.as_ref();
    let system = collected.system.as_ref();
    let linux = collected.linux.as_ref();
    let installed = collected.sw_vers.as_ref().or_else(|| linux.and_then(|facts| facts.operating_system.as_ref()));
    let constructed = collected.sw_vers.as_ref().map(|os| match &os.build {
        Some(build) => format!("{os} ({build})"),
        None => os.to_string(),
    });
    OperatingSystem {
        name: installed.map(|os| os.name.clone()),
        version: installed.map(|os| os.version.as_str().to_string()),
        version_extra: installed.and_then(|os| os.version_extra.clone()),
        build: installed.and_then(|os| os.build.clone()),
        description: first([
            profiler.and_then(|facts| facts.os_description.clone()),
            constructed,
            linux.and_then(|facts| facts.description.clone()),
        ]),
        kernel_version: first([
            profiler.and_then(|facts| facts.kernel_version.clone()),
            system.and_then(|facts| facts.kernel_version.clone()),
        ]),
        uptime_seconds: system.and_then(|facts| facts.uptime_seconds),
        boot_time: system.and_then(|facts| facts.boot_time),
    }
}

/// The first of `candidates` that is known.
fn first<const N: usize>(candidates: [Option<String>; N]) -> Option<String> {
    candidates.into_iter().flatten().next()
}

#[cfg(test)]
#[path = "assemble_tests.rs"]
mod tests;

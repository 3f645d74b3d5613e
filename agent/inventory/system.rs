//! Facts every platform gives through the `sysinfo` crate: processor, memory,
//! volumes, uptime, host name and the accounts of people.
//!
//! These come from the kernel and the account database, not from files the
//! agent's root could move, so they describe the machine even under
//! `AGENT_ROOT`. Accounts keep people only: system accounts (ids below 501 on
//! macOS, below 1000 on Linux), `nobody` and `_`-prefixed service accounts are
//! left out.

use chrono::{DateTime, Utc};
use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, System, Users};

use super::model::{Disk, User};

use super::platform::Platform;

/// The lowest user id of a person's account on a Mac.
const FIRST_PERSON_UID_MAC: u32 = 501;

/// The lowest user id of a person's account on Linux (`UID_MIN` of login.defs).
const FIRST_PERSON_UID_LINUX: u32 = 1000;

/// The user id of `nobody`.
const NOBODY_UID: u32 = 65534;

/// What `sysinfo` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SystemFacts {
    /// The host name.
    pub(crate) hostname: Option<String>,
    /// The processor's brand string.
    pub(crate) processor: Option<String>,
    /// Physical cores.
    pub(crate) processor_cores: Option<u32>,
    /// `aarch64`, `x86_64`.
    pub(crate) architecture: Option<String>,
    /// Installed memory.
    pub(crate) memory_bytes: Option<u64>,
    /// `Darwin 23.6.0`, `Linux 6.1.0-18-amd64`.
    pub(crate) kernel_version: Option<String>,
    /// Seconds since boot.
    pub(crate) uptime_seconds: Option<u64>,
    /// When the machine booted.
    pub(crate) boot_time: Option<DateTime<Utc>>,
    /// Mounted volumes.
    pub(crate) disks: Vec<Disk>,
    /// Accounts of people, by name.
    pub(crate) users: Vec<User>,
}

/// Asks the system (blocking; a few milliseconds).
pub(crate) fn read_system_facts(platform: Platform) -> SystemFacts {
    let mut system = System::new();
    system.refresh_cpu_list(CpuRefreshKind::nothing());
    system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
    let processor = system.cpus().first().map(|cpu| cpu.brand().trim().to_string()).filter(|brand| !brand.is_empty());
    let disks = Disks::new_with_refreshed_list()
        .list()
        .iter()
        .map(|disk| Disk {
            name: disk.name().to_string_lossy().into_owned(),
            mount_point: disk.mount_point().display().to_string(),
            file_system: disk.file_system().to_string_lossy().into_owned(),
            total_bytes: disk.total_space(),
            available_bytes: disk.available_space(),
            removable: disk.is_removable(),
        })
        .collect();
    let users =
        Users::new_with_refreshed_list().list().iter().map(|user| (user.name().to_string(), **user.id())).collect();
    let boot_time = i64::try_from(System::boot_time()).ok().and_then(|seconds| DateTime::from_timestamp(seconds, 0));
    SystemFacts {
        hostname: System::host_name().filter(|name| !name.is_empty()),
        processor,
        processor_cores: System::physical_core_count().and_then(|count| u32::try_from(count).ok()),
        architecture: Some(System::cpu_arch()).filter(|architecture| !architecture.is_empty()),
        memory_bytes: Some(system.total_memory()).filter(|bytes| *bytes > 0),
        kernel_version: System::kernel_version().map(|_| System::kernel_long_version()),
        uptime_seconds: Some(System::uptime()),
        boot_time: boot_time.filter(|time| time.timestamp() > 0),
        disks,
        users: people(users, platform),
    }
}

/// The accounts of people among `(name, uid)` pairs, sorted by name.
pub(crate) fn people(accounts: Vec<(String, u32)>, platform: Platform) -> Vec<User> {
    let first = if platform == Platform::Mac { FIRST_PERSON_UID_MAC } else { FIRST_PERSON_UID_LINUX };
    let mut users: Vec<User> = accounts
        .into_iter()
        .filter(|(name, uid)| *uid >= first && *uid != NOBODY_UID && !name.starts_with('_'))
        .map(|(name, uid)| User { name, uid })
        .collect();
    users.sort_by(|left, right| left.name.cmp(&right.name));
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_accounts_of_people_are_kept() {
        let accounts = [
            ("root", 0),
            ("daemon", 1),
            ("_www", 70),
            ("polkitd", 996),
            ("zoe", 502),
            ("jane", 501),
            ("ann", 1000),
            ("nobody", 65534),
        ];
        let accounts: Vec<_> = accounts.iter().map(|(name, uid)| (name.to_string(), *uid)).collect();
        let names = |platform| people(accounts.clone(), platform).into_iter().map(|user| user.name).collect::<Vec<_>>();
        assert_eq!(names(Platform::Mac), ["ann", "jane", "polkitd", "zoe"]);
        assert_eq!(names(Platform::Other), ["ann"]);
    }

    #[test]
    fn this_machine_has_memory_a_processor_and_a_root_volume() {
        let facts = read_system_facts(Platform::current());
        assert!(facts.memory_bytes.unwrap_or_default() > 1 << 20, "{facts:?}");
        assert!(facts.uptime_seconds.is_some() && facts.kernel_version.is_some(), "{facts:?}");
        assert!(facts.architecture.is_some(), "{facts:?}");
    }
}

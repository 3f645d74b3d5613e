//! The inventory as the tenant receives it and `agent inventory --json` prints it.
//!
//! Keys are snake_case. A fact nobody could read is `null` (or an empty list),
//! never a guess: `mdm_profile_installed` is `null` when neither the profile list
//! nor the enrollment status could be read, not `false`. What a collector could
//! not read is named in `errors`.
//!
//! The lists keep what the Apple MDM query responses need (ProfileList,
//! CertificateList, AvailableOSUpdates, InstalledApplicationList, SecurityInfo,
//! DeviceInformation), so they can be built from a saved inventory without
//! running or parsing any tool again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Everything known about the device at `collected_at`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// When the collection started.
    pub collected_at: DateTime<Utc>,
    /// The agent that collected it.
    pub agent_version: String,
    /// Who the device is: names, serial number, UDID, model.
    pub device: Device,
    /// What it is made of: processor, memory, storage.
    pub hardware: Hardware,
    /// The operating system it runs.
    pub operating_system: OperatingSystem,
    /// FileVault, enrollment and the other protections an admin checks.
    pub security: Security,
    /// Whether a configuration profile with an MDM payload (`com.apple.mdm`) is
    /// installed; from the enrollment status when the profile list is unreadable.
    pub mdm_profile_installed: Option<bool>,
    /// When that MDM profile was installed.
    pub mdm_enrolled_at: Option<DateTime<Utc>>,
    /// The person the Mac is set up for: the console user `system_profiler` names.
    pub assigned_user: Option<AssignedUser>,
    /// Local accounts of people (system accounts left out).
    pub users: Vec<User>,
    /// Mounted volumes.
    pub disks: Vec<Disk>,
    /// Every `.app` bundle in the Applications folders, sorted by path.
    pub applications: Vec<Application>,
    /// Installed configuration profiles.
    pub profiles: Vec<Profile>,
    /// Certificates of the System keychain.
    pub certificates: Vec<Certificate>,
    /// Updates `softwareupdate --list` offers.
    pub available_updates: Vec<SoftwareUpdate>,
    /// Collectors that failed or timed out: the rest of the inventory is still sent.
    pub errors: Vec<CollectorError>,
}

/// What identifies the device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The name people see (macOS Computer Name; the host name elsewhere).
    pub device_name: Option<String>,
    /// The network host name.
    pub hostname: Option<String>,
    /// The serial number.
    pub serial_number: Option<String>,
    /// Apple's UDID: the provisioning UDID, else the platform UUID (the DMI product
    /// UUID on Linux).
    pub udid: Option<String>,
    /// The IOPlatformUUID (hardware UUID) on a Mac.
    pub platform_uuid: Option<String>,
    /// An asset tag the firmware holds (DMI on Linux; Macs have none).
    pub asset_tag: Option<String>,
    /// The marketing name: `MacBook Pro`.
    pub model: Option<String>,
    /// The model identifier: `MacBookPro18,3`.
    pub model_identifier: Option<String>,
    /// Apple's order number: `Z15G000DSLL/A`.
    pub model_number: Option<String>,
    /// `Apple Inc.`, or the DMI vendor.
    pub manufacturer: Option<String>,
    /// `/etc/machine-id` on Linux.
    pub machine_id: Option<String>,
}

/// What the device is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hardware {
    /// `Apple M1 Pro`, `6-Core Intel Core i7`.
    pub processor: Option<String>,
    /// Processor cores.
    pub processor_cores: Option<u32>,
    /// The architecture the agent runs on: `aarch64`, `x86_64`.
    pub architecture: Option<String>,
    /// Installed memory.
    pub memory_bytes: Option<u64>,
    /// Size of the volume mounted at `/`.
    pub storage_bytes: Option<u64>,
    /// Free space on it.
    pub storage_available_bytes: Option<u64>,
    /// Activation Lock, as `system_profiler` reports it.
    pub activation_lock_enabled: Option<bool>,
}

/// The operating system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatingSystem {
    /// `macOS`, `Debian GNU/Linux`.
    pub name: Option<String>,
    /// `14.6.1`.
    pub version: Option<String>,
    /// A Rapid Security Response suffix: `(a)`.
    pub version_extra: Option<String>,
    /// `23G93`.
    pub build: Option<String>,
    /// The whole description: `macOS 14.6.1 (23G93)`, `Debian GNU/Linux 12 (bookworm)`.
    pub description: Option<String>,
    /// `Darwin 23.6.0`, or the Linux release.
    pub kernel_version: Option<String>,
    /// Seconds since boot.
    pub uptime_seconds: Option<u64>,
    /// When the device booted.
    pub boot_time: Option<DateTime<Utc>>,
}

/// Protections an admin console shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Security {
    /// `fdesetup status`.
    pub filevault: Option<FileVault>,
    /// `profiles status -type enrollment`.
    pub enrollment: Option<Enrollment>,
    /// System Integrity Protection, as `system_profiler` reports it.
    pub system_integrity_protection: Option<bool>,
}

/// FileVault's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileVaultState {
    /// The startup disk is encrypted.
    On,
    /// It is not.
    Off,
    /// Encryption is under way.
    Encrypting,
    /// Decryption is under way.
    Decrypting,
    /// The output said neither (another language, a new wording): see `detail`.
    Unknown,
}

/// What `fdesetup status` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileVault {
    /// On, off, or on its way.
    pub state: FileVaultState,
    /// How far encryption or decryption has come, in percent.
    pub percent_completed: Option<f64>,
    /// Enablement deferred to this user's next login.
    pub deferred_user: Option<String>,
    /// The tool's own words, trimmed.
    pub detail: String,
}

/// What `profiles status -type enrollment` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    /// Enrolled through Automated Device Enrollment (DEP).
    pub enrolled_via_dep: Option<bool>,
    /// Enrolled in an MDM.
    pub mdm_enrolled: Option<bool>,
    /// The enrollment was approved by the user (or is DEP, which counts as approved).
    pub user_approved: Option<bool>,
    /// The MDM server's URL.
    pub mdm_server: Option<String>,
}

/// The console user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedUser {
    /// The account name: `jane`.
    pub short_name: Option<String>,
    /// The full name: `Jane Appleseed`.
    pub full_name: Option<String>,
}

/// A local account of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The account name.
    pub name: String,
    /// The user id.
    pub uid: u32,
}

/// A mounted volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    /// The device or volume name.
    pub name: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// `apfs`, `ext4`.
    pub file_system: String,
    /// Its size.
    pub total_bytes: u64,
    /// Its free space.
    pub available_bytes: u64,
    /// It can be ejected.
    pub removable: bool,
}

/// One `.app` bundle, as its `Info.plist` describes it (InstalledApplicationList).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// `CFBundleDisplayName`, else `CFBundleName`, else the bundle's file name.
    pub name: String,
    /// `CFBundleIdentifier`.
    pub bundle_id: Option<String>,
    /// `CFBundleVersion` (the build).
    pub version: Option<String>,
    /// `CFBundleShortVersionString` (what people see).
    pub short_version: Option<String>,
    /// Bytes of every file in the bundle (links not followed).
    pub size_bytes: u64,
    /// The bundle's path.
    pub path: String,
}

/// One installed configuration profile (ProfileList).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// `ProfileIdentifier`.
    pub identifier: String,
    /// `ProfileDisplayName`.
    pub display_name: Option<String>,
    /// `ProfileUUID`.
    pub uuid: Option<String>,
    /// `ProfileVersion`.
    pub version: Option<i64>,
    /// `ProfileOrganization`.
    pub organization: Option<String>,
    /// `ProfileDescription`.
    pub description: Option<String>,
    /// `ProfileRemovalDisallowed`.
    pub removal_disallowed: bool,
    /// `ProfileInstallDate`.
    pub install_date: Option<DateTime<Utc>>,
    /// `ProfileVerificationState`: `verified`, `unsigned`.
    pub verification_state: Option<String>,
    /// `system` for device profiles, else the user's name.
    pub scope: String,
    /// Its payloads, in order.
    pub payloads: Vec<Payload>,
}

/// One payload of a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// `PayloadType`: `com.apple.mdm`, `com.apple.wifi.managed`.
    pub payload_type: String,
    /// `PayloadIdentifier`.
    pub identifier: Option<String>,
    /// `PayloadDisplayName`.
    pub display_name: Option<String>,
    /// `PayloadUUID`.
    pub uuid: Option<String>,
    /// `PayloadVersion`.
    pub version: Option<i64>,
}

/// One certificate of the System keychain (CertificateList).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The subject's common name, read from the certificate itself.
    pub common_name: Option<String>,
    /// The DER bytes, base64 (the MDM `Data`).
    pub data_base64: String,
    /// A private key for it is in the keychain.
    pub is_identity: bool,
    /// The SHA-1 fingerprint, upper-case hex, as `security` prints it.
    pub sha1: Option<String>,
    /// The SHA-256 fingerprint, upper-case hex.
    pub sha256: Option<String>,
}

/// One update `softwareupdate --list` offers (AvailableOSUpdates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareUpdate {
    /// The label `softwareupdate --install` takes.
    pub product_key: String,
    /// What people read: `macOS Sonoma 14.7.1`.
    pub title: String,
    /// The version it brings.
    pub version: Option<String>,
    /// Apple recommends it.
    pub recommended: bool,
    /// It restarts the Mac.
    pub restart_required: bool,
    /// It is a macOS update (not Safari, firmware or tools).
    pub is_os_update: bool,
    /// The download size (`Size:`), in bytes.
    pub size_bytes: Option<u64>,
    /// The build it installs, from the label's end (`…-23H222`).
    pub build: Option<String>,
    /// A Rapid Security Response's letter after its version: `(a)`.
    pub version_extra: Option<String>,
}

/// A collector that could not give its facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorError {
    /// Its name: `system_profiler`, `profiles`, `applications`.
    pub collector: String,
    /// What went wrong.
    pub message: String,
}

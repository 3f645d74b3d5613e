//! The blueprint and its library items, as the agent holds them once checked.

use std::fmt;
use std::path::PathBuf;

use super::auto_app::AutoApp;
use super::custom_app::CustomApp;
use super::custom_printer::CustomPrinter;
use super::custom_script::CustomScript;
use super::managed_os::ManagedOs;
use super::parameters::Parameters;

/// A blueprint: the policy a device enforces at every check-in.
#[derive(Debug, Clone, PartialEq)]
pub struct Blueprint {
    /// The tenant's identifier for the blueprint.
    pub id: String,
    /// The name admins gave it.
    pub name: String,
    /// The team (tenant account) the blueprint belongs to.
    pub team_id: Option<String>,
    /// The oldest agent version the blueprint accepts; older is drift.
    pub minimum_agent_version: Option<semver::Version>,
    /// Device-wide settings enforced before the library items.
    pub parameters: Parameters,
    /// The library items, in the order the document lists them.
    pub library_items: Vec<LibraryItem>,
}

impl Blueprint {
    /// The sha256 of every installer its library items name (custom apps, auto
    /// apps): the downloads the cache keeps.
    pub fn installer_digests(&self) -> std::collections::HashSet<String> {
        let package = |item: &LibraryItem| match &item.details {
            ItemDetails::CustomApp(app) => Some(app.package.sha256.clone()),
            ItemDetails::AutoApp(app) => Some(app.package.sha256.clone()),
            ItemDetails::CustomScript(_) | ItemDetails::CustomPrinter(_) | ItemDetails::ManagedOs(_) => None,
        };
        self.library_items.iter().filter_map(package).collect()
    }
}

/// One library item of a blueprint.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryItem {
    /// Unique within the blueprint; the key for per-device markers.
    pub id: String,
    /// What admins call it; shown in status and logs, never used as a path.
    pub name: String,
    /// Which kind of item, which sets its run priority and timeout.
    pub item_type: ItemType,
    /// When the item runs.
    pub frequency: Frequency,
    /// The settings of the item's type.
    pub details: ItemDetails,
}

/// The five kinds of library item, in run priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemType {
    /// A shell (or any shebang) script: audit, remediation, audit again.
    CustomScript,
    /// A printer added through CUPS.
    CustomPrinter,
    /// An app the admin uploaded (pkg, dmg or zip).
    CustomApp,
    /// An app from the tenant's catalog, kept up to date.
    AutoApp,
    /// The macOS version and its updates.
    ManagedOs,
}

impl ItemType {
    /// Every type, in run priority order.
    pub const ALL: [ItemType; 5] =
        [ItemType::CustomScript, ItemType::CustomPrinter, ItemType::CustomApp, ItemType::AutoApp, ItemType::ManagedOs];

    /// The run priority: 1 runs first.
    pub fn priority(self) -> u8 {
        match self {
            ItemType::CustomScript => 1,
            ItemType::CustomPrinter => 2,
            ItemType::CustomApp => 3,
            ItemType::AutoApp => 4,
            ItemType::ManagedOs => 5,
        }
    }

    /// The name used in blueprints, status and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::CustomScript => "custom_script",
            ItemType::CustomPrinter => "custom_printer",
            ItemType::CustomApp => "custom_app",
            ItemType::AutoApp => "auto_app",
            ItemType::ManagedOs => "managed_os",
        }
    }

    /// The type named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|item_type| item_type.as_str() == text)
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// When a library item runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    /// At every check-in, recurring and daily.
    Every15Minutes,
    /// Only in the daily check-in.
    Daily,
    /// Until it succeeds once on this device.
    Once,
    /// Never by schedule.
    NoEnforcement,
}

impl Frequency {
    pub(crate) const NAMES: [(&'static str, Frequency); 4] = [
        ("every_15_min", Frequency::Every15Minutes),
        ("daily", Frequency::Daily),
        ("once", Frequency::Once),
        ("no_enforcement", Frequency::NoEnforcement),
    ];

    /// The name used in blueprints.
    pub fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|(_, frequency)| *frequency == self).map_or("every_15_min", |(name, _)| name)
    }

    /// The frequency named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(name, _)| *name == text).map(|(_, frequency)| *frequency)
    }
}

/// The type-specific settings of a library item.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemDetails {
    /// A custom script's audit and remediation.
    CustomScript(CustomScript),
    /// A printer and its CUPS settings.
    CustomPrinter(CustomPrinter),
    /// An uploaded app and how it is enforced.
    CustomApp(CustomApp),
    /// A catalog app kept up to date.
    AutoApp(AutoApp),
    /// The macOS version the device must reach, and by when.
    ManagedOs(ManagedOs),
}

/// A loaded blueprint with the warnings its document raised.
#[derive(Debug)]
pub struct LoadedBlueprint {
    /// The validated blueprint.
    pub blueprint: Blueprint,
    /// Problems that did not stop it from loading (unknown keys).
    pub warnings: Vec<String>,
    /// Where it was read from.
    pub source: PathBuf,
}

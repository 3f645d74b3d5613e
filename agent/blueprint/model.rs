//! The blueprint and its library items, as the agent holds them once checked.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use super::document::Problems;
use super::parameters::Parameters;
use super::self_service::SelfServiceOffer;
use crate::config::Timeouts;

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
            _ => None,
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
    /// When the item runs.
    pub frequency: Frequency,
    /// The settings of the item's type.
    pub details: ItemDetails,
    /// How the item is offered in Self Service, if it is.
    pub self_service: Option<SelfServiceOffer>,
}

impl LibraryItem {
    /// Which kind of item, which sets its run priority and timeout: the type of its settings.
    pub fn item_type(&self) -> ItemType {
        self.details.item_type()
    }

    /// The item runs only when someone asks for it in Self Service: a
    /// `self_service` frequency, or an app's `self_service` enforcement.
    pub fn on_request_only(&self) -> bool {
        let enforcement = match &self.details {
            ItemDetails::CustomApp(app) => Some(app.enforcement),
            ItemDetails::AutoApp(app) => Some(app.enforcement),
            _ => None,
        };
        self.frequency == Frequency::SelfService || enforcement == Some(super::Enforcement::SelfService)
    }
}

/// Generates [`ItemType`] and [`ItemDetails`] from the table of item types
/// (`item_types.rs`), with everything derived from it.
macro_rules! item_type_enums {
    ($($(#[$doc:meta])* $module:ident: $variant:ident, timeout: $timeout:ident;)*) => {
        /// The kinds of library item, in run priority order: the order of the table
        /// in `item_types.rs`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ItemType {
            $($(#[$doc])* $variant,)*
        }

        impl ItemType {
            /// Every type, in run priority order.
            pub const ALL: &'static [ItemType] = &[$(ItemType::$variant),*];

            /// The name used in blueprints, status and logs: the type's module name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ItemType::$variant => stringify!($module),)*
                }
            }

            /// How long one item of this type may take (the configuration's
            /// `timeouts.<key>` its table line names), or `None` when only the run's
            /// budget bounds it.
            pub fn timeout(self, timeouts: &Timeouts) -> Option<Duration> {
                match self {
                    $(ItemType::$variant => item_type_enums!(@timeout timeouts, $timeout),)*
                }
            }
        }

        /// The type-specific settings of a library item: the struct of its type's
        /// module (`blueprint/<module>.rs`).
        #[derive(Debug, Clone, PartialEq)]
        pub enum ItemDetails {
            $($(#[$doc])* $variant(super::$module::$variant),)*
        }

        impl ItemDetails {
            /// The type these settings belong to.
            pub fn item_type(&self) -> ItemType {
                match self {
                    $(ItemDetails::$variant(_) => ItemType::$variant,)*
                }
            }

            /// Reads and checks the keys of an item of `item_type`: each type's
            /// module checks (and warns about) what it knows.
            pub(crate) fn resolve(
                item_type: ItemType,
                object: &Map<String, Value>,
                key: &str,
                problems: &mut Problems,
            ) -> Option<ItemDetails> {
                match item_type {
                    $(ItemType::$variant => super::$module::resolve(object, key, problems).map(ItemDetails::$variant),)*
                }
            }
        }
    };
    (@timeout $timeouts:ident, none) => { None };
    (@timeout $timeouts:ident, $key:ident) => { Some($timeouts.$key) };
}
super::item_types!(item_type_enums);

impl ItemType {
    /// The run priority, 1 running first: the type's position in the table.
    pub fn priority(self) -> u8 {
        self as u8 + 1
    }

    /// The type named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|item_type| item_type.as_str() == text)
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
    /// Only when someone asks for it in Self Service (the item must carry a
    /// `self_service` offer).
    SelfService,
}

impl Frequency {
    pub(crate) const NAMES: [(&'static str, Frequency); 5] = [
        ("every_15_min", Frequency::Every15Minutes),
        ("daily", Frequency::Daily),
        ("once", Frequency::Once),
        ("no_enforcement", Frequency::NoEnforcement),
        ("self_service", Frequency::SelfService),
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

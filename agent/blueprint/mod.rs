//! The blueprint and its library items, as the tenant (or a file) sends them.
//!
//! Parse, then resolve: the document is read into a generic value tree (JSON or
//! plist, same keys), then checked field by field so that every problem is
//! reported at once with the file and the key path (`library_items[2].type`).
//! Each item type's own keys are checked in that type's file, one per line of the
//! table in `item_types.rs`. An item's `name` is a label for people only: it may
//! hold `/` or any other character and never becomes part of a path.

mod app_package;
mod blocking;
mod document;
mod item_types;
mod model;
mod parameters;
mod resolve;
mod self_service;

/// Declares the settings module of every item type in the table and re-exports
/// its settings struct: `mod custom_script; pub use custom_script::CustomScript;`.
macro_rules! settings_modules {
    ($($(#[$doc:meta])* $module:ident: $variant:ident, timeout: $timeout:ident;)*) => {
        $(
            mod $module;
            pub use $module::$variant;
        )*
    };
}
item_types!(settings_modules);

pub(crate) use app_package::is_team_id;
pub use app_package::{AppLocation, AppPackage, DownloadUrl, InstallSource, SignatureRequirement};
pub use blocking::{Blocking, BlockingApplication};
pub use custom_app::{AppScripts, Enforcement};
pub use custom_printer::PrinterDriver;
pub use document::{BlueprintError, BlueprintErrors};
pub(crate) use item_types::item_types;
pub use managed_os::InstallAction;
pub use model::{Blueprint, Frequency, ItemDetails, ItemType, LibraryItem, LoadedBlueprint};
pub use parameters::{Account, DevicePath, FolderPermissions, ManagedFile, ManagedPlistKey, Parameters, PlistFormat};
pub(crate) use resolve::checkin_blueprint_path;
pub use resolve::{from_value, load};
pub use self_service::SelfServiceOffer;

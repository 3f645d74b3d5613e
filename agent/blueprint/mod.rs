//! The blueprint and its library items, as the tenant (or a file) sends them.
//!
//! Parse, then resolve: the document is read into a generic value tree (JSON or
//! plist, same keys), then checked field by field so that every problem is
//! reported at once with the file and the key path (`library_items[2].type`).
//! Each item type's own keys are checked in that type's file. An item's `name` is
//! a label for people only: it may hold `/` or any other character and never
//! becomes part of a path.

mod app_package;
mod auto_app;
mod custom_app;
mod custom_printer;
mod custom_script;
mod document;
mod managed_os;
mod model;
mod parameters;
mod resolve;

pub use app_package::{AppLocation, AppPackage, DownloadUrl, InstallSource};
pub use auto_app::AutoApp;
pub use custom_app::{CustomApp, Enforcement};
pub use custom_printer::{CustomPrinter, PrinterDriver};
pub use custom_script::CustomScript;
pub use document::{BlueprintError, BlueprintErrors};
pub use managed_os::{InstallAction, ManagedOs};
pub use model::{Blueprint, Frequency, ItemDetails, ItemType, LibraryItem, LoadedBlueprint};
pub use parameters::{Account, DevicePath, FolderPermissions, ManagedFile, ManagedPlistKey, Parameters, PlistFormat};
pub use resolve::{from_value, load};

//! The library item types, declared once: one line each in [`item_types!`].
//!
//! Everything that differs by type is derived from that table: [`ItemType`] and
//! [`ItemDetails`] with their names, run priorities and per-item timeouts (see
//! `model.rs`), the modules of each type's settings here and of its handler in
//! `items/`, and the dispatch from an item's settings to its handler. Adding a
//! type is creating `blueprint/<type>.rs` and `items/<type>.rs` and adding its
//! line; the README's "Adding an item type" walks through it.
//!
//! [`ItemType`]: super::ItemType
//! [`ItemDetails`]: super::ItemDetails

/// Hands the table of library item types to `$generate`, a macro that turns it
/// into code (an "x-macro": the table is written once, each user says what it
/// makes of it).
///
/// One line per type, in run priority order: the first line's items run first.
/// A line reads `module: Variant, timeout: key;` where
/// - `module` is the name blueprints give the type (`"type": "custom_script"`)
///   and the name of both its files: `blueprint/<module>.rs`, which defines the
///   settings struct `Variant` and `resolve` (reading and checking the item's own
///   keys), and `items/<module>.rs`, which defines `run` (auditing, then enforcing);
/// - `Variant` names the type in [`ItemType`](super::ItemType) and
///   [`ItemDetails`](super::ItemDetails), and its settings struct;
/// - `key` is the field of the configuration's `timeouts` that bounds each item of
///   the type (`timeouts.custom_script`), or `none` when only the run's budget does.
///
/// The doc comment above a line documents the type's variants.
macro_rules! item_types {
    ($generate:ident) => {
        $generate! {
            /// A shell (or any shebang) script: audit, remediation, audit again.
            custom_script: CustomScript, timeout: custom_script;
            /// A printer added through CUPS.
            custom_printer: CustomPrinter, timeout: custom_printer;
            /// An app the admin uploaded (pkg, dmg or zip).
            custom_app: CustomApp, timeout: none;
            /// An app from the tenant's catalog, kept up to date.
            auto_app: AutoApp, timeout: auto_app;
            /// The macOS version and its updates.
            managed_os: ManagedOs, timeout: none;
        }
    };
}

pub(crate) use item_types;

#[cfg(test)]
mod tests {
    use crate::blueprint::ItemType;

    #[test]
    fn every_type_reads_back_from_its_name() {
        for &item_type in ItemType::ALL {
            assert_eq!(ItemType::parse(item_type.as_str()), Some(item_type));
            assert_eq!(item_type.to_string(), item_type.as_str());
        }
        assert_eq!(ItemType::parse("CustomScript"), None, "the blueprint name, not the variant");
    }

    #[test]
    fn priorities_are_the_table_order_from_one() {
        let priorities: Vec<u8> = ItemType::ALL.iter().map(|item_type| item_type.priority()).collect();
        let expected: Vec<u8> = (1..=ItemType::ALL.len() as u8).collect();
        assert_eq!(priorities, expected);
        // A new type may go anywhere in the table; the ones CONTRACT names keep their order.
        let documented = ["custom_script", "custom_printer", "custom_app", "auto_app", "managed_os"];
        let names: Vec<&str> = ItemType::ALL.iter().map(|item_type| item_type.as_str()).collect();
        let kept: Vec<&str> = names.into_iter().filter(|name| documented.contains(name)).collect();
        assert_eq!(kept, documented, "the run order CONTRACT documents");
    }
}

//! Linux equivalents of the Mac's facts, so the agent is useful and testable
//! where it is built: DMI (`sys/class/dmi/id`), `etc/machine-id` and
//! `etc/os-release` (else `usr/lib/os-release`), all under the agent's root.
//!
//! Every file is optional: virtual machines and containers lack DMI, and
//! `product_serial` and `product_uuid` are readable by root only. Firmware
//! placeholders (`To Be Filled By O.E.M.`, `Default string`) count as absent.

use std::path::Path;

use crate::operating_system::{InstalledOs, os_release_pretty_name, parse_os_release};

/// Values vendors leave in DMI fields they did not fill.
const PLACEHOLDERS: &[&str] = &[
    "to be filled by o.e.m.",
    "default string",
    "not specified",
    "not applicable",
    "system serial number",
    "system product name",
    "system manufacturer",
    "none",
    "n/a",
    "unknown",
    "0",
    "0123456789",
    "00000000-0000-0000-0000-000000000000",
];

/// What the Linux files say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LinuxFacts {
    /// `sys_vendor`.
    pub(crate) manufacturer: Option<String>,
    /// `product_name`.
    pub(crate) model: Option<String>,
    /// `product_serial`.
    pub(crate) serial_number: Option<String>,
    /// `product_uuid`.
    pub(crate) uuid: Option<String>,
    /// `chassis_asset_tag`.
    pub(crate) asset_tag: Option<String>,
    /// `etc/machine-id`.
    pub(crate) machine_id: Option<String>,
    /// `etc/os-release`, when it has a version.
    pub(crate) operating_system: Option<InstalledOs>,
    /// Its `PRETTY_NAME`.
    pub(crate) description: Option<String>,
}

/// Reads the files under `root`; whatever is missing or unreadable stays unknown.
pub(crate) fn read_linux_facts(root: &Path) -> LinuxFacts {
    let dmi = root.join("sys/class/dmi/id");
    let field = |name: &str| dmi_value(&std::fs::read_to_string(dmi.join(name)).ok()?);
    let os_release = std::fs::read_to_string(root.join("etc/os-release"))
        .or_else(|_| std::fs::read_to_string(root.join("usr/lib/os-release")))
        .ok();
    LinuxFacts {
        manufacturer: field("sys_vendor"),
        model: field("product_name"),
        serial_number: field("product_serial"),
        uuid: field("product_uuid").map(|uuid| uuid.to_ascii_uppercase()),
        asset_tag: field("chassis_asset_tag"),
        machine_id: std::fs::read_to_string(root.join("etc/machine-id"))
            .ok()
            .map(|text| text.trim().to_string())
            .filter(|id| !id.is_empty()),
        operating_system: os_release.as_deref().and_then(|text| parse_os_release(text).ok()),
        description: os_release.as_deref().and_then(os_release_pretty_name),
    }
}

/// A DMI file's value, trimmed; `None` for a placeholder.
fn dmi_value(text: &str) -> Option<String> {
    let value = text.trim();
    let placeholder = value.is_empty() || PLACEHOLDERS.iter().any(|known| value.eq_ignore_ascii_case(known));
    (!placeholder).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn dmi_machine_id_and_os_release_are_read_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        write(root, "sys/class/dmi/id/sys_vendor", "LENOVO\n");
        write(root, "sys/class/dmi/id/product_name", "20XW0055GE\n");
        write(root, "sys/class/dmi/id/product_serial", "PF2ABCDE\n");
        write(root, "sys/class/dmi/id/product_uuid", "4c4c4544-0042-3510-8052-b4c04f4a3232\n");
        write(root, "sys/class/dmi/id/chassis_asset_tag", "To Be Filled By O.E.M.\n");
        write(root, "etc/machine-id", "0a1b2c3d4e5f60718293a4b5c6d7e8f9\n");
        write(
            root,
            "usr/lib/os-release",
            "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        );
        let facts = read_linux_facts(root);
        assert_eq!(facts.manufacturer.as_deref(), Some("LENOVO"));
        assert_eq!(facts.model.as_deref(), Some("20XW0055GE"));
        assert_eq!(facts.serial_number.as_deref(), Some("PF2ABCDE"));
        assert_eq!(facts.uuid.as_deref(), Some("4C4C4544-0042-3510-8052-B4C04F4A3232"));
        assert_eq!(facts.asset_tag, None, "a placeholder is no asset tag");
        assert_eq!(facts.machine_id.as_deref(), Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9"));
        assert_eq!(facts.operating_system.unwrap().version.as_str(), "12");
        assert_eq!(facts.description.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
    }

    #[test]
    fn a_root_without_these_files_knows_nothing_and_placeholders_are_absent() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(read_linux_facts(root.path()), LinuxFacts::default());
        for placeholder in ["Default string\n", " ", "None", "0123456789"] {
            assert_eq!(dmi_value(placeholder), None, "{placeholder:?}");
        }
        assert_eq!(dmi_value(" Dell Inc.\n").as_deref(), Some("Dell Inc."));
    }
}

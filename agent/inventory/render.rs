//! The inventory for people: what an admin console's device page shows, then the
//! lists, then what could not be collected.

use std::fmt::Write;

use super::model::{Enrollment, FileVault, FileVaultState, Inventory};
use crate::render::{printable, time};

/// What is shown for a fact nobody could read.
const UNKNOWN: &str = "unknown";

/// The inventory as text, one fact a line.
pub fn render(inventory: &Inventory) -> String {
    let mut out = String::new();
    let device = &inventory.device;
    let hardware = &inventory.hardware;
    let os = &inventory.operating_system;
    let model = match (&device.model, &device.model_identifier) {
        (Some(model), Some(identifier)) => Some(format!("{model} ({identifier})")),
        (model, identifier) => model.clone().or_else(|| identifier.clone()),
    };
    let processor = hardware.processor.as_ref().map(|processor| match hardware.processor_cores {
        Some(cores) => format!("{processor}, {cores} cores"),
        None => processor.clone(),
    });
    let storage = hardware.storage_bytes.map(|total| match hardware.storage_available_bytes {
        Some(free) => format!("{}, {} free", bytes(total), bytes(free)),
        None => bytes(total),
    });
    let user = inventory.assigned_user.as_ref().map(|user| match (&user.full_name, &user.short_name) {
        (Some(full), Some(short)) => format!("{full} ({short})"),
        (full, short) => full.clone().or_else(|| short.clone()).unwrap_or_default(),
    });
    let mdm_profile = inventory.mdm_profile_installed.map(|installed| match (installed, inventory.mdm_enrolled_at) {
        (true, Some(since)) => format!("installed (since {})", time(since)),
        (true, None) => "installed".to_string(),
        (false, _) => "not installed".to_string(),
    });
    let rows = [
        ("Device name", device.device_name.clone()),
        ("Serial number", device.serial_number.clone()),
        ("UDID", device.udid.clone()),
        ("Asset tag", device.asset_tag.clone()),
        ("Model", model),
        ("Processor", processor),
        ("Memory", hardware.memory_bytes.map(bytes)),
        ("Storage", storage),
        ("OS", os.description.clone().or_else(|| os.version.clone())),
        ("Assigned user", user),
        ("Enrollment", inventory.security.enrollment.as_ref().map(enrollment)),
        ("FileVault", inventory.security.filevault.as_ref().map(filevault)),
        ("MDM profile", mdm_profile),
        ("Collected", Some(time(inventory.collected_at))),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "{label:<15} {}", printable(value.as_deref().unwrap_or(UNKNOWN)));
    }
    render_lists(inventory, &mut out);
    out
}

fn render_lists(inventory: &Inventory, out: &mut String) {
    let _ = writeln!(out, "\nApplications ({})", inventory.applications.len());
    for app in &inventory.applications {
        let version = app.short_version.as_deref().or(app.version.as_deref()).unwrap_or("?");
        let bundle_id = app.bundle_id.as_deref().unwrap_or("-");
        let line = format!("{} {version}  {bundle_id}  {}  {}", app.name, bytes(app.size_bytes), app.path);
        let _ = writeln!(out, "  {}", printable(&line));
    }
    let _ = writeln!(out, "\nProfiles ({})", inventory.profiles.len());
    for profile in &inventory.profiles {
        let name = profile.display_name.as_deref().unwrap_or(&profile.identifier);
        let types: Vec<&str> = profile.payloads.iter().map(|payload| payload.payload_type.as_str()).collect();
        let locked = if profile.removal_disallowed { ", removal disallowed" } else { "" };
        let line = format!("{name} ({}), {}{locked}: {}", profile.identifier, profile.scope, types.join(", "));
        let _ = writeln!(out, "  {}", printable(&line));
    }
    let _ = writeln!(out, "\nCertificates ({})", inventory.certificates.len());
    for certificate in &inventory.certificates {
        let name = certificate.common_name.as_deref().unwrap_or("(no common name)");
        let identity = if certificate.is_identity { " (identity)" } else { "" };
        let _ = writeln!(out, "  {}{identity}", printable(name));
    }
    let _ = writeln!(out, "\nAvailable updates ({})", inventory.available_updates.len());
    for update in &inventory.available_updates {
        let mut line = update.title.clone();
        if let Some(version) = update.version.as_ref().filter(|version| !update.title.ends_with(version.as_str())) {
            line.push_str(&format!(" {version}"));
        }
        for (flag, text) in [(update.recommended, "recommended"), (update.restart_required, "restart")] {
            if flag {
                line.push_str(&format!(", {text}"));
            }
        }
        let _ = writeln!(out, "  {}", printable(&line));
    }
    if !inventory.errors.is_empty() {
        let _ = writeln!(out, "\nNot collected ({})", inventory.errors.len());
        for error in &inventory.errors {
            let _ = writeln!(out, "  {}: {}", error.collector, printable(&error.message));
        }
    }
}

fn enrollment(enrollment: &Enrollment) -> String {
    let mut parts = vec![
        match enrollment.mdm_enrolled {
            Some(true) => "enrolled",
            Some(false) => "not enrolled",
            None => UNKNOWN,
        }
        .to_string(),
    ];
    if enrollment.enrolled_via_dep == Some(true) {
        parts.push("via Automated Device Enrollment".into());
    }
    if enrollment.mdm_enrolled == Some(true) && enrollment.user_approved == Some(true) {
        parts.push("user approved".into());
    }
    if let Some(server) = &enrollment.mdm_server {
        parts.push(server.clone());
    }
    parts.join(", ")
}

fn filevault(filevault: &FileVault) -> String {
    let percent = filevault.percent_completed.map(|percent| format!(" ({percent}% done)")).unwrap_or_default();
    match filevault.state {
        FileVaultState::On => "on".to_string(),
        FileVaultState::Off => match &filevault.deferred_user {
            Some(user) => format!("off (enabling at {user}'s next login)"),
            None => "off".to_string(),
        },
        FileVaultState::Encrypting => format!("encrypting{percent}"),
        FileVaultState::Decrypting => format!("decrypting{percent}"),
        FileVaultState::Unknown => format!("{UNKNOWN}: {}", filevault.detail),
    }
}

/// Bytes in binary units: `16 GiB`, `460.4 GiB`, `812 KiB`, `12 B`.
fn bytes(count: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = count as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let shown = format!("{value:.1}");
    format!("{} {}", shown.strip_suffix(".0").unwrap_or(&shown), UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        let cases = [
            (12, "12 B"),
            (832_512, "813 KiB"),
            (16 << 30, "16 GiB"),
            (494_384_795_648, "460.4 GiB"),
            (270_553_174_016, "252 GiB"),
        ];
        for (count, shown) in cases {
            assert_eq!(bytes(count), shown);
        }
    }
}

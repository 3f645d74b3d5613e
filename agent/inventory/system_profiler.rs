//! Reading `system_profiler -xml SPHardwareDataType SPSoftwareDataType`.
//!
//! The output is an XML property list: an array with one report per data type,
//! each a dictionary whose `_dataType` names it and whose `_items` holds one
//! dictionary of facts. Keys are stable identifiers (`machine_model`,
//! `serial_number`, `os_version`); some values are localized text (`16 GB` is
//! `16 Go` on a French Mac), so a value that does not read is left out rather
//! than guessed. `number_processors` is an integer on Intel Macs and
//! `proc 10:8:2` (all, performance, efficiency cores) on Apple silicon.

use super::model::AssignedUser;
use super::parse_error::{ParseError, read_plist};

const TOOL: &str = "system_profiler -xml";

/// What the two reports say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProfilerFacts {
    /// `machine_name`: `MacBook Pro`.
    pub(crate) model: Option<String>,
    /// `machine_model`: `MacBookPro18,3`.
    pub(crate) model_identifier: Option<String>,
    /// `model_number`: `Z15G000DSLL/A`.
    pub(crate) model_number: Option<String>,
    /// `serial_number`.
    pub(crate) serial_number: Option<String>,
    /// `platform_UUID`.
    pub(crate) platform_uuid: Option<String>,
    /// `provisioning_UDID`: the UDID an MDM knows the Mac by.
    pub(crate) provisioning_udid: Option<String>,
    /// `chip_type`, else `cpu_type` with `current_processor_speed`.
    pub(crate) processor: Option<String>,
    /// `number_processors`.
    pub(crate) processor_cores: Option<u32>,
    /// `physical_memory`, when it reads as an amount.
    pub(crate) memory_bytes: Option<u64>,
    /// `activation_lock_status`.
    pub(crate) activation_lock_enabled: Option<bool>,
    /// `local_host_name`, which is the Computer Name people set in Settings.
    pub(crate) computer_name: Option<String>,
    /// `os_version`: `macOS 14.6.1 (23G93)`.
    pub(crate) os_description: Option<String>,
    /// `kernel_version`: `Darwin 23.6.0`.
    pub(crate) kernel_version: Option<String>,
    /// `system_integrity`.
    pub(crate) system_integrity_protection: Option<bool>,
    /// `user_name`: `Jane Appleseed (jane)`.
    pub(crate) console_user: Option<AssignedUser>,
}

/// Reads the output of `system_profiler -xml SPHardwareDataType SPSoftwareDataType`.
pub(crate) fn parse_system_profiler(output: &str) -> Result<ProfilerFacts, ParseError> {
    let value = read_plist(TOOL, output)?;
    let reports = value
        .as_array()
        .ok_or_else(|| ParseError::Layout { tool: TOOL, problem: "a property list that is not an array".into() })?;
    let hardware = first_item(reports, "SPHardwareDataType");
    let software = first_item(reports, "SPSoftwareDataType");
    if hardware.is_none() && software.is_none() {
        let problem = "neither an SPHardwareDataType nor an SPSoftwareDataType report".to_string();
        return Err(ParseError::Layout { tool: TOOL, problem });
    }
    let mut facts = ProfilerFacts::default();
    if let Some(hardware) = hardware {
        read_hardware(hardware, &mut facts);
    }
    if let Some(software) = software {
        let text = |key| text(software, key);
        facts.computer_name = text("local_host_name");
        facts.os_description = text("os_version");
        facts.kernel_version = text("kernel_version");
        facts.system_integrity_protection = flag(text("system_integrity"), "integrity_enabled", "integrity_disabled");
        facts.console_user = text("user_name").map(|name| console_user(&name));
    }
    Ok(facts)
}

fn read_hardware(hardware: &plist::Dictionary, facts: &mut ProfilerFacts) {
    let text = |key| text(hardware, key);
    facts.model = text("machine_name");
    facts.model_identifier = text("machine_model");
    facts.model_number = text("model_number");
    facts.serial_number = text("serial_number");
    facts.platform_uuid = text("platform_UUID");
    facts.provisioning_udid = text("provisioning_UDID");
    facts.processor = text("chip_type").or_else(|| {
        let cpu = text("cpu_type")?;
        Some(match text("current_processor_speed") {
            Some(speed) => format!("{cpu} {speed}"),
            None => cpu,
        })
    });
    facts.processor_cores = hardware.get("number_processors").and_then(core_count);
    facts.memory_bytes = text("physical_memory").as_deref().and_then(memory_bytes);
    facts.activation_lock_enabled =
        flag(text("activation_lock_status"), "activation_lock_enabled", "activation_lock_disabled");
}

/// The `_items[0]` dictionary of the report for `data_type`.
fn first_item<'a>(reports: &'a [plist::Value], data_type: &str) -> Option<&'a plist::Dictionary> {
    reports
        .iter()
        .filter_map(plist::Value::as_dictionary)
        .find(|report| report.get("_dataType").and_then(plist::Value::as_string) == Some(data_type))?
        .get("_items")?
        .as_array()?
        .first()?
        .as_dictionary()
}

/// A non-empty string value, trimmed.
fn text(dictionary: &plist::Dictionary, key: &str) -> Option<String> {
    let value = dictionary.get(key)?.as_string()?.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// `Some(true)` for `on`, `Some(false)` for `off`, `None` for anything else.
fn flag(value: Option<String>, on: &str, off: &str) -> Option<bool> {
    match value.as_deref() {
        Some(value) if value == on => Some(true),
        Some(value) if value == off => Some(false),
        _ => None,
    }
}

/// `8` (Intel) or `proc 10:8:2` (Apple silicon: all cores first).
fn core_count(value: &plist::Value) -> Option<u32> {
    if let Some(count) = value.as_unsigned_integer() {
        return u32::try_from(count).ok();
    }
    let text = value.as_string()?.trim();
    let counts = text.strip_prefix("proc ").unwrap_or(text);
    counts.split(':').next()?.trim().parse().ok()
}

/// `16 GB`, `512 MB`, `1 TB` as bytes (binary units, as Apple means them for
/// memory); `None` for a unit in another language.
fn memory_bytes(text: &str) -> Option<u64> {
    let (amount, unit) = text.trim().split_once(char::is_whitespace)?;
    let amount: u64 = amount.parse().ok()?;
    let shift = match unit.trim() {
        "KB" => 10,
        "MB" => 20,
        "GB" => 30,
        "TB" => 40,
        _ => return None,
    };
    amount.checked_mul(1 << shift)
}

/// `Jane Appleseed (jane)` → full and short name; a bare `jane` is the short name.
fn console_user(text: &str) -> AssignedUser {
    let some = |text: &str| Some(text.trim().to_string()).filter(|text| !text.is_empty());
    let split = text.rsplit_once(" (").and_then(|(full, rest)| Some((full, rest.strip_suffix(')')?)));
    match split {
        Some((full, short)) => AssignedUser { short_name: some(short), full_name: some(full) },
        None => AssignedUser { short_name: some(text), full_name: None },
    }
}

#[cfg(test)]
#[path = "system_profiler_tests.rs"]
mod tests;

//! The blueprint and its library items, as the tenant (or a file) sends them.
//!
//! Parse, then resolve: the document is read into a generic value tree (JSON or
//! plist, same keys), then checked field by field so that every problem is
//! reported at once with the file and the key path (`library_items[2].type`).
//! An item's `name` is a label for people only: it may hold `/` or any other
//! character and never becomes part of a path.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::blueprint_document::{Problems, load_value};

pub use crate::blueprint_document::{BlueprintError, BlueprintErrors};

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
    pub parameters: Map<String, Value>,
    /// The library items, in the order the document lists them.
    pub library_items: Vec<LibraryItem>,
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
    const NAMES: [(&'static str, Frequency); 4] = [
        ("every_15_min", Frequency::Every15Minutes),
        ("daily", Frequency::Daily),
        ("once", Frequency::Once),
        ("no_enforcement", Frequency::NoEnforcement),
    ];

    /// The name used in blueprints.
    pub fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|(_, frequency)| *frequency == self).map_or("every_15_min", |(name, _)| name)
    }

    fn parse(text: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(name, _)| *name == text).map(|(_, frequency)| *frequency)
    }
}

/// The type-specific settings of a library item.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemDetails {
    /// A custom script's audit and remediation.
    CustomScript(CustomScript),
    /// The keys of a type whose handler is not built yet, kept as sent.
    Unhandled(Map<String, Value>),
}

/// A custom script item: the audit decides compliance, the remediation fixes.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomScript {
    /// Runs first; exit 0 means compliant.
    pub audit: String,
    /// Runs when the audit fails; the audit then runs again to confirm.
    pub remediation: Option<String>,
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

const BLUEPRINT_KEYS: [&str; 6] = ["id", "name", "team_id", "minimum_agent_version", "parameters", "library_items"];
const COMMON_ITEM_KEYS: [&str; 5] = ["id", "name", "type", "frequency", "description"];
const SCRIPT_KEYS: [&str; 2] = ["audit", "remediation"];

/// Reads and validates the blueprint at `path` (JSON, or a plist with the same keys).
pub fn load(path: &Path) -> Result<LoadedBlueprint, BlueprintErrors> {
    let value = load_value(path)?;
    let mut problems = Problems::new(path);
    let blueprint = resolve(&value, &mut problems);
    problems.finish(blueprint).map(|(blueprint, warnings)| LoadedBlueprint {
        blueprint,
        warnings,
        source: path.to_path_buf(),
    })
}

/// Validates a blueprint already parsed into a value tree; `source` names it in errors.
pub fn from_value(value: &Value, source: &Path) -> Result<Blueprint, BlueprintErrors> {
    let mut problems = Problems::new(source);
    let blueprint = resolve(value, &mut problems);
    problems.finish(blueprint).map(|(blueprint, _)| blueprint)
}

fn resolve(value: &Value, problems: &mut Problems) -> Blueprint {
    let Some(object) = value.as_object() else {
        problems.error("", "the blueprint must be an object");
        return empty_blueprint();
    };
    problems.warn_unknown_keys("", object, &[&BLUEPRINT_KEYS]);
    let id = problems.required_text(object, "", "id").unwrap_or_default();
    let name = problems.optional_text(object, "", "name").unwrap_or_else(|| id.clone());
    let team_id = problems.optional_text(object, "", "team_id");
    let minimum_agent_version =
        problems.optional_text(object, "", "minimum_agent_version").and_then(|text| parse_version(&text, problems));
    let parameters = match object.get("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(parameters)) => parameters.clone(),
        Some(other) => {
            problems.wrong_type("parameters", "an object", other);
            Map::new()
        }
    };
    let library_items = resolve_items(object.get("library_items"), problems);
    Blueprint { id, name, team_id, minimum_agent_version, parameters, library_items }
}

fn empty_blueprint() -> Blueprint {
    Blueprint {
        id: String::new(),
        name: String::new(),
        team_id: None,
        minimum_agent_version: None,
        parameters: Map::new(),
        library_items: Vec::new(),
    }
}

/// Reads a version leniently: `1`, `1.2` and `1.2.3` are all accepted.
fn parse_version(text: &str, problems: &mut Problems) -> Option<semver::Version> {
    let padded = match text.matches('.').count() {
        0 => format!("{text}.0.0"),
        1 => format!("{text}.0"),
        _ => text.to_string(),
    };
    match semver::Version::parse(&padded) {
        Ok(version) => Some(version),
        Err(error) => {
            problems.error("minimum_agent_version", &format!("{text:?} is not a version such as \"1.2.3\" ({error})"));
            None
        }
    }
}

fn resolve_items(value: Option<&Value>, problems: &mut Problems) -> Vec<LibraryItem> {
    let items = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            problems.wrong_type("library_items", "an array", other);
            return Vec::new();
        }
    };
    let mut first_index_of_id: HashMap<String, usize> = HashMap::new();
    let mut resolved = Vec::new();
    for (index, value) in items.iter().enumerate() {
        let key = format!("library_items[{index}]");
        let Some(item) = resolve_item(value, &key, problems) else {
            continue;
        };
        if let Some(first) = first_index_of_id.get(&item.id) {
            problems.error(
                &format!("{key}.id"),
                &format!("duplicate id {:?}, already used by library_items[{first}]", item.id),
            );
            continue;
        }
        first_index_of_id.insert(item.id.clone(), index);
        resolved.push(item);
    }
    resolved
}

fn resolve_item(value: &Value, key: &str, problems: &mut Problems) -> Option<LibraryItem> {
    let Some(object) = value.as_object() else {
        problems.wrong_type(key, "an object", value);
        return None;
    };
    let id = problems.required_text(object, key, "id");
    let name = problems.required_text(object, key, "name");
    let item_type = problems.required_text(object, key, "type").and_then(|text| match ItemType::parse(&text) {
        Some(item_type) => Some(item_type),
        None => {
            let known: Vec<&str> = ItemType::ALL.iter().map(|t| t.as_str()).collect();
            let message = format!("unknown type {text:?} (expected one of {})", known.join(", "));
            problems.error(&format!("{key}.type"), &message);
            None
        }
    });
    let frequency = resolve_frequency(object, key, problems);
    let details = item_type.and_then(|item_type| match item_type {
        ItemType::CustomScript => {
            problems.warn_unknown_keys(key, object, &[&COMMON_ITEM_KEYS, &SCRIPT_KEYS]);
            resolve_script(object, key, problems).map(ItemDetails::CustomScript)
        }
        _ => Some(ItemDetails::Unhandled(object.clone())),
    });
    let (id, name, item_type, frequency, details) = (id?, name?, item_type?, frequency?, details?);
    Some(LibraryItem { id, name, item_type, frequency, details })
}

fn resolve_frequency(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Frequency> {
    let Some(text) = problems.optional_text(object, key, "frequency") else {
        return Some(Frequency::Every15Minutes);
    };
    let frequency = Frequency::parse(&text);
    if frequency.is_none() {
        let known: Vec<&str> = Frequency::NAMES.iter().map(|(name, _)| *name).collect();
        let message = format!("unknown frequency {text:?} (expected one of {})", known.join(", "));
        problems.error(&format!("{key}.frequency"), &message);
    }
    frequency
}

fn resolve_script(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<CustomScript> {
    let audit = problems.required_text(object, key, "audit")?;
    let remediation = problems.optional_text(object, key, "remediation").filter(|text| !text.trim().is_empty());
    Some(CustomScript { audit, remediation })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: Value) -> Result<Blueprint, Vec<String>> {
        from_value(&value, Path::new("/bp.json"))
            .map_err(|errors| errors.0.iter().map(|error| format!("{}: {}", error.key, error.message)).collect())
    }

    fn with_items(items: Value) -> Value {
        json!({ "id": "bp", "name": "Blueprint", "library_items": items })
    }

    #[test]
    fn a_complete_blueprint_resolves() {
        let blueprint = check(json!({
            "id": "bp-eng", "name": "Engineering", "team_id": "T-1234", "minimum_agent_version": "1.2",
            "parameters": { "secure_home_folders": true },
            "library_items": [
                { "id": "li-1", "name": "a/b\u{7}", "type": "custom_script", "frequency": "daily",
                  "audit": "#!/bin/sh\n", "remediation": "#!/bin/sh\n" },
                { "id": "li-2", "name": "Printer", "type": "custom_printer", "uri": "ipp://x" }
            ]
        }))
        .unwrap();
        assert_eq!(blueprint.minimum_agent_version, Some(semver::Version::new(1, 2, 0)));
        assert_eq!(blueprint.library_items[0].frequency, Frequency::Daily);
        assert_eq!(blueprint.library_items[0].name, "a/b\u{7}", "a name is a label, kept as sent");
        assert!(matches!(blueprint.library_items[1].details, ItemDetails::Unhandled(_)));
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (json!([]), vec![": the blueprint must be an object"]),
            (json!({ "name": "x" }), vec!["id: is required"]),
            (json!({ "id": "bp", "library_items": {} }), vec!["library_items: expected an array, found an object"]),
            (
                json!({ "id": "bp", "minimum_agent_version": "one" }),
                vec!["minimum_agent_version: \"one\" is not a version"],
            ),
            (
                with_items(json!([
                    { "id": "a", "name": "A", "type": "custom_script", "audit": "#!/bin/sh\n" },
                    { "id": "a", "name": "B", "type": "custom_script", "audit": "#!/bin/sh\n" },
                    { "id": "c", "name": " ", "type": "nope" },
                    { "id": 7, "name": "D", "type": "custom_script", "audit": "" },
                    { "id": "e", "name": "E", "type": "custom_script", "frequency": "hourly", "audit": "#!/bin/sh\n" },
                    "text"
                ])),
                vec![
                    "library_items[1].id: duplicate id \"a\", already used by library_items[0]",
                    "library_items[2].name: must not be empty",
                    "library_items[2].type: unknown type \"nope\"",
                    "library_items[3].id: expected a string, found the number 7",
                    "library_items[3].audit: must not be empty",
                    "library_items[4].frequency: unknown frequency \"hourly\"",
                    "library_items[5]: expected an object, found the string \"text\"",
                ],
            ),
        ];
        for (value, expected) in cases {
            let errors = check(value.clone()).expect_err("invalid");
            for fragment in &expected {
                assert!(errors.iter().any(|error| error.starts_with(fragment)), "{fragment:?} not in {errors:#?}");
            }
            assert_eq!(errors.len(), expected.len(), "{errors:#?} for {value}");
        }
    }

    #[test]
    fn plist_and_json_documents_load_alike() {
        let folder = tempfile::tempdir().unwrap();
        let json_path = folder.path().join("bp.json");
        let value = with_items(
            json!([{ "id": "a", "name": "A", "type": "custom_script", "audit": "#!/bin/sh\n", "colour": 1 }]),
        );
        std::fs::write(&json_path, value.to_string()).unwrap();
        let plist_path = folder.path().join("bp.plist");
        plist::to_file_binary(&plist_path, &value).unwrap();
        let from_json = load(&json_path).unwrap();
        let from_plist = load(&plist_path).unwrap();
        assert_eq!(from_json.blueprint, from_plist.blueprint);
        assert_eq!(from_json.warnings.len(), 1);
        assert!(from_json.warnings[0].contains("library_items[0].colour"), "{:?}", from_json.warnings);
    }

    #[test]
    fn unreadable_documents_name_the_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("bp.json");
        std::fs::write(&path, "{ nope").unwrap();
        let message = load(&path).unwrap_err().to_string();
        assert!(message.contains(path.to_str().unwrap()) && message.contains("not valid JSON"), "{message}");
        let missing = load(&folder.path().join("missing.json")).unwrap_err().to_string();
        assert!(missing.contains("cannot read the file"), "{missing}");
    }
}

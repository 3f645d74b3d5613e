//! Checking a blueprint document into a [`Blueprint`].
//!
//! Parse, then resolve: the document is read into a generic value tree (JSON or
//! plist, same keys), then checked field by field so that every problem is
//! reported at once with the file and the key path (`library_items[2].type`).
//! An item's `name` is a label for people only: it may hold `/` or any other
//! character and never becomes part of a path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::document::{BlueprintErrors, Problems, join_key, load_value};
use super::model::{Blueprint, Frequency, ItemDetails, ItemType, LibraryItem, LoadedBlueprint};
use super::parameters;
use super::parameters::Parameters;
use super::self_service;
use crate::config::AgentConfig;
use crate::paths::AgentPaths;

const BLUEPRINT_KEYS: [&str; 6] = ["id", "name", "team_id", "minimum_agent_version", "parameters", "library_items"];
/// The keys every library item may have, whatever its type.
pub(crate) const COMMON_ITEM_KEYS: [&str; 6] = ["id", "name", "type", "frequency", "description", "self_service"];

/// Where the blueprint a check-in would use is: the configured `blueprint_file`,
/// else the one last received from the tenant (which may not exist yet).
pub(crate) fn checkin_blueprint_path(paths: &AgentPaths, config: &AgentConfig) -> PathBuf {
    config.blueprint_file.clone().unwrap_or_else(|| paths.saved_blueprint.clone())
}

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
        None | Some(Value::Null) => Parameters::default(),
        Some(Value::Object(parameters)) => parameters::resolve(parameters, "parameters", problems),
        Some(other) => {
            problems.wrong_type("parameters", "an object", other);
            Parameters::default()
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
        parameters: Parameters::default(),
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
    let id = problems.required_text(object, key, "id").filter(|id| id_is_usable(id, key, problems));
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
    // The type's own keys, each type checking (and warning about) what it knows.
    let details = item_type.and_then(|item_type| ItemDetails::resolve(item_type, object, key, problems));
    let self_service = self_service::resolve(object, key, problems);
    let (id, name, frequency, details, self_service) = (id?, name?, frequency?, details?, self_service.ok()?);
    let item = LibraryItem { id, name, frequency, details, self_service };
    offered_if_on_request(&item, key, problems).then_some(item)
}

/// An item that runs only on request must say how it is offered: without a
/// `self_service` object nobody could find it. An error naming the key otherwise.
fn offered_if_on_request(item: &LibraryItem, key: &str, problems: &mut Problems) -> bool {
    if item.self_service.is_some() || !item.on_request_only() {
        return true;
    }
    let why = if item.frequency == Frequency::SelfService { "frequency" } else { "enforcement" };
    let message = format!("is required when {why} is \"self_service\" (the item runs only when someone asks for it)");
    problems.error(&join_key(key, "self_service"), &message);
    false
}

/// An item's id may name a file or folder on disk (scripts, markers), so a path
/// separator, a NUL (which ends a path early) or `.`/`..` could reach outside it:
/// each is refused, naming the key.
fn id_is_usable(id: &str, key: &str, problems: &mut Problems) -> bool {
    let problem = if id.contains('/') {
        "must not contain a path separator \"/\""
    } else if id.contains('\0') {
        "must not contain a NUL character"
    } else if id == "." || id == ".." {
        "must not be \".\" or \"..\""
    } else {
        return true;
    };
    problems.error(&format!("{key}.id"), problem);
    false
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
                { "id": "li-2", "name": "Printer", "type": "custom_printer", "printer_name": "office", "uri": "ipp://x" }
            ]
        }))
        .unwrap();
        assert_eq!(blueprint.minimum_agent_version, Some(semver::Version::new(1, 2, 0)));
        assert_eq!(blueprint.library_items[0].frequency, Frequency::Daily);
        assert_eq!(blueprint.library_items[0].name, "a/b\u{7}", "a name is a label, kept as sent");
        assert!(matches!(blueprint.library_items[1].details, ItemDetails::CustomPrinter(_)));
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
                    "text",
                    { "id": "../x", "name": "F", "type": "custom_script", "audit": "#!/bin/sh\n" },
                    { "id": "g\u{0}", "name": "G", "type": "custom_script", "audit": "#!/bin/sh\n" },
                    { "id": "..", "name": "H", "type": "custom_script", "audit": "#!/bin/sh\n" }
                ])),
                vec![
                    "library_items[1].id: duplicate id \"a\", already used by library_items[0]",
                    "library_items[2].name: must not be empty",
                    "library_items[2].type: unknown type \"nope\"",
                    "library_items[3].id: expected a string, found the number 7",
                    "library_items[3].audit: must not be empty",
                    "library_items[4].frequency: unknown frequency \"hourly\"",
                    "library_items[5]: expected an object, found the string \"text\"",
                    "library_items[6].id: must not contain a path separator \"/\"",
                    "library_items[7].id: must not contain a NUL character",
                    "library_items[8].id: must not be \".\" or \"..\"",
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

    /// An auto app's catalog entry with every required key.
    fn catalog() -> Value {
        json!({ "name": "Foo", "bundle_id": "com.example.foo", "version": "1.0", "install_type": "zip",
                "url": "file:///Foo.zip", "sha256": "0".repeat(64), "app_name": "Foo.app" })
    }

    #[test]
    fn an_item_run_only_on_request_must_carry_its_offer() {
        let offer = json!({ "category": "Tools" });
        let zip = json!({ "source": "zip", "url": "file:///Foo.zip", "sha256": "0".repeat(64), "app_name": "Foo.app" });
        let catalog = catalog();
        let script = |id: &str, frequency: &str, offer: Option<&Value>| {
            let mut item =
                json!({ "id": id, "name": id, "type": "custom_script", "frequency": frequency, "audit": "true" });
            if let Some(offer) = offer {
                item["self_service"] = offer.clone();
            }
            item
        };
        let mut custom_app = json!({ "id": "app", "name": "App", "type": "custom_app", "enforcement": "self_service" });
        custom_app.as_object_mut().unwrap().extend(zip.as_object().unwrap().clone());
        let auto_app = json!({ "id": "auto", "name": "Auto", "type": "auto_app", "enforcement": "self_service",
                               "catalog": catalog });
        let errors = check(with_items(json!([script("asked", "self_service", None), custom_app, auto_app])))
            .expect_err("no offer");
        assert_eq!(
            errors,
            [
                "library_items[0].self_service: is required when frequency is \"self_service\" (the item runs only when someone asks for it)",
                "library_items[1].self_service: is required when enforcement is \"self_service\" (the item runs only when someone asks for it)",
                "library_items[2].self_service: is required when enforcement is \"self_service\" (the item runs only when someone asks for it)",
            ]
        );
        let blueprint = check(with_items(json!([
            script("asked", "self_service", Some(&offer)),
            script("offered", "every_15_min", Some(&offer)),
            script("plain", "daily", None),
        ])))
        .unwrap();
        let on_request: Vec<bool> = blueprint.library_items.iter().map(LibraryItem::on_request_only).collect();
        assert_eq!(on_request, [true, false, false]);
        assert_eq!(
            blueprint.library_items[1].self_service.as_ref().map(|offer| offer.category.as_str()),
            Some("Tools")
        );
        assert_eq!(blueprint.library_items[2].self_service, None);
    }

    #[test]
    fn an_auto_app_may_only_be_enforced_or_offered() {
        let catalog = catalog();
        let errors = check(with_items(json!([{ "id": "auto", "name": "Auto", "type": "auto_app",
                                               "enforcement": "install_once", "catalog": catalog }])))
        .expect_err("install once is a custom app's");
        assert_eq!(
            errors,
            [
                "library_items[0].enforcement: unknown enforcement \"install_once\" (expected one of audit_and_enforce, self_service)"
            ]
        );
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

    #[test]
    fn a_key_set_twice_is_an_error_naming_it() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("bp.json");
        let items = r#"[{"id": "a", "name": "A", "type": "custom_script", "audit": "true", "audit": "false"}]"#;
        std::fs::write(&path, format!(r#"{{"id": "bp", "library_items": {items}}}"#)).unwrap();
        let errors = load(&path).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].key, "library_items[0].audit");
        assert_eq!(errors.0[0].message, "is set more than once in the same dictionary");
    }
}

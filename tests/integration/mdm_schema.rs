//! Checks an MDM response against Apple's own schema of its command
//! (`tests/fixtures/apple-mdm/*.yaml`, copied from `../shared/spec/apple-mdm/`): every required key present, every value of
//! the declared type, and no key the schema does not name.
//!
//! Responses are checked in the JSON form the agent prints and sends to the tenant,
//! where a plist `<data>` is a base64 string and a `<date>` an RFC 3339 string.
//!
//! Two rules come from Apple's protocol rather than the command files: the agent
//! answers for a Mac, so a key whose `supportedOS` says macOS `introduced: n/a` is
//! neither required nor allowed; and the command's own keys are the result of an
//! `Acknowledged` response, so one with another `Status` (`Error`) need not carry
//! them (any it carries are still checked).

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

/// Keys every response carries besides its command's own: Apple's envelope
/// (`CommandUUID`, `Status`, `UDID`) and the contract's `RequestType`.
const ENVELOPE: [(&str, &str, bool); 4] = [
    ("CommandUUID", "<string>", true),
    ("Status", "<string>", true),
    ("UDID", "<string>", true),
    ("RequestType", "<string>", true),
];

/// One command's response schema.
pub struct CommandSchema {
    /// Apple's `RequestType`, e.g. `ProfileList`.
    pub request_type: String,
    /// The command's response keys.
    keys: Vec<KeySchema>,
}

/// The statuses a device answers a command with (Apple's protocol); `Idle` only
/// ever comes without a command.
const STATUSES: [&str; 4] = ["Acknowledged", "Error", "CommandFormatError", "NotNow"];

/// One key of a response, as the schema declares it.
#[derive(Debug, Clone)]
struct KeySchema {
    name: String,
    kind: String,
    required: bool,
    /// macOS has it (its `supportedOS` does not say macOS `introduced: n/a`).
    on_macos: bool,
    /// Keys of a dictionary, or the one element schema of an array.
    subkeys: Vec<KeySchema>,
}

/// The folder of Apple's schema files, kept in the project.
pub fn spec_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apple-mdm")
}

/// The shared specification the project's copies come from, when it is beside the project.
fn shared_spec_folder() -> Option<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/apple-mdm");
    folder.is_dir().then_some(folder)
}

/// Reads every command schema in the spec folder.
pub fn load_all() -> Vec<CommandSchema> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(spec_folder())
        .expect("the spec folder tests/fixtures/apple-mdm")
        .map(|entry| entry.expect("a spec entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "yaml"))
        .collect();
    files.sort();
    files.iter().map(|path| load(path)).collect()
}

/// Reads one command schema.
pub fn load(path: &Path) -> CommandSchema {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let documents = YamlLoader::load_from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let document = &documents[0];
    let request_type = document["payload"]["requesttype"].as_str().expect("payload.requesttype").to_string();
    let keys = key_list(&document["responsekeys"]);
    CommandSchema { request_type, keys }
}

fn key_list(yaml: &Yaml) -> Vec<KeySchema> {
    yaml.as_vec().map(|keys| keys.iter().map(key_schema).collect()).unwrap_or_default()
}

fn key_schema(yaml: &Yaml) -> KeySchema {
    KeySchema {
        name: yaml["key"].as_str().unwrap_or_default().to_string(),
        kind: yaml["type"].as_str().unwrap_or_default().to_string(),
        required: yaml["presence"].as_str() == Some("required"),
        on_macos: yaml["supportedOS"]["macOS"]["introduced"].as_str() != Some("n/a"),
        subkeys: key_list(&yaml["subkeys"]),
    }
}

impl CommandSchema {
    /// Every way `response` departs from the schema (empty when it conforms).
    pub fn violations(&self, response: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        let mut keys: Vec<KeySchema> = ENVELOPE
            .iter()
            .map(|(name, kind, required)| KeySchema {
                name: (*name).to_string(),
                kind: (*kind).to_string(),
                required: *required,
                on_macos: true,
                subkeys: Vec::new(),
            })
            .collect();
        let status = response.get("Status").and_then(Value::as_str);
        let acknowledged = status == Some("Acknowledged");
        keys.extend(self.keys.iter().map(|key| KeySchema { required: key.required && acknowledged, ..key.clone() }));
        if let Some(status) = status.filter(|status| !STATUSES.contains(status)) {
            problems.push(format!("{}: Status {status:?} is not one of {STATUSES:?}", self.request_type));
        }
        check_dictionary(&self.request_type, response, &keys, &mut problems);
        if response.get("RequestType").and_then(Value::as_str) != Some(self.request_type.as_str()) {
            problems.push(format!("{}: RequestType is not {:?}", self.request_type, self.request_type));
        }
        problems
    }
}

fn check_dictionary(place: &str, value: &Value, keys: &[KeySchema], problems: &mut Vec<String>) {
    let Some(object) = value.as_object() else {
        problems.push(format!("{place}: expected a dictionary, found {value}"));
        return;
    };
    for key in keys {
        match object.get(&key.name) {
            Some(_) if !key.on_macos => problems.push(format!("{place}: key {} does not exist on macOS", key.name)),
            Some(value) => check_value(&format!("{place}.{}", key.name), value, key, problems),
            None if key.required && key.on_macos => {
                problems.push(format!("{place}: required key {} is missing", key.name))
            }
            None => {}
        }
    }
    // A dictionary the schema describes key by key admits no other key.
    if !keys.is_empty() {
        for name in object.keys() {
            if !keys.iter().any(|key| &key.name == name) {
                problems.push(format!("{place}: key {name} is not in Apple's schema"));
            }
        }
    }
}

fn check_value(place: &str, value: &Value, key: &KeySchema, problems: &mut Vec<String>) {
    let fits = match key.kind.as_str() {
        "<string>" => value.is_string(),
        "<boolean>" => value.is_boolean(),
        "<integer>" => value.is_i64() || value.is_u64(),
        "<real>" => value.is_number(),
        "<date>" => value.as_str().is_some_and(|text| chrono::DateTime::parse_from_rfc3339(text).is_ok()),
        "<data>" => value.as_str().is_some_and(|text| base64::engine::general_purpose::STANDARD.decode(text).is_ok()),
        "<dictionary>" => {
            check_dictionary(place, value, &key.subkeys, problems);
            return;
        }
        "<array>" => {
            check_array(place, value, key, problems);
            return;
        }
        other => {
            problems.push(format!("{place}: the schema's type {other} is unknown to this check"));
            return;
        }
    };
    if !fits {
        problems.push(format!("{place}: expected {}, found {value}", key.kind));
    }
}

fn check_array(place: &str, value: &Value, key: &KeySchema, problems: &mut Vec<String>) {
    let Some(elements) = value.as_array() else {
        problems.push(format!("{place}: expected <array>, found {value}"));
        return;
    };
    // Apple describes an array's elements with one sub-key (e.g. `ProfileListItem`).
    let Some(element) = key.subkeys.first() else { return };
    for (index, item) in elements.iter().enumerate() {
        check_value(&format!("{place}[{index}]"), item, element, problems);
    }
}

/// The schema for `request_type`.
pub fn schema_for(request_type: &str) -> CommandSchema {
    load_all()
        .into_iter()
        .find(|schema| schema.request_type == request_type)
        .unwrap_or_else(|| panic!("no schema for {request_type} in {}", spec_folder().display()))
}

#[test]
fn the_project_copies_equal_the_shared_specification() {
    let Some(shared) = shared_spec_folder() else {
        eprintln!("skipped: ../shared/spec/apple-mdm is not beside the project");
        return;
    };
    let mut compared = 0;
    for entry in std::fs::read_dir(&shared).unwrap() {
        let path = entry.unwrap().path();
        let copy = spec_folder().join(path.file_name().unwrap());
        let same = std::fs::read(&copy).ok() == Some(std::fs::read(&path).unwrap());
        assert!(same, "{} differs from {}: copy it again", copy.display(), path.display());
        compared += 1;
    }
    assert_eq!(compared, 7, "six command files and Apple's licence");
}

#[test]
fn the_spec_folder_holds_the_six_commands() {
    let mut names: Vec<String> = load_all().into_iter().map(|schema| schema.request_type).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "AvailableOSUpdates",
            "CertificateList",
            "DeviceInformation",
            "InstalledApplicationList",
            "ProfileList",
            "SecurityInfo"
        ]
    );
}

#[test]
fn the_check_finds_missing_mistyped_and_invented_keys() {
    let schema = schema_for("CertificateList");
    let good = serde_json::json!({
        "RequestType": "CertificateList", "CommandUUID": "c-1", "Status": "Acknowledged", "UDID": "u-1",
        "CertificateList": [ { "CommonName": "Device", "IsIdentity": true, "Data": "MAA=" } ]
    });
    assert_eq!(schema.violations(&good), Vec::<String>::new());

    let bad = serde_json::json!({
        "RequestType": "CertificateList", "Status": "Acknowledged", "UDID": "u-1",
        "CertificateList": [ { "CommonName": "Device", "IsIdentity": "yes", "Data": "not base64!", "Issuer": "x" } ],
        "Certificates": []
    });
    let problems = schema.violations(&bad);
    let expected = [
        "CertificateList: required key CommandUUID is missing",
        "CertificateList.CertificateList[0].IsIdentity: expected <boolean>, found \"yes\"",
        "CertificateList.CertificateList[0].Data: expected <data>, found \"not base64!\"",
        "CertificateList.CertificateList[0]: key Issuer is not in Apple's schema",
        "CertificateList: key Certificates is not in Apple's schema",
    ];
    for line in expected {
        assert!(problems.iter().any(|problem| problem == line), "missing {line:?} in {problems:#?}");
    }
}

#[test]
fn keys_macos_lacks_and_error_responses_are_judged_by_apples_protocol() {
    let schema = schema_for("AvailableOSUpdates");
    let update = serde_json::json!({
        "ProductKey": "macOS Sonoma 14.7.1-23H222", "HumanReadableName": "macOS Sonoma 14.7.1",
        "HumanReadableNameLocale": "", "MetadataURL": "", "Version": "14.7.1", "Build": "23H222",
        "DownloadSize": 1_716_518_912_u64, "AppIdentifiersToClose": [], "IsSecurityResponse": false
    });
    let mut response = serde_json::json!({
        "RequestType": "AvailableOSUpdates", "CommandUUID": "c-1", "Status": "Acknowledged", "UDID": "u-1",
        "AvailableOSUpdates": [update]
    });
    assert_eq!(schema.violations(&response), Vec::<String>::new(), "ProductName and InstallSize are iOS-only");
    response["AvailableOSUpdates"][0]["InstallSize"] = serde_json::json!(1);
    assert_eq!(
        schema.violations(&response),
        ["AvailableOSUpdates.AvailableOSUpdates[0]: key InstallSize does not exist on macOS"]
    );

    let error = serde_json::json!({
        "RequestType": "CertificateList", "CommandUUID": "c-2", "Status": "Error", "UDID": "u-1"
    });
    assert_eq!(schema_for("CertificateList").violations(&error), Vec::<String>::new());
    let mut acknowledged = error.clone();
    acknowledged["Status"] = serde_json::json!("Acknowledged");
    assert_eq!(
        schema_for("CertificateList").violations(&acknowledged),
        ["CertificateList: required key CertificateList is missing"]
    );
    acknowledged["Status"] = serde_json::json!("Done");
    assert!(schema_for("CertificateList").violations(&acknowledged)[0].contains("Status \"Done\" is not one of"));
}

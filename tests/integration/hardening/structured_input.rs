//! Depth and size limits on every structured input, duplicate keys and hostile item ids.
//!
//! Each source gets a document nested 100,000 deep (or one over its size limit):
//! before the limits, the XML and binary plists overflowed the agent's stack and
//! it died by a signal. Now each is refused naming the file, and what does not
//! depend on that input goes on.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{Device, blueprint, check_in, code, logged, script, text};
use crate::tenant::server::TestTenant;
use crate::tenant::{configure, counting_blueprint, dead_url};

const DEEP: usize = 100_000;
const SUPPORT: &str = "Library/Application Support/EndpointAgent";
const MANAGED_PREFERENCES: &str = "Library/Managed Preferences/io.endpointagent.agent.plist";
const TOO_DEEP: &str = "nests arrays and dictionaries deeper than 64 levels";

/// JSON: an object whose `library_items` is an array nested `DEEP` times.
fn deep_json() -> String {
    format!(r#"{{"id": "bp", "library_items": {}{}}}"#, "[".repeat(DEEP), "]".repeat(DEEP))
}

/// An XML plist dictionary whose key `deep` holds arrays nested `DEEP` times.
fn deep_xml_plist() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>deep</key>{}{}</dict></plist>"#,
        "<array>".repeat(DEEP),
        "</array>".repeat(DEEP)
    )
}

/// A binary plist of arrays nested `DEEP` times, written by hand (the plist
/// crate's own writer recurses): object `i` holds object `i + 1`.
fn deep_binary_plist() -> Vec<u8> {
    let mut bytes = b"bplist00".to_vec();
    let mut offsets = Vec::with_capacity(DEEP);
    for index in 0..DEEP {
        offsets.push(bytes.len() as u32);
        if index + 1 < DEEP {
            bytes.push(0xA1);
            bytes.extend_from_slice(&(index as u32 + 1).to_be_bytes());
        } else {
            bytes.push(0xA0);
        }
    }
    let table = bytes.len() as u64;
    offsets.iter().for_each(|offset| bytes.extend_from_slice(&offset.to_be_bytes()));
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 4, 4]);
    for number in [DEEP as u64, 0, table] {
        bytes.extend_from_slice(&number.to_be_bytes());
    }
    bytes
}

/// Makes `path` a sparse file one byte over `limit`: refused from its size alone.
fn oversized(path: &Path, limit: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(path).unwrap().set_len(limit + 1).unwrap();
}

/// Asserts `arguments` exits 2 (not by a signal) and says each of `expected`.
fn refused(device: &Device, arguments: &[&str], expected: &[&str]) {
    let output = device.run(arguments);
    let message = text(&output.stderr);
    assert_eq!(code(&output), 2, "{message}");
    for fragment in expected {
        assert!(message.contains(fragment), "{fragment:?} missing from: {message}");
    }
}

#[test]
fn a_deep_json_blueprint_file_is_refused_naming_it() {
    let device = Device::new();
    let path = device.write_file("deep.json", &deep_json());
    refused(&device, &["run", "--blueprint", path.to_str().unwrap()], &[path.to_str().unwrap(), TOO_DEEP]);
    assert!(!device.state_dir().join("agent.sqlite3").exists(), "nothing ran");
}

#[test]
fn a_deep_plist_blueprint_file_is_refused_naming_it_xml_or_binary() {
    let device = Device::new();
    let xml = device.write_file("deep.plist", &deep_xml_plist());
    let binary = device.root().join("deep-binary.plist");
    std::fs::write(&binary, deep_binary_plist()).unwrap();
    for path in [&xml, &binary] {
        // Through `blueprint_file`, the configuration's way to name a local blueprint.
        let fragment = json!({ "blueprint_file": path });
        device.write_file(&format!("{SUPPORT}/config.d/10-blueprint.json"), &fragment.to_string());
        refused(&device, &["run"], &[path.to_str().unwrap(), TOO_DEEP]);
    }
}

#[test]
fn an_oversized_blueprint_file_is_refused_before_it_is_read() {
    let device = Device::new();
    let path = device.root().join("huge.json");
    oversized(&path, 32 * 1024 * 1024);
    refused(&device, &["run", "--blueprint", path.to_str().unwrap()], &["huge.json", "larger than the 32 MiB limit"]);
}

#[test]
fn a_deep_blueprint_from_the_tenant_leaves_the_saved_one_in_force() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    check_in(&device, &[]);
    let saved = std::fs::read(device.state_dir().join("blueprint.json")).unwrap();
    // The tenant's body is read as a plist when it looks like one.
    tenant.change(|state| {
        state.blueprint_body = Some(deep_xml_plist());
        state.etag = "\"v2\"".to_string();
    });
    let run = check_in(&device, &[]);
    assert_eq!(run["outcome"], "succeeded");
    assert_eq!(run["items"][0]["id"], "li-count", "the saved blueprint ran");
    assert_eq!(std::fs::read(device.state_dir().join("blueprint.json")).unwrap(), saved);
    let log = logged(&device);
    assert!(log.contains("blueprint is unusable") && log.contains(TOO_DEEP), "{log}");
}

#[test]
fn a_deep_saved_blueprint_is_refused_naming_it_while_the_tenant_is_down() {
    let device = Device::new();
    configure(&device, &dead_url(), "tok-1");
    let saved = device.write_file(&format!("{SUPPORT}/state/blueprint.json"), &deep_xml_plist());
    refused(&device, &["run"], &[saved.to_str().unwrap(), TOO_DEEP]);
}

#[test]
fn a_deep_config_plist_exits_2_naming_it() {
    let device = Device::new();
    let path = device.write_file(&format!("{SUPPORT}/config.plist"), &deep_xml_plist());
    refused(&device, &["config"], &[path.to_str().unwrap(), TOO_DEEP]);
}

#[test]
fn a_deep_json_fragment_exits_2_naming_it() {
    let device = Device::new();
    let path = device.write_file(&format!("{SUPPORT}/config.d/30-deep.json"), &deep_json());
    refused(&device, &["config"], &[path.to_str().unwrap(), TOO_DEEP]);
}

#[test]
fn deep_or_oversized_managed_preferences_exit_2_naming_them() {
    let device = Device::new();
    let path = device.root().join(MANAGED_PREFERENCES);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, deep_binary_plist()).unwrap();
    refused(&device, &["config"], &[path.to_str().unwrap(), TOO_DEEP]);
    oversized(&path, 4 * 1024 * 1024);
    refused(&device, &["config"], &[path.to_str().unwrap(), "larger than the 4 MiB limit"]);
}

/// Makes an app bundle at `relative` whose Info.plist is `info`.
fn app(device: &Device, relative: &str, info: &[u8]) -> std::path::PathBuf {
    let contents = device.root().join(relative).join("Contents");
    std::fs::create_dir_all(&contents).unwrap();
    std::fs::write(contents.join("Info.plist"), info).unwrap();
    contents.join("Info.plist")
}

#[test]
fn the_inventory_skips_an_app_with_a_deep_or_oversized_info_plist_and_names_it() {
    let device = Device::new();
    let good = r#"<plist version="1.0"><dict><key>CFBundleName</key><string>Good</string></dict></plist>"#;
    app(&device, "Applications/Good.app", good.as_bytes());
    let deep = app(&device, "Applications/X.app", deep_xml_plist().as_bytes());
    let large = app(&device, "Users/eve/Applications/Y.app", b"");
    oversized(&large, 4 * 1024 * 1024);
    let binary = app(&device, "Users/eve/Applications/Z.app", &deep_binary_plist());

    let output = device.run(&["inventory", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let inventory: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> =
        inventory["applications"].as_array().unwrap().iter().map(|app| app["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Good"]);
    let errors: Vec<String> = inventory["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| format!("{}: {}", error["collector"].as_str().unwrap(), error["message"].as_str().unwrap()))
        .collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    for (path, problem) in [(&deep, TOO_DEEP), (&large, "is larger than the 4 MiB limit"), (&binary, TOO_DEEP)] {
        let expected = format!("applications: {}: {problem}", path.display());
        assert!(errors.iter().any(|error| error.starts_with(&expected)), "{expected:?} not in {errors:#?}");
    }
}

#[test]
fn a_deep_or_oversized_managed_plist_target_fails_its_parameter_and_is_left_untouched() {
    let device = Device::new();
    let deep_target = "/Library/Preferences/com.example.deep.plist";
    let large_target = "/Library/Preferences/com.example.large.plist";
    let deep = device.root().join(deep_target.trim_start_matches('/'));
    std::fs::create_dir_all(deep.parent().unwrap()).unwrap();
    std::fs::write(&deep, deep_xml_plist()).unwrap();
    let large = device.root().join(large_target.trim_start_matches('/'));
    oversized(&large, 64 * 1024 * 1024);
    let blueprint = device.write_blueprint(&json!({
        "id": "bp", "name": "Parameters", "team_id": "T-1",
        "parameters": { "managed_plists": [
            { "path": deep_target, "key": "AutoUpdate", "value": true },
            { "path": large_target, "key": "AutoUpdate", "value": true }
        ] }
    }));
    let output = device.check_in(&blueprint, &[]);
    assert_eq!(code(&output), 1, "a failed parameter fails the run: {}", text(&output.stderr));
    let status = device.status();
    let parameters = status["last_run"]["parameters"].as_array().unwrap();
    let plists = parameters.iter().find(|parameter| parameter["id"] == "managed_plists").unwrap();
    assert_eq!(plists["status"], "failed");
    let message = plists["message"].as_str().unwrap();
    assert!(message.contains(deep_target) && message.contains(TOO_DEEP), "{message}");
    assert!(message.contains(large_target) && message.contains("larger than"), "{message}");
    assert_eq!(std::fs::read_to_string(&deep).unwrap(), deep_xml_plist(), "left untouched");
    assert_eq!(std::fs::metadata(&large).unwrap().len(), 64 * 1024 * 1024 + 1, "left untouched");
}

#[test]
fn a_key_set_twice_in_a_json_blueprint_exits_2_naming_it() {
    let device = Device::new();
    let items = r##"[{"id": "li-1", "name": "Audit", "type": "custom_script",
        "audit": "#!/bin/sh\necho reviewed\n", "audit": "#!/bin/sh\necho other\n"}]"##;
    let path = device.write_file("twice.json", &format!(r#"{{"id": "bp", "library_items": {items}}}"#));
    refused(
        &device,
        &["run", "--blueprint", path.to_str().unwrap()],
        &["twice.json", "library_items[0].audit", "set more than once"],
    );
    assert!(!device.state_dir().join("agent.sqlite3").exists(), "nothing ran");
}

#[test]
fn an_item_id_with_a_nul_or_a_path_separator_exits_2_naming_it() {
    let device = Device::new();
    let ok = "#!/bin/sh\nexit 0\n";
    let path = device.write_blueprint(&blueprint(vec![script("../escape", "Slash", ok), script("nul\0id", "Nul", ok)]));
    refused(
        &device,
        &["run", "--blueprint", path.to_str().unwrap()],
        &["library_items[0].id", "path separator", "library_items[1].id", "NUL"],
    );
}

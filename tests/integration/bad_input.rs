//! Malformed configuration or blueprints: exit 2, naming file and key, no state touched.

use serde_json::json;

use crate::support::{Device, blueprint, code, script, text};

#[test]
fn a_malformed_blueprint_names_every_bad_key_and_touches_nothing() {
    let device = Device::new();
    let bad = json!({
        "id": "bp", "name": "Broken",
        "library_items": [
            { "id": "a", "name": "Fine", "type": "custom_script", "audit": "#!/bin/sh\nexit 0\n" },
            { "id": "b", "name": "Odd type", "type": "custom_thing" },
            { "id": "a", "name": "Same id", "type": "custom_script", "audit": "#!/bin/sh\n" },
            { "id": "c", "name": "", "type": "custom_script", "audit": "#!/bin/sh\n" },
            { "id": "d", "name": "No audit", "type": "custom_script", "frequency": "hourly" }
        ]
    });
    let path = device.write_blueprint(&bad);
    let output = device.check_in(&path, &[]);
    assert_eq!(code(&output), 2);
    let message = text(&output.stderr);
    for expected in [
        path.to_str().unwrap(),
        "library_items[1].type",
        "unknown type \"custom_thing\"",
        "library_items[2].id",
        "duplicate id",
        "library_items[3].name",
        "library_items[4].audit",
        "library_items[4].frequency",
    ] {
        assert!(message.contains(expected), "{expected:?} missing from: {message}");
    }
    assert!(!device.state_dir().exists(), "no state may be created for bad input");
}

#[test]
fn a_self_service_item_without_its_offer_or_with_a_bad_one_is_refused_naming_the_key() {
    let device = Device::new();
    let bad = json!({
        "id": "bp", "name": "Broken",
        "library_items": [
            { "id": "a", "name": "Asked", "type": "custom_script", "frequency": "self_service", "audit": "true" },
            { "id": "b", "name": "Offered", "type": "custom_script", "audit": "true",
              "self_service": { "category": "", "recommended": "yes" } }
        ]
    });
    let path = device.write_blueprint(&bad);
    let output = device.check_in(&path, &[]);
    assert_eq!(code(&output), 2);
    let message = text(&output.stderr);
    for expected in [
        "library_items[0].self_service",
        "is required when frequency is \"self_service\"",
        "library_items[1].self_service.category",
        "library_items[1].self_service.recommended",
    ] {
        assert!(message.contains(expected), "{expected:?} missing from: {message}");
    }
    assert!(!device.state_dir().exists(), "no state may be created for bad input");
}

#[test]
fn bad_input_after_good_runs_leaves_the_recorded_state_alone() {
    let device = Device::new();
    let good = device.write_blueprint(&blueprint(vec![script("ok", "Ok", "#!/bin/sh\nexit 0\n")]));
    assert_eq!(code(&device.check_in(&good, &[])), 0);
    let before = device.run(&["history", "--json"]).stdout;
    let store = device.state_dir().join("agent.sqlite3");
    let store_before = std::fs::read(&store).unwrap();

    let broken = device.write_file("broken.json", "{ \"id\": \"bp\", \"library_items\": [ ");
    let output = device.check_in(&broken, &[]);
    assert_eq!(code(&output), 2);
    assert!(text(&output.stderr).contains("not valid JSON"), "{}", text(&output.stderr));

    let config = device.write_file(
        "Library/Application Support/EndpointAgent/config.plist",
        "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>timeouts</key><dict><key>run</key><true/></dict></dict></plist>",
    );
    let output = device.check_in(&good, &[]);
    assert_eq!(code(&output), 2);
    let message = text(&output.stderr);
    assert!(message.contains("config.plist") && message.contains("timeouts.run"), "{message}");

    std::fs::remove_file(config).unwrap();
    assert_eq!(device.run(&["history", "--json"]).stdout, before);
    assert_eq!(std::fs::read(&store).unwrap(), store_before);
}

#[test]
fn a_malformed_plist_blueprint_is_refused_with_its_path() {
    let device = Device::new();
    let path = device.write_file("blueprint.plist", "<?xml version=\"1.0\"?><plist><dict><key>id</key>");
    let output = device.check_in(&path, &[]);
    assert_eq!(code(&output), 2);
    let message = text(&output.stderr);
    assert!(message.contains("blueprint.plist") && message.contains("not a valid plist"), "{message}");
}

#[test]
fn a_plist_blueprint_runs_like_json() {
    let device = Device::new();
    let plist = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>id</key><string>bp-plist</string>
  <key>name</key><string>From a profile</string>
  <key>library_items</key><array><dict>
    <key>id</key><string>li-1</string>
    <key>name</key><string>Touch a file</string>
    <key>type</key><string>custom_script</string>
    <key>audit</key><string>#!/bin/sh
touch "$AGENT_ROOT/from-plist"
</string>
  </dict></array>
</dict></plist>"#;
    let path = device.write_file("blueprint.plist", plist);
    device.check_in_ok(&path, &[]);
    assert!(device.root().join("from-plist").exists());
}

#[test]
fn no_blueprint_at_all_is_bad_input() {
    let device = Device::new();
    let output = device.run(&["run"]);
    assert_eq!(code(&output), 2);
    assert!(text(&output.stderr).contains("no blueprint"), "{}", text(&output.stderr));
}

#[test]
fn a_malformed_config_on_a_fresh_device_creates_no_state() {
    let device = Device::new();
    device.write_file("Library/Application Support/EndpointAgent/config.d/10-x.json", "{ \"timeouts.run\": ");
    device.write_file(
        "Library/Managed Preferences/io.endpointagent.agent.plist",
        "<?xml version=\"1.0\"?><plist><dict><key>schedule.daily_interval</key><string>often</string></dict></plist>",
    );
    let path = device.write_blueprint(&blueprint(vec![script("ok", "Ok", "#!/bin/sh\nexit 0\n")]));
    let output = device.check_in(&path, &[]);
    assert_eq!(code(&output), 2);
    let message = text(&output.stderr);
    assert!(message.contains("10-x.json"), "{message}");
    assert!(
        message.contains("io.endpointagent.agent.plist") && message.contains("schedule.daily_interval"),
        "{message}"
    );
    assert!(!device.state_dir().exists(), "no state may be created for bad configuration");
    assert!(!device.root().join("Library/Logs").exists(), "nothing logged to files either");
}

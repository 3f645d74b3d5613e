//! `agent --version`, `agent paths`, `agent config --show-origin`, and the self-update
//! pin a package lays down as a drop-in fragment.

use crate::support::{Device, code, text};

#[test]
fn version_is_semver_after_the_binary_name() {
    let output = Device::new().run(&["--version"]);
    assert_eq!(code(&output), 0);
    let version = text(&output.stdout);
    let version = version.trim().strip_prefix("agent ").expect("starts with 'agent '");
    assert_eq!(version.split('.').filter(|part| part.parse::<u64>().is_ok()).count(), 3, "{version}");
}

#[test]
fn paths_live_under_agent_root() {
    let device = Device::new();
    let output = device.run(&["paths", "--json"]);
    assert_eq!(code(&output), 0);
    let paths: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let root = device.root().to_str().unwrap();
    assert_eq!(paths["root"], root);
    for key in ["config_file", "config_dropin_dir", "managed_preferences", "state_dir", "log_dir", "socket"] {
        let path = paths[key].as_str().unwrap_or_else(|| panic!("{key} missing"));
        assert!(path.starts_with(root), "{key} = {path}");
    }
}

#[test]
fn show_origin_names_the_layer_that_set_each_key() {
    let device = Device::new();
    let support = "Library/Application Support/EndpointAgent";
    device.write_file(
        &format!("{support}/config.plist"),
        r#"<?xml version="1.0"?><plist version="1.0"><dict>
<key>timeouts</key><dict><key>custom_script</key><string>30m</string><key>run</key><string>6h</string></dict>
</dict></plist>"#,
    );
    device.write_file(
        &format!("{support}/config.d/10-base.json"),
        r#"{"timeouts.run": "5h", "tenant.url": "https://one.example"}"#,
    );
    device.write_file(&format!("{support}/config.d/20-tenant.json"), r#"{"tenant": {"url": "https://two.example"}}"#);
    device.write_file(
        "Library/Managed Preferences/io.endpointagent.agent.plist",
        r#"<?xml version="1.0"?><plist version="1.0"><dict><key>schedule.recurring_interval</key><string>10m</string><key>tenant.token</key><string>s3cret-token</string></dict></plist>"#,
    );
    let output = device
        .agent()
        .env("AGENT_SCHEDULE_DAILY_INTERVAL", "12h")
        .args(["config", "--show-origin", "--set", "timeouts.auto_app=2h"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    let line = |key: &str| {
        shown
            .lines()
            .find(|line| line.contains(key))
            .unwrap_or_else(|| panic!("{key} not shown in {shown}"))
            .to_string()
    };
    assert!(line("timeouts.custom_script").contains("config.plist"));
    assert!(line("timeouts.run").contains("10-base.json"));
    assert!(line("tenant.url").contains("20-tenant.json") && line("tenant.url").contains("two.example"));
    assert!(line("schedule.recurring_interval").contains("Managed Preferences"));
    assert!(line("schedule.daily_interval").contains("AGENT_SCHEDULE_DAILY_INTERVAL"));
    assert!(line("timeouts.auto_app").contains("--set"));
    assert!(line("timeouts.custom_printer").contains("default"));
    assert!(!shown.contains("s3cret-token"), "the token is never printed");
}

#[test]
fn unknown_keys_warn_and_wrong_types_fail_naming_file_and_key() {
    let device = Device::new();
    let support = "Library/Application Support/EndpointAgent";
    device.write_file(&format!("{support}/config.d/10-a.json"), r#"{"colour": "blue"}"#);
    let output = device.run(&["config"]);
    assert_eq!(code(&output), 0);
    assert!(text(&output.stderr).contains("colour"), "{}", text(&output.stderr));

    device.write_file(
        &format!("{support}/config.d/20-b.json"),
        r#"{"timeouts": {"run": "soon"}, "logs.retention_days": "many"}"#,
    );
    let output = device.run(&["config"]);
    assert_eq!(code(&output), 2);
    let message = text(&output.stderr);
    for expected in ["20-b.json", "timeouts.run", "logs.retention_days"] {
        assert!(message.contains(expected), "{expected} missing: {message}");
    }
}

/// The fragment a package built with `--self-update-team-id ABCDE12345` lays down,
/// byte for byte as tools/package writes it.
const PACKAGE_PIN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>self_update</key>
	<dict>
		<key>team_id</key>
		<string>ABCDE12345</string>
	</dict>
</dict>
</plist>
"#;

/// `self_update.team_id` as `agent config --show-origin --json` shows it: value and origin.
fn pinned_team(device: &Device) -> (String, String) {
    let output = device.run(&["config", "--show-origin", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let key = &shown["self_update.team_id"];
    (key["value"].as_str().unwrap().to_string(), key["origin"].as_str().unwrap().to_string())
}

#[test]
fn the_packages_pin_sets_the_signing_team_below_a_profile() {
    let device = Device::new();
    let pin = device.write_file("Library/Application Support/EndpointAgent/config.d/00-package.plist", PACKAGE_PIN);
    let (value, origin) = pinned_team(&device);
    assert_eq!(value, "ABCDE12345");
    assert!(origin.ends_with("config.d/00-package.plist"), "{origin}");

    device.write_file(
        "Library/Managed Preferences/io.endpointagent.agent.plist",
        r#"<?xml version="1.0"?><plist version="1.0"><dict><key>self_update.team_id</key><string>ZYXWV98765</string></dict></plist>"#,
    );
    let (value, origin) = pinned_team(&device);
    assert_eq!(value, "ZYXWV98765", "a profile wins over the package's pin");
    assert!(origin.contains("Managed Preferences"), "{origin}");

    std::fs::remove_file(device.root().join("Library/Managed Preferences/io.endpointagent.agent.plist")).unwrap();
    std::fs::set_permissions(&pin, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let (value, origin) = pinned_team(&device);
    assert_eq!((value.as_str(), origin.as_str()), ("(none)", "default"), "a pin others can write is skipped");
}

//! The example configuration profile (`pkg/endpoint-agent.mobileconfig`): the
//! preferences an MDM writes from it are read by the agent's own loader, every key
//! known and every value valid.

use std::path::Path;

use plist::{Dictionary, Value};

use crate::support::{Device, code, text};

/// The profile's preference settings for the agent's domain, as macOS writes them to
/// `/Library/Managed Preferences/io.endpointagent.agent.plist`.
fn preference_settings() -> Dictionary {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pkg/endpoint-agent.mobileconfig");
    let profile = Value::from_file(&path).unwrap().into_dictionary().unwrap();
    assert_eq!(profile["PayloadType"].as_string(), Some("Configuration"));
    assert_eq!(profile["PayloadScope"].as_string(), Some("System"), "managed preferences for the whole Mac");
    let payloads = profile["PayloadContent"].as_array().unwrap();
    let mut identifiers: Vec<&str> = vec![profile["PayloadUUID"].as_string().unwrap()];
    identifiers
        .extend(payloads.iter().map(|payload| payload.as_dictionary().unwrap()["PayloadUUID"].as_string().unwrap()));
    let unique: std::collections::BTreeSet<&&str> = identifiers.iter().collect();
    assert_eq!(unique.len(), identifiers.len(), "every PayloadUUID is its own");
    let payload = payloads
        .iter()
        .filter_map(Value::as_dictionary)
        .find(|payload| payload["PayloadType"].as_string() == Some("com.apple.ManagedClient.preferences"))
        .expect("a managed preferences payload");
    let domain = payload["PayloadContent"].as_dictionary().unwrap()["io.endpointagent.agent"].as_dictionary().unwrap();
    let forced = domain["Forced"].as_array().unwrap();
    forced[0].as_dictionary().unwrap()["mcx_preference_settings"].as_dictionary().unwrap().clone()
}

/// The dotted keys a settings dictionary sets (`tenant` → `url` is `tenant.url`).
fn dotted_keys(prefix: &str, settings: &Dictionary) -> Vec<String> {
    settings
        .iter()
        .flat_map(|(name, value)| {
            let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
            match value.as_dictionary() {
                Some(children) => dotted_keys(&key, children),
                None => vec![key],
            }
        })
        .collect()
}

#[test]
fn the_example_profile_sets_known_keys_the_agent_accepts() {
    let settings = preference_settings();
    let device = Device::new();
    let managed = device.root().join("Library/Managed Preferences/io.endpointagent.agent.plist");
    std::fs::create_dir_all(managed.parent().unwrap()).unwrap();
    Value::Dictionary(settings.clone()).to_file_binary(&managed).unwrap();

    let output = device.run(&["config", "--json", "--show-origin"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "", "no warning: every key in the profile is one the agent knows");
    let config: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let keys = dotted_keys("", &settings);
    for key in ["tenant.url", "tenant.token", "schedule.recurring_interval", "otel.endpoint"] {
        assert!(keys.iter().any(|set| set == key), "the profile sets {key}");
    }
    for key in &keys {
        let origin = config[key]["origin"].as_str().unwrap_or_else(|| panic!("{key} is not a key the agent shows"));
        assert!(origin.contains("Managed Preferences"), "{key} comes from {origin}");
    }
    assert_eq!(config["tenant.url"]["value"], "https://tenant.example.com");
    assert_eq!(config["otel.endpoint"]["value"], "https://otel.example.com:4318");
    assert_eq!(config["schedule.recurring_interval"]["value"], "15m");
    assert_eq!(config["tenant.token"]["value"], "********", "the token is never printed");
}

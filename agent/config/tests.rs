//! Whole loads over real files in a temporary root: precedence across every layer,
//! drop-in order, and every problem reported at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use super::*;
use crate::log_level::LogLevel;
use crate::paths::AgentPaths;

/// A fresh root with the agent's layout under it.
fn fresh_root() -> (TempDir, AgentPaths) {
    let folder = tempfile::tempdir().unwrap();
    let paths = AgentPaths::under(folder.path());
    (folder, paths)
}

/// Writes `contents` at `path`, creating its folders.
fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// An XML property list whose top dictionary holds `body`.
fn plist(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n{body}\n</dict>\n</plist>\n"
    )
}

/// `(name, value)` pairs as an environment.
fn environment(variables: &[(&str, &str)]) -> Vec<(String, String)> {
    variables.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
}

/// `--set` values as the command line gives them.
fn flags(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| value.to_string()).collect()
}

/// The effective value and origin of `key`.
fn effective(loaded: &LoadedConfig, key: &str) -> (String, Origin) {
    let value = loaded.effective_values().into_iter().find(|value| value.key == key).unwrap();
    (value.value_text, value.origin)
}

#[test]
fn with_nothing_configured_every_key_is_its_default() {
    let (_folder, paths) = fresh_root();
    let loaded = load(&paths, Vec::new(), &[]).unwrap();
    assert_eq!(loaded.config, AgentConfig::default());
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.origins.len(), loaded.effective_values().len());
    assert!(loaded.origins.values().all(|origin| *origin == Origin::Default));
}

#[test]
fn each_layer_wins_over_the_ones_before_it_key_by_key() {
    let (_folder, paths) = fresh_root();
    let fragment = paths.config_dropin_dir.join("10-base.json");
    write(
        &paths.config_file,
        &plist(
            "<key>timeouts</key><dict>\
               <key>custom_script</key><string>11m</string>\
               <key>custom_printer</key><string>12m</string>\
               <key>auto_app</key><string>13m</string>\
               <key>run</key><string>14m</string>\
               <key>termination_grace</key><string>15s</string>\
             </dict>",
        ),
    );
    write(
        &fragment,
        r#"{"timeouts": {"custom_printer": "22m", "auto_app": "23m", "run": "24m", "termination_grace": "25s"}}"#,
    );
    write(
        &paths.managed_preferences,
        &plist(
            "<key>timeouts.auto_app</key><string>33m</string>\
             <key>timeouts.run</key><string>34m</string>\
             <key>timeouts.termination_grace</key><string>35s</string>",
        ),
    );
    let variables = environment(&[("AGENT_TIMEOUTS_RUN", "44m"), ("AGENT_TIMEOUTS_TERMINATION_GRACE", "45s")]);
    let loaded = load(&paths, variables, &flags(&["timeouts.termination_grace=55s"])).unwrap();

    let config_file = Origin::File(paths.config_file.clone());
    let cases = [
        ("logs.retention_days", "14", Origin::Default),
        ("timeouts.custom_script", "11m", config_file),
        ("timeouts.custom_printer", "22m", Origin::File(fragment)),
        ("timeouts.auto_app", "33m", Origin::File(paths.managed_preferences.clone())),
        ("timeouts.run", "44m", Origin::Environment("AGENT_TIMEOUTS_RUN".to_string())),
        ("timeouts.termination_grace", "55s", Origin::Flag),
    ];
    for (key, value_text, origin) in cases {
        assert_eq!(effective(&loaded, key), (value_text.to_string(), origin.clone()), "{key}");
        assert_eq!(loaded.origins[key], origin, "{key}");
    }
    assert_eq!(loaded.config.timeouts.termination_grace, Duration::from_secs(55));
    assert_eq!(loaded.config.timeouts.run, Duration::from_secs(44 * 60));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn drop_ins_apply_in_byte_order_of_their_names() {
    /// A drop-in's file name and `format:value` for `timeouts.run`.
    type Fragment = (&'static str, &'static str);
    let cases: [(&[Fragment], &str, &str); 3] = [
        (&[("10-a.plist", "plist:1h"), ("20-b.json", "json:2h")], "2h", "20-b.json"),
        (&[("20-b.json", "json:2h"), ("10-a.plist", "plist:1h")], "2h", "20-b.json"),
        (&[("a.json", "json:3h"), ("B.json", "json:4h")], "3h", "a.json"),
    ];
    for (fragments, expected_value, expected_file) in cases {
        let (_folder, paths) = fresh_root();
        for (name, setting) in fragments {
            let contents = match setting.split_once(':') {
                Some(("plist", value)) => plist(&format!("<key>timeouts.run</key><string>{value}</string>")),
                Some((_, value)) => format!(r#"{{"timeouts.run": "{value}"}}"#),
                None => unreachable!("every case names its format"),
            };
            write(&paths.config_dropin_dir.join(name), &contents);
        }
        let loaded = load(&paths, Vec::new(), &[]).unwrap();
        let expected_origin = Origin::File(paths.config_dropin_dir.join(expected_file));
        assert_eq!(effective(&loaded, "timeouts.run"), (expected_value.to_string(), expected_origin));
    }
}

#[test]
fn every_key_type_loads_from_files_environment_and_flags() {
    let (_folder, paths) = fresh_root();
    write(
        &paths.config_file,
        &plist(
            "<key>schedule</key><dict><key>recurring_interval</key><integer>600</integer></dict>\
             <key>blueprint_file</key><string>/etc/blueprint.json</string>\
             <key>logs</key><dict><key>retention_days</key><integer>30</integer></dict>",
        ),
    );
    write(
        &paths.config_dropin_dir.join("20-tenant.json"),
        r#"{"tenant": {"url": "https://tenant.example.com", "token": "tok-file"}, "schedule.daily_interval": 43200}"#,
    );
    let variables = environment(&[
        ("AGENT_OTEL_ENDPOINT", "http://127.0.0.1:4318"),
        ("AGENT_LOGS_LEVEL", "DEBUG"),
        ("AGENT_TENANT_TOKEN", "tok-variable"),
    ]);
    let loaded = load(&paths, variables, &flags(&["logs.retention_days=30"])).unwrap();
    let config = &loaded.config;
    assert_eq!(config.schedule.recurring_interval, Duration::from_secs(600));
    assert_eq!(config.schedule.daily_interval, Duration::from_secs(12 * 3600));
    assert_eq!(config.blueprint_file, Some(PathBuf::from("/etc/blueprint.json")));
    assert_eq!(config.logs.retention_days, 30);
    assert_eq!(config.logs.level, LogLevel::Debug);
    assert_eq!(config.tenant.url.as_deref(), Some("https://tenant.example.com"));
    assert_eq!(config.tenant.token.as_ref().map(Secret::expose), Some("tok-variable"));
    assert_eq!(config.otel.endpoint.as_deref(), Some("http://127.0.0.1:4318"));
}

#[test]
fn a_later_layer_can_clear_an_optional_key() {
    let (_folder, paths) = fresh_root();
    write(&paths.config_file, &plist("<key>tenant.url</key><string>https://tenant.example.com</string>"));
    let loaded = load(&paths, Vec::new(), &flags(&["tenant.url="])).unwrap();
    assert_eq!(loaded.config.tenant.url, None);
    assert_eq!(effective(&loaded, "tenant.url"), ("(none)".to_string(), Origin::Flag));
}

#[test]
fn unknown_keys_and_variables_are_warnings_not_errors() {
    let (_folder, paths) = fresh_root();
    write(&paths.config_file, &plist("<key>timeouts</key><dict><key>custom_scirpt</key><string>2h</string></dict>"));
    write(&paths.config_dropin_dir.join("10-extra.json"), r#"{"colour": "blue", "timeouts.run": "2h"}"#);
    let variables = environment(&[("AGENT_ROOT", "/ignored"), ("AGENT_VERBOSE", "1")]);
    let loaded = load(&paths, variables, &flags(&["nap=1h"])).unwrap();
    assert_eq!(loaded.config.timeouts.run, Duration::from_secs(7200));
    assert_eq!(loaded.config.timeouts.custom_script, Duration::from_secs(3600));
    let warnings: Vec<_> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            format!("{}: key \"timeouts.custom_scirpt\": unknown key, ignored", paths.config_file.display()),
            format!(
                "{}: key \"colour\": unknown key, ignored",
                paths.config_dropin_dir.join("10-extra.json").display()
            ),
            "environment variable AGENT_VERBOSE: unknown variable, ignored".to_string(),
            "flag --set: key \"nap\": unknown key, ignored".to_string(),
        ]
    );
}

#[test]
fn the_sync_interval_is_a_duration_above_zero_named_by_its_key() {
    let (_folder, paths) = fresh_root();
    let loaded = load(&paths, environment(&[]), &flags(&["self_service.sync_interval=90s"])).unwrap();
    assert_eq!(loaded.config.self_service.sync_interval, Duration::from_secs(90));
    for refused in ["0s", "-1s", "soon"] {
        let flag = format!("self_service.sync_interval={refused}");
        let errors = load(&paths, environment(&[]), &flags(&[flag.as_str()])).unwrap_err().to_string();
        assert!(errors.starts_with("flag --set: key \"self_service.sync_interval\": expected a duration"), "{errors}");
    }
}

#[test]
fn every_problem_in_every_layer_is_reported_at_once() {
    let (_folder, paths) = fresh_root();
    let tenant_fragment = paths.config_dropin_dir.join("20-tenant.json");
    let broken_fragment = paths.config_dropin_dir.join("30-broken.plist");
    write(
        &paths.config_file,
        &plist("<key>timeouts.run</key><true/><key>logs</key><dict><key>level</key><string>loud</string></dict>"),
    );
    write(&tenant_fragment, r#"{"tenant": {"url": "ftp://tenant", "token": 12345}, "timeouts.run": true}"#);
    write(&broken_fragment, "<plist><dict><key>timeouts.run</key>");
    write(&paths.managed_preferences, &plist("<key>timeouts.auto_app</key><integer>0</integer>"));
    let variables = environment(&[("AGENT_LOGS_RETENTION_DAYS", "0")]);
    let errors = load(&paths, variables, &flags(&["timeouts.run", "schedule.daily_interval=soon"])).unwrap_err();

    let lines: Vec<_> = errors.to_string().lines().map(str::to_string).collect();
    let config_file = paths.config_file.display();
    let tenant = tenant_fragment.display();
    let managed = paths.managed_preferences.display();
    let expected_starts = [
        format!("{config_file}: key \"timeouts.run\": expected a duration such as \"90s\" or \"12h\", found true"),
        format!("{config_file}: key \"logs.level\": expected one of error, warn, info, debug, trace, found \"loud\""),
        format!("{tenant}: key \"tenant.token\": expected a string, found an integer"),
        format!(
            "{tenant}: key \"tenant.url\": expected an http:// or https:// URL with a host, found \"ftp://tenant\""
        ),
        format!("{tenant}: key \"timeouts.run\": expected a duration such as \"90s\" or \"12h\", found true"),
        format!("{}: could not parse the property list", broken_fragment.display()),
        format!("{managed}: key \"timeouts.auto_app\": expected a duration greater than zero, found 0"),
        "environment variable AGENT_LOGS_RETENTION_DAYS: key \"logs.retention_days\": \
         expected a whole number from 1 to 3650, found \"0\""
            .to_string(),
        "flag --set: expected key=value, found \"timeouts.run\"".to_string(),
        "flag --set: key \"schedule.daily_interval\": expected a duration such as \"90s\" or \"12h\", found \"soon\""
            .to_string(),
    ];
    assert_eq!(lines.len(), expected_starts.len(), "{errors}");
    for (line, expected) in lines.iter().zip(&expected_starts) {
        assert!(line.starts_with(expected.as_str()), "\n got: {line}\nwant: {expected}");
    }
    assert_eq!(errors.errors[2].key.as_deref(), Some("tenant.token"));
    assert_eq!(errors.errors[5].key, None);
    assert!(!errors.to_string().contains("12345"), "a mistyped token is never echoed");
}

#[test]
fn the_token_is_redacted_everywhere_it_could_be_shown() {
    let (_folder, paths) = fresh_root();
    write(
        &paths.managed_preferences,
        &plist("<key>tenant</key><dict><key>token</key><string>tok-secret</string></dict>"),
    );
    let loaded = load(&paths, Vec::new(), &[]).unwrap();
    assert_eq!(loaded.config.tenant.token.as_ref().map(Secret::expose), Some("tok-secret"));
    assert_eq!(
        effective(&loaded, "tenant.token"),
        (REDACTED.to_string(), Origin::File(paths.managed_preferences.clone()))
    );
    let shown = [
        format!("{loaded:?}"),
        format!("{:?}", loaded.effective_values()),
        serde_json::to_string(&loaded.config).unwrap(),
        serde_json::to_string(&loaded.effective_values()).unwrap(),
    ];
    for text in shown {
        assert!(!text.contains("tok-secret"), "{text}");
    }
}

#[test]
fn effective_values_list_every_key_in_key_order() {
    let (_folder, paths) = fresh_root();
    let loaded = load(&paths, Vec::new(), &flags(&["blueprint_file=/tmp/bp.json"])).unwrap();
    let values = loaded.effective_values();
    let keys: Vec<_> = values.iter().map(|value| value.key.as_str()).collect();
    let origin_keys: Vec<_> = loaded.origins.keys().map(String::as_str).collect();
    assert_eq!(keys, origin_keys);
    assert_eq!(values[0].key, "blueprint_file");
    assert_eq!((values[0].value_text.as_str(), &values[0].origin), ("/tmp/bp.json", &Origin::Flag));
    let json = serde_json::to_value(&values[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"key": "blueprint_file", "value_text": "/tmp/bp.json", "origin": "flag --set"})
    );
}

#[test]
fn a_ca_file_is_read_at_load_and_one_others_could_have_written_fails_it_naming_the_key() {
    let (folder, paths) = fresh_root();
    let path = folder.path().join("etc/tenant-ca.pem");
    let flag = format!("tenant.ca_file={}", path.display());
    let errors = load(&paths, environment(&[]), &flags(&[flag.as_str()])).unwrap_err().to_string();
    assert!(errors.starts_with("flag --set: key \"tenant.ca_file\": cannot read the CA file"), "{errors}");
    write(&path, include_str!("../../tests/fixtures/tls/pin-fixture.pem"));
    let loaded = load(&paths, environment(&[]), &flags(&[flag.as_str()])).unwrap();
    assert_eq!(loaded.config.tenant.ca_file.as_deref(), Some(path.as_path()));

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path.parent().unwrap(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let errors = load(&paths, environment(&[]), &flags(&[flag.as_str()])).unwrap_err().to_string();
    assert!(errors.contains("cannot be believed: folder"), "{errors}");
    assert!(errors.contains("etc is writable by group or others (mode 0777)"), "{errors}");
    if !nix::unistd::geteuid().is_root() {
        std::fs::set_permissions(path.parent().unwrap(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        assert!(
            load(&paths, environment(&[]), &flags(&[flag.as_str()])).is_ok(),
            "a person's verbs pass a CA file only root may read"
        );
    }
}

#[test]
fn pins_and_ports_may_be_arrays_in_files_and_an_array_of_arrays_is_refused() {
    let (_folder, paths) = fresh_root();
    let pin = "5R6EUlmy6iVE9Ox5exbqmOJ3D86UGKoo8NFD6gHVUEk=";
    let other = format!("{}=", "A".repeat(43));
    write(
        &paths.config_file,
        &plist(&format!(
            "<key>tenant.pinned_spki_sha256</key><array><string>{pin}</string><string>{other}</string></array>\
             <key>doctor</key><dict><key>push_ports</key><array><integer>443</integer><string>2197</string></array></dict>"
        )),
    );
    let loaded = load(&paths, environment(&[]), &flags(&[])).unwrap();
    assert_eq!(loaded.config.tenant.pinned_spki_sha256.len(), 2);
    assert_eq!(loaded.config.doctor.push_ports, [443, 2197]);
    write(&paths.config_dropin_dir.join("30-ports.json"), r#"{"doctor.push_ports": [[443], 5223]}"#);
    let errors = load(&paths, environment(&[]), &flags(&[])).unwrap_err().to_string();
    assert!(errors.contains("30-ports.json"), "{errors}");
    assert!(errors.contains("an array holding more than strings and numbers"), "{errors}");
}

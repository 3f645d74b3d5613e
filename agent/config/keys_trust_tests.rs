//! `tenant.ca_file` and `tenant.pinned_spki_sha256` as the key table checks them.

use super::*;

const PIN: &str = "5R6EUlmy6iVE9Ox5exbqmOJ3D86UGKoo8NFD6gHVUEk=";

fn applied(name: &str, raw: RawValue) -> Result<AgentConfig, String> {
    let mut config = AgentConfig::default();
    find(name).unwrap().apply(&raw, &mut config).map(|()| config).map_err(|problem| problem.to_string())
}

#[test]
fn pins_are_one_or_a_list_and_a_malformed_one_is_an_error() {
    let text = |text: &str| RawValue::Text(text.to_string());
    let config = applied("tenant.pinned_spki_sha256", text(PIN)).unwrap();
    assert_eq!(find("tenant.pinned_spki_sha256").unwrap().value_text(&config), PIN);
    let two = format!("{PIN}, {}", "A".repeat(43) + "=");
    let config = applied("tenant.pinned_spki_sha256", text(&two)).unwrap();
    assert_eq!(config.tenant.pinned_spki_sha256.len(), 2);
    assert_eq!(find("tenant.pinned_spki_sha256").unwrap().value_text(&config), two);
    assert!(applied("tenant.pinned_spki_sha256", RawValue::Null).unwrap().tenant.pinned_spki_sha256.is_empty());
    assert_eq!(
        applied("tenant.pinned_spki_sha256", text("abc")).unwrap_err(),
        r#"expected the base64 (44 characters) or hex (64 digits) of a SHA-256, found "abc""#
    );
    assert_eq!(
        applied("tenant.pinned_spki_sha256", RawValue::Integer(7)).unwrap_err(),
        "expected one pin or a list of pins separated by commas or spaces, found 7"
    );
    let array = RawValue::List(vec![text(PIN), text(&("A".repeat(43) + "="))]);
    let config = applied("tenant.pinned_spki_sha256", array).unwrap();
    assert_eq!(find("tenant.pinned_spki_sha256").unwrap().value_text(&config), two, "an array of pins");
    assert!(
        applied("tenant.pinned_spki_sha256", RawValue::List(Vec::new())).unwrap().tenant.pinned_spki_sha256.is_empty()
    );
    assert_eq!(
        applied("tenant.pinned_spki_sha256", RawValue::List(vec![text(PIN), RawValue::Integer(7)])).unwrap_err(),
        "expected one pin or a list of pins separated by commas or spaces, found 7"
    );
}

#[test]
fn a_ca_file_key_takes_a_path_and_the_load_reads_the_file() {
    let raw = RawValue::Text("/Library/Application Support/EndpointAgent/tenant-ca.pem".to_string());
    let config = applied("tenant.ca_file", raw).unwrap();
    assert_eq!(
        config.tenant.ca_file.as_deref(),
        Some(Path::new("/Library/Application Support/EndpointAgent/tenant-ca.pem"))
    );
    assert_eq!(applied("tenant.ca_file", RawValue::Null).unwrap().tenant.ca_file, None);
    assert!(applied("tenant.ca_file", RawValue::Integer(3)).is_err(), "not a path");
}

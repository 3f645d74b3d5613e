//! `system_profiler -xml` fixtures: an Apple silicon Mac in English, an Intel Mac
//! in French with a log line before the property list.

use super::*;

const APPLE_SILICON: &str = include_str!("../../tests/fixtures/inventory/system_profiler-apple-silicon.xml");
const INTEL_FRENCH: &str = include_str!("../../tests/fixtures/inventory/system_profiler-intel-french.xml");

fn some(text: &str) -> Option<String> {
    Some(text.to_string())
}

#[test]
fn an_apple_silicon_mac_reads_whole() {
    let facts = parse_system_profiler(APPLE_SILICON).unwrap();
    let expected = ProfilerFacts {
        model: some("MacBook Pro"),
        model_identifier: some("MacBookPro18,3"),
        model_number: some("Z15G000DSLL/A"),
        serial_number: some("C02FK3ZXQ6L4"),
        platform_uuid: some("5E4D3C2B-1A09-5F8E-9D7C-6B5A4F3E2D1C"),
        provisioning_udid: some("00006000-001A2B3C4D5E801E"),
        processor: some("Apple M1 Pro"),
        processor_cores: Some(10),
        memory_bytes: Some(16 << 30),
        activation_lock_enabled: Some(true),
        computer_name: some("Jane’s MacBook Pro"),
        os_description: some("macOS 14.6.1 (23G93)"),
        kernel_version: some("Darwin 23.6.0"),
        system_integrity_protection: Some(true),
        console_user: Some(AssignedUser { short_name: some("jane"), full_name: some("Jane Appleseed") }),
    };
    assert_eq!(facts, expected);
}

#[test]
fn an_intel_mac_in_french_keeps_what_reads_and_leaves_out_localized_amounts() {
    let facts = parse_system_profiler(INTEL_FRENCH).unwrap();
    assert_eq!(facts.processor.as_deref(), Some("8-Core Intel Core i9 2,3 GHz"));
    assert_eq!(facts.processor_cores, Some(8));
    assert_eq!(facts.memory_bytes, None, "`32 Go` is not guessed at");
    assert_eq!(facts.activation_lock_enabled, Some(false));
    assert_eq!(facts.system_integrity_protection, Some(false));
    assert_eq!(facts.computer_name.as_deref(), Some("MacBook Pro de Léa"));
    assert_eq!(facts.console_user.unwrap().full_name.as_deref(), Some("Léa Martin"));
    assert_eq!(facts.provisioning_udid, facts.platform_uuid, "an Intel Mac's UDID is its platform UUID");
}

#[test]
fn one_report_alone_is_enough_and_missing_keys_stay_unknown() {
    let only_software = APPLE_SILICON.replace("SPHardwareDataType", "SPDisplaysDataType");
    let facts = parse_system_profiler(&only_software).unwrap();
    assert_eq!((facts.serial_number, facts.model), (None, None));
    assert_eq!(facts.os_description.as_deref(), Some("macOS 14.6.1 (23G93)"));
    let no_chip = APPLE_SILICON.replace("<key>chip_type</key>", "<key>chip_kind</key>");
    assert_eq!(parse_system_profiler(&no_chip).unwrap().processor, None);
}

#[test]
fn output_that_is_no_report_is_an_error() {
    let cases = [
        ("", "system_profiler -xml printed no property list"),
        ("<plist version=\"1.0\"><dict/></plist>", "system_profiler -xml printed a property list that is not an array"),
        (
            "<plist version=\"1.0\"><array/></plist>",
            "system_profiler -xml printed neither an SPHardwareDataType nor an SPSoftwareDataType report",
        ),
    ];
    for (output, message) in cases {
        assert_eq!(parse_system_profiler(output).unwrap_err().to_string(), message, "{output:?}");
    }
    let broken = parse_system_profiler("<plist version=\"1.0\"><array><dict></array></plist>").unwrap_err();
    assert!(broken.to_string().starts_with("system_profiler -xml printed a property list that cannot be read"));
}

#[test]
fn small_values_read_as_documented() {
    assert_eq!(memory_bytes("8 GB"), Some(8 << 30));
    assert_eq!(memory_bytes("512 MB"), Some(512 << 20));
    assert_eq!(memory_bytes("16Go"), None);
    assert_eq!(core_count(&plist::Value::String("proc 8:4:4".into())), Some(8));
    assert_eq!(core_count(&plist::Value::Integer(2.into())), Some(2));
    assert_eq!(core_count(&plist::Value::String("many".into())), None);
    let bare = console_user("jane");
    assert_eq!((bare.short_name.as_deref(), bare.full_name), (Some("jane"), None));
}

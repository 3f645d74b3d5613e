//! `softwareupdate --list` fixtures in the exact layouts the tool prints.

use super::*;

const SONOMA_UPDATE: &str = include_str!("../../tests/fixtures/softwareupdate/sonoma-update.txt");
const SONOMA_AND_SEQUOIA: &str = include_str!("../../tests/fixtures/softwareupdate/sonoma-and-sequoia.txt");
const NO_UPDATES: &str = include_str!("../../tests/fixtures/softwareupdate/no-updates.txt");
const LEGACY: &str = include_str!("../../tests/fixtures/softwareupdate/legacy-format.txt");
const LOCALIZED_WITH_NOISE: &str = include_str!("../../tests/fixtures/softwareupdate/localized-with-noise.txt");

fn update(label: &str, title: &str, version: Option<&str>, recommended: bool, restart: bool) -> AvailableUpdate {
    AvailableUpdate {
        label: label.into(),
        title: title.into(),
        version: version.map(Into::into),
        recommended,
        restart_required: restart,
        size_bytes: None,
    }
}

/// The same entry with its `Size:` in KiB.
fn sized(update: AvailableUpdate, kibibytes: u64) -> AvailableUpdate {
    AvailableUpdate { size_bytes: Some(kibibytes * 1024), ..update }
}

#[test]
fn every_layout_yields_its_entries_in_order() {
    let cases = [
        (
            SONOMA_UPDATE,
            vec![
                sized(update("macOS Sonoma 14.7.1-23H222", "macOS Sonoma 14.7.1", Some("14.7.1"), true, true), 1676288),
                sized(update("Safari18.1-18.1", "Safari", Some("18.1"), true, false), 191239),
            ],
        ),
        (
            SONOMA_AND_SEQUOIA,
            vec![
                sized(update("macOS Sequoia 15.1-24B83", "macOS Sequoia 15.1", Some("15.1"), true, true), 6537461),
                sized(update("macOS Sonoma 14.7.1-23H222", "macOS Sonoma 14.7.1", Some("14.7.1"), true, true), 1676288),
                sized(update("macOS Sonoma 14.7-23H124", "macOS Sonoma 14.7", Some("14.7"), true, true), 1798812),
            ],
        ),
        (NO_UPDATES, vec![]),
        ("", vec![]),
        (
            LEGACY,
            vec![
                sized(
                    update("macOS Monterey 12.7.1-21G920", "macOS Monterey 12.7.1", Some("12.7.1"), true, true),
                    12345,
                ),
                sized(
                    update("Security Update 2019-001-10.12.6", "Security Update 2019-001", Some("10.12.6"), true, true),
                    1119104,
                ),
                sized(update("Safari12.1.1MojaveAuto-12.1.1", "Safari", Some("12.1.1"), true, false), 67004),
            ],
        ),
        (
            LOCALIZED_WITH_NOISE,
            vec![
                sized(
                    update(
                        "Command Line Tools for Xcode-15.3",
                        "Command Line Tools for Xcode",
                        Some("15.3"),
                        true,
                        false,
                    ),
                    751122,
                ),
                sized(
                    update(
                        "macOS Ventura 13.4.1 (a)-22F770820b",
                        "macOS Ventura 13.4.1 (a)",
                        Some("13.4.1 (a)"),
                        true,
                        true,
                    ),
                    176322,
                ),
                sized(
                    update(
                        "Pro Display XDR Firmware Update-1.2",
                        "Pro Display XDR Firmware Update, Apple Inc.",
                        Some("1.2"),
                        false,
                        true,
                    ),
                    20480,
                ),
            ],
        ),
    ];
    for (output, expected) in cases {
        assert_eq!(parse_software_update_list(output), expected, "{output}");
    }
}

#[test]
fn an_entry_without_details_keeps_its_label_as_title() {
    let output = "* Label: macOS Sonoma 14.7.1-23H222\nsoftwareupdate[1:2] something unrelated\n";
    let updates = parse_software_update_list(output);
    assert_eq!(updates, vec![update("macOS Sonoma 14.7.1-23H222", "macOS Sonoma 14.7.1-23H222", None, false, false)]);
    assert_eq!(updates[0].os_version(), None, "no version, nothing to compare");
}

#[test]
fn only_macos_entries_have_an_os_version() {
    let cases = [
        (SONOMA_UPDATE, vec![Some("14.7.1"), None]),
        (LEGACY, vec![Some("12.7.1"), None, None]),
        (LOCALIZED_WITH_NOISE, vec![None, Some("13.4.1"), None]),
    ];
    for (output, expected) in cases {
        let found: Vec<Option<String>> = parse_software_update_list(output)
            .iter()
            .map(|update| update.os_version().map(|version| version.to_string()))
            .collect();
        let expected: Vec<Option<String>> = expected.into_iter().map(|version| version.map(Into::into)).collect();
        assert_eq!(found, expected, "{output}");
    }
}

#[test]
fn builds_come_from_the_label_and_security_responses_from_the_version() {
    let found: Vec<(Option<String>, Option<String>)> = [SONOMA_UPDATE, LEGACY, LOCALIZED_WITH_NOISE]
        .iter()
        .flat_map(|output| parse_software_update_list(output))
        .map(|update| (update.build(), update.security_response_extra()))
        .collect();
    let some = |text: &str| Some(text.to_string());
    assert_eq!(
        found,
        [
            (some("23H222"), None),
            (None, None),
            (some("21G920"), None),
            (None, None),
            (None, None),
            (None, None),
            (some("22F770820b"), some("(a)")),
            (None, None),
        ]
    );
    let size =
        parse_software_update_list("* Label: X-1\n\tTitle: X, Version: 1, Size: 3029036KiB, Recommended: YES,\n");
    assert_eq!(size[0].size_bytes, Some(3_029_036 * 1024), "newer macOS prints KiB");
    let odd = parse_software_update_list("* Label: X-1\n\tTitle: X, Version: 1, Size: a lot, Recommended: YES,\n");
    assert_eq!(odd[0].size_bytes, None);
}

//! Reading `blocking_applications` and `force_install_after`, case by case.

use std::path::Path;

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::blueprint::document::parse_time_or_date;

fn check(item: Value) -> Result<Blocking, Vec<String>> {
    let mut problems = Problems::new(Path::new("/bp.json"));
    let resolved = resolve(item.as_object().unwrap(), "library_items[3]", &mut problems);
    match problems.finish(resolved) {
        Ok((resolved, _)) => Ok(resolved.expect("no error means resolved")),
        Err(errors) => Err(errors.0.iter().map(|error| format!("{}: {}", error.key, error.message)).collect()),
    }
}

#[test]
fn each_entry_is_read_by_its_shape() {
    let blocking = check(json!({ "blocking_applications": [
        "/Applications/Foo Helper.app", "//Applications/./Utilities//Bar.app/", "Foo.app", "foo-daemon", "Foo.App", ".app", "Zoom 5"
    ]}))
    .unwrap();
    let expected = vec![
        BlockingApplication::BundlePath(PathBuf::from("/Applications/Foo Helper.app")),
        BlockingApplication::BundlePath(PathBuf::from("/Applications/Utilities/Bar.app")),
        BlockingApplication::BundleName("Foo.app".into()),
        BlockingApplication::ProcessName("foo-daemon".into()),
        BlockingApplication::ProcessName("Foo.App".into()),
        BlockingApplication::ProcessName(".app".into()),
        BlockingApplication::ProcessName("Zoom 5".into()),
    ];
    assert_eq!(blocking.applications, Some(expected));
    assert_eq!(blocking.force_install_after, None);
    assert_eq!(check(json!({})).unwrap(), Blocking::default(), "absent: the app being installed");
    assert_eq!(check(json!({ "blocking_applications": null })).unwrap(), Blocking::default());
    assert_eq!(check(json!({ "blocking_applications": [] })).unwrap().applications, Some(Vec::new()), "nothing blocks");
}

#[test]
fn every_wrong_entry_is_named_by_its_index() {
    let long = "a".repeat(1025);
    let errors = check(json!({ "blocking_applications": [
        "Foo.app", "", "/Applications/../Foo.app", "Applications/Foo.app", "/Applications/Foo", 7, "Foo\nBar", long, "   "
    ]}))
    .unwrap_err();
    let expected = [
        "library_items[3].blocking_applications[1]: must not be empty",
        "library_items[3].blocking_applications[2]: \"/Applications/../Foo.app\" must be a path without \"..\"",
        "library_items[3].blocking_applications[3]: \"Applications/Foo.app\" must be an absolute path to an app",
        "library_items[3].blocking_applications[4]: \"/Applications/Foo\" is a path, so it must name an app bundle",
        "library_items[3].blocking_applications[5]: expected a string, found the number 7",
        "library_items[3].blocking_applications[6]: must not contain control characters",
        "library_items[3].blocking_applications[7]: is longer than 1024 characters",
        "library_items[3].blocking_applications[8]: must not be empty",
    ];
    for (error, fragment) in errors.iter().zip(expected) {
        assert!(error.starts_with(fragment), "{error} does not start with {fragment}");
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    assert!(check(json!({ "blocking_applications": ["a".repeat(1024)] })).is_ok(), "1024 characters are allowed");
}

#[test]
fn the_list_is_an_array_of_at_most_64_entries() {
    assert_eq!(
        check(json!({ "blocking_applications": "Foo.app" })).unwrap_err(),
        vec!["library_items[3].blocking_applications: expected an array of strings, found the string \"Foo.app\""]
    );
    let names: Vec<String> = (0..65).map(|index| format!("app-{index}")).collect();
    assert_eq!(
        check(json!({ "blocking_applications": names })).unwrap_err(),
        vec!["library_items[3].blocking_applications: has 65 entries; at most 64 are allowed"]
    );
    assert_eq!(check(json!({ "blocking_applications": names[..64] })).unwrap().applications.unwrap().len(), 64);
}

#[test]
fn force_install_after_is_a_time_or_the_end_of_a_day_in_utc() {
    let cases = [
        ("2026-12-31T17:00:00Z", Utc.with_ymd_and_hms(2026, 12, 31, 17, 0, 0).unwrap()),
        ("2026-11-30T17:00:00-08:00", Utc.with_ymd_and_hms(2026, 12, 1, 1, 0, 0).unwrap()),
        (" 2026-11-30 ", Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()),
        ("2026-12-31", Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()),
    ];
    for (text, expected) in cases {
        let blocking = check(json!({ "force_install_after": text })).unwrap();
        assert_eq!(blocking.force_install_after, Some(expected), "{text}");
        assert_eq!(parse_time_or_date(text), Some(expected), "{text}");
    }
    let errors = check(json!({ "force_install_after": "next week", "blocking_applications": [1] })).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].starts_with("library_items[3].blocking_applications[0]: expected a string"), "{errors:#?}");
    assert!(errors[1].starts_with("library_items[3].force_install_after: \"next week\" is not a date"), "{errors:#?}");
    for wrong in ["2026-02-30", "2026-12-31T25:00:00Z", "31/12/2026", ""] {
        assert_eq!(parse_time_or_date(wrong), None, "{wrong}");
    }
    assert_eq!(
        check(json!({ "force_install_after": 20261231 })).unwrap_err(),
        vec!["library_items[3].force_install_after: expected a string, found the number 20261231"]
    );
}

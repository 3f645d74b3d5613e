//! Reading one plist or JSON settings file into dotted keys.
//!
//! Admins write settings both ways: nested, as a configuration profile's payload
//! naturally is (`{"timeouts": {"run": "12h"}}`), and flat, as a one-line drop-in
//! often is (`{"timeouts.run": "12h"}`). Both become the same dotted key here, so
//! the rest of loading sees one shape.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use super::keys;
use super::layers::{FileFormat, Layer, RawSetting};
use super::origin::Origin;
use super::problems::Problems;
use super::trust::{ClosedToThisUser, Opened, TrustedWriters};
use super::values::{MOST_LIST_VALUES, RawValue};
use crate::structured_input::{self, InputKind, InputProblem};

/// Why a settings file as a whole could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileProblem {
    /// It exists but could not be read (permissions, a folder in its place).
    #[error("could not read the file: {error}")]
    Unreadable { error: io::Error },
    /// It is not a property list.
    #[error("could not parse the property list: {error}")]
    BadPropertyList { error: String },
    /// It is not JSON.
    #[error("could not parse the JSON: {error}")]
    BadJson { error: String },
    /// It is over a size, depth or value-count limit (see `structured_input`).
    #[error("{problem}")]
    OverLimit { problem: InputProblem },
    /// One dictionary names the same key twice, so which one wins would be a guess.
    #[error("set more than once in the same dictionary")]
    RepeatedKey,
    /// It parsed, but its top level is not a dictionary of settings.
    #[error("expected a dictionary of settings at the top level, found {found}")]
    NotADictionary { found: RawValue },
    /// The same key appears twice (nested and dotted), so which one wins would be a
    /// guess.
    #[error("set more than once in this file (nested and dotted forms name the same key)")]
    SetTwice,
}

/// The settings in the file at `path`, or `None` when it does not exist or cannot
/// be used (the reason is recorded in `problems`, naming the file).
/// A file that only root could have written is read; any other is skipped with a
/// warning (see [`trust`](super::trust)).
pub(crate) fn read_settings_file(
    path: &Path,
    format: FileFormat,
    writers: &TrustedWriters,
    problems: &mut Problems,
) -> Option<Layer> {
    let origin = Origin::File(path.to_path_buf());
    let opened = match writers.open(path) {
        Opened::Trusted(file) => {
            structured_input::read_opened(file, &path.display().to_string(), InputKind::Configuration)
        }
        Opened::Missing => return None,
        Opened::Skipped(skipped) => {
            problems.warning(&origin, None, skipped);
            return None;
        }
        Opened::Unreadable(error) => {
            match ClosedToThisUser::from_error(error) {
                Ok(closed) => problems.warning(&origin, None, closed),
                Err(error) => problems.error(&origin, None, FileProblem::Unreadable { error }),
            }
            return None;
        }
    };
    let bytes = match opened {
        Ok(bytes) => bytes,
        Err(error) => {
            problems.error(&origin, None, file_problem(error.problem));
            return None;
        }
    };
    let input = path.display().to_string();
    let parsed = match format {
        FileFormat::PropertyList => {
            structured_input::parse_plist(&bytes, &input, InputKind::Configuration).map(from_property_list)
        }
        FileFormat::Json => structured_input::parse_json(&bytes, &input, InputKind::Configuration).map(from_json),
    };
    let entries = match parsed {
        Ok(RawValue::Dictionary(entries)) => entries,
        Ok(found) => {
            problems.error(&origin, None, FileProblem::NotADictionary { found });
            return None;
        }
        Err(error) => {
            match error.problem {
                InputProblem::RepeatedKey { key } => problems.error(&origin, Some(&key.0), FileProblem::RepeatedKey),
                problem => problems.error(&origin, None, file_problem(problem)),
            }
            return None;
        }
    };
    let settings = flatten(entries);
    report_keys_set_twice(&origin, &settings, problems);
    Some(Layer { origin, settings })
}

/// The problem with a whole file, in this module's words.
fn file_problem(problem: InputProblem) -> FileProblem {
    match problem {
        InputProblem::Unreadable(error) => FileProblem::Unreadable { error },
        InputProblem::NotAFile => FileProblem::Unreadable { error: io::Error::other("not a regular file") },
        InputProblem::PropertyList(error) => FileProblem::BadPropertyList { error },
        InputProblem::Json(error) => FileProblem::BadJson { error },
        problem => FileProblem::OverLimit { problem },
    }
}

/// Nested dictionaries become dotted keys. A dictionary under a known key stays a
/// value, so it is reported as the wrong type rather than as unknown keys.
fn flatten(entries: Vec<(String, RawValue)>) -> Vec<RawSetting> {
    let mut settings = Vec::new();
    flatten_into(None, entries, &mut settings);
    settings
}

/// [`flatten`] below `prefix`, appending to `settings` in file order.
fn flatten_into(prefix: Option<&str>, entries: Vec<(String, RawValue)>, settings: &mut Vec<RawSetting>) {
    for (name, value) in entries {
        let key = match prefix {
            Some(prefix) => format!("{prefix}.{name}"),
            None => name,
        };
        match value {
            RawValue::Dictionary(children) if keys::find(&key).is_none() => {
                flatten_into(Some(&key), children, settings);
            }
            value => settings.push(RawSetting { key, value }),
        }
    }
}

/// Records an error for every key that appears more than once.
fn report_keys_set_twice(origin: &Origin, settings: &[RawSetting], problems: &mut Problems) {
    let mut seen = BTreeSet::new();
    let mut reported = BTreeSet::new();
    for setting in settings {
        if !seen.insert(setting.key.as_str()) && reported.insert(setting.key.as_str()) {
            problems.error(origin, Some(&setting.key), FileProblem::SetTwice);
        }
    }
}

/// A property list value as a [`RawValue`], dictionaries kept in file order.
fn from_property_list(value: plist::Value) -> RawValue {
    match value {
        plist::Value::String(text) => RawValue::Text(text),
        plist::Value::Integer(integer) => integer
            .as_signed()
            .map(i128::from)
            .or_else(|| integer.as_unsigned().map(i128::from))
            .map_or(RawValue::Other("an integer"), RawValue::Integer),
        plist::Value::Real(number) => RawValue::Real(number),
        plist::Value::Boolean(value) => RawValue::Boolean(value),
        plist::Value::Dictionary(dictionary) => RawValue::Dictionary(
            dictionary.into_iter().map(|(name, value)| (name, from_property_list(value))).collect(),
        ),
        plist::Value::Array(values) => list(values.into_iter().map(from_property_list).collect()),
        plist::Value::Data(_) => RawValue::Other("data"),
        plist::Value::Date(_) => RawValue::Other("a date"),
        _ => RawValue::Other("an unsupported property list value"),
    }
}

/// A JSON value as a [`RawValue`].
fn from_json(value: serde_json::Value) -> RawValue {
    match value {
        serde_json::Value::String(text) => RawValue::Text(text),
        serde_json::Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(signed), _) => RawValue::Integer(i128::from(signed)),
            (None, Some(unsigned)) => RawValue::Integer(i128::from(unsigned)),
            (None, None) => number.as_f64().map_or(RawValue::Other("a number"), RawValue::Real),
        },
        serde_json::Value::Bool(value) => RawValue::Boolean(value),
        serde_json::Value::Null => RawValue::Null,
        serde_json::Value::Object(object) => {
            RawValue::Dictionary(object.into_iter().map(|(name, value)| (name, from_json(value))).collect())
        }
        serde_json::Value::Array(values) => list(values.into_iter().map(from_json).collect()),
    }
}

/// An array as a [`RawValue::List`] when it holds only strings and numbers, at
/// most [`MOST_LIST_VALUES`] of them; anything else no key accepts.
fn list(values: Vec<RawValue>) -> RawValue {
    if values.len() > MOST_LIST_VALUES {
        return RawValue::Other("an array of more than 64 values");
    }
    let scalar = |value: &RawValue| matches!(value, RawValue::Text(_) | RawValue::Integer(_) | RawValue::Real(_));
    if values.iter().all(scalar) {
        RawValue::List(values)
    } else {
        RawValue::Other("an array holding more than strings and numbers")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, contents: &[u8]) -> (Option<Layer>, Problems) {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join(name);
        std::fs::write(&path, contents).unwrap();
        let format = FileFormat::from_extension(&path).unwrap();
        let mut problems = Problems::default();
        let layer = read_settings_file(&path, format, &writers(folder.path()), &mut problems);
        (layer, problems)
    }

    fn writers(root: &Path) -> TrustedWriters {
        TrustedWriters::for_paths(&crate::paths::AgentPaths::under(root))
    }

    fn settings_of(layer: Option<Layer>) -> Vec<(String, RawValue)> {
        layer.unwrap().settings.into_iter().map(|setting| (setting.key, setting.value)).collect()
    }

    fn text(value: &str) -> RawValue {
        RawValue::Text(value.to_string())
    }

    const NESTED_PLIST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>timeouts</key>
    <dict>
        <key>custom_script</key>
        <string>90s</string>
        <key>run</key>
        <integer>3600</integer>
    </dict>
    <key>tenant.url</key>
    <string>https://tenant.example.com</string>
</dict>
</plist>
"#;

    #[test]
    fn nested_and_dotted_forms_give_the_same_keys() {
        let nested_json = br#"{"timeouts": {"custom_script": "90s", "run": 3600}, "tenant": {"url": "https://t"}}"#;
        let dotted_json = br#"{"timeouts.custom_script": "90s", "timeouts.run": 3600, "tenant.url": "https://t"}"#;
        let expected = vec![
            ("tenant.url".to_string(), text("https://t")),
            ("timeouts.custom_script".to_string(), text("90s")),
            ("timeouts.run".to_string(), RawValue::Integer(3600)),
        ];
        for contents in [&nested_json[..], &dotted_json[..]] {
            let (layer, problems) = read("fragment.json", contents);
            assert!(problems.errors.is_empty(), "{:?}", problems.errors);
            let mut settings = settings_of(layer);
            settings.sort_by(|left, right| left.0.cmp(&right.0));
            assert_eq!(settings, expected);
        }
    }

    #[test]
    fn property_lists_keep_file_order_and_integer_seconds() {
        let (layer, problems) = read("config.plist", NESTED_PLIST.as_bytes());
        assert!(problems.errors.is_empty(), "{:?}", problems.errors);
        assert_eq!(
            settings_of(layer),
            vec![
                ("timeouts.custom_script".to_string(), text("90s")),
                ("timeouts.run".to_string(), RawValue::Integer(3600)),
                ("tenant.url".to_string(), text("https://tenant.example.com")),
            ]
        );
    }

    #[test]
    fn binary_property_lists_are_read_too() {
        let mut dictionary = plist::Dictionary::new();
        dictionary.insert("logs.retention_days".to_string(), plist::Value::Integer(30.into()));
        let mut bytes = Vec::new();
        plist::Value::Dictionary(dictionary).to_writer_binary(&mut bytes).unwrap();
        let (layer, problems) = read("managed.plist", &bytes);
        assert!(problems.errors.is_empty());
        assert_eq!(settings_of(layer), vec![("logs.retention_days".to_string(), RawValue::Integer(30))]);
    }

    #[test]
    fn a_dictionary_under_a_known_key_stays_a_value() {
        let (layer, _) = read("fragment.json", br#"{"timeouts": {"run": {"hours": 2}}}"#);
        assert_eq!(
            settings_of(layer),
            vec![("timeouts.run".to_string(), RawValue::Dictionary(vec![("hours".to_string(), RawValue::Integer(2))]))]
        );
    }

    #[test]
    fn unusable_files_are_errors_naming_the_file() {
        let cases: [(&str, &[u8], &str); 5] = [
            ("config.plist", b"<plist><dict><key>timeouts", "could not parse the property list"),
            ("fragment.json", b"{\"timeouts.run\": \"1h\",}", "could not parse the JSON"),
            ("fragment.json", b"[1, 2]", "expected a dictionary of settings at the top level, found an array"),
            ("fragment.json", b"\"12h\"", "expected a dictionary of settings at the top level, found \"12h\""),
            (
                "fragment.json",
                br#"{"timeouts": {"run": "1h"}, "timeouts.run": "2h"}"#,
                "key \"timeouts.run\": set more than once in this file",
            ),
        ];
        for (name, contents, expected) in cases {
            let (_, problems) = read(name, contents);
            assert_eq!(problems.errors.len(), 1, "{name}: {:?}", problems.errors);
            let line = problems.errors[0].to_string();
            assert!(line.contains(name), "{line}");
            assert!(line.contains(expected), "{line}");
        }
    }

    #[test]
    fn deep_or_repeated_settings_are_errors_naming_the_file_and_key() {
        let deep_json = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let deep_plist = format!(
            "<plist><dict><key>a</key>{}{}</dict></plist>",
            "<array>".repeat(100_000),
            "</array>".repeat(100_000)
        );
        for (name, contents) in [("fragment.json", deep_json), ("config.plist", deep_plist)] {
            let (layer, problems) = read(name, contents.as_bytes());
            assert_eq!(layer, None);
            let line = problems.errors[0].to_string();
            assert!(line.contains(name) && line.contains("deeper than 64 levels"), "{line}");
        }
        let (_, problems) = read("fragment.json", br#"{"timeouts": {"run": "1h", "run": "2h"}}"#);
        let line = problems.errors[0].to_string();
        assert!(line.contains("key \"timeouts.run\": set more than once in the same dictionary"), "{line}");
    }

    #[test]
    fn a_missing_file_is_no_layer_and_no_problem() {
        let folder = tempfile::tempdir().unwrap();
        let mut problems = Problems::default();
        let layer = read_settings_file(
            &folder.path().join("absent.plist"),
            FileFormat::PropertyList,
            &writers(folder.path()),
            &mut problems,
        );
        assert_eq!(layer, None);
        assert!(problems.errors.is_empty() && problems.warnings.is_empty());
    }

    #[test]
    fn a_folder_in_place_of_the_file_is_an_error() {
        let folder = tempfile::tempdir().unwrap();
        let in_place = folder.path().join("config.plist");
        std::fs::create_dir(&in_place).unwrap();
        let mut problems = Problems::default();
        let layer = read_settings_file(&in_place, FileFormat::PropertyList, &writers(folder.path()), &mut problems);
        assert_eq!(layer, None);
        assert!(problems.errors[0].message.starts_with("could not read the file"), "{:?}", problems.errors);
    }
}

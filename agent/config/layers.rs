//! The sources of settings, each read into dotted keys with raw values and the
//! origin that set them.
//!
//! Sources are handed out one at a time, in merge order, so the caller can merge
//! each before reading the next and every problem is reported in the order an admin
//! would look for it: config file, drop-in fragments by name, managed preferences,
//! environment variables, flags. A file or folder that does not exist is simply no
//! layer.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};

use super::keys::{self, ENVIRONMENT_PREFIX};
use super::origin::Origin;
use super::problems::Problems;
use super::trust::ClosedToThisUser;
use super::values::RawValue;
use crate::paths::ROOT_VARIABLE;

/// The two formats a settings file can be in, told apart by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFormat {
    /// An XML, binary or ASCII property list (`.plist`).
    PropertyList,
    /// A JSON object (`.json`).
    Json,
}

impl FileFormat {
    /// The format a drop-in fragment's extension names, in any letter case.
    pub(crate) fn from_extension(path: &Path) -> Option<FileFormat> {
        let extension = path.extension().and_then(OsStr::to_str)?;
        if extension.eq_ignore_ascii_case("plist") {
            Some(FileFormat::PropertyList)
        } else if extension.eq_ignore_ascii_case("json") {
            Some(FileFormat::Json)
        } else {
            None
        }
    }
}

/// One setting as a source wrote it: a dotted key (maybe unknown) and its value,
/// not yet checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawSetting {
    /// The dotted key.
    pub(crate) key: String,
    /// The value as read.
    pub(crate) value: RawValue,
}

/// The settings one source gave, in the order it wrote them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layer {
    /// Who set these values.
    pub(crate) origin: Origin,
    /// The settings; a later one for the same key wins.
    pub(crate) settings: Vec<RawSetting>,
}

/// A settings file to read and the format its name promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SettingsFile {
    /// Where it is.
    pub(crate) path: PathBuf,
    /// How to parse it.
    pub(crate) format: FileFormat,
}

/// Why a `--set` flag or the drop-in folder could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceProblem {
    /// A `--set` flag with no `=`.
    #[error("expected key=value, found {found:?}")]
    FlagWithoutEquals { found: String },
    /// A `--set` flag with nothing before its `=`.
    #[error("expected key=value, found no key before \"=\"")]
    FlagWithoutKey,
    /// The drop-in folder exists but cannot be listed.
    #[error("could not list the drop-in folder: {error}")]
    UnlistableFolder { error: io::Error },
    /// `--set` for a secret key: the command line is readable by every process
    /// on the Mac (`ps`), so a secret never travels there.
    #[error(
        "a secret is never taken from the command line, where every process on the Mac can read it; put it in a file and run `agent enroll --url URL --token-file PATH` (or `--token-file -` to read standard input), or deliver it in managed preferences"
    )]
    SecretOnCommandLine,
    /// An `AGENT_*` variable that names no key; probably a typo.
    #[error("unknown variable, ignored")]
    UnknownVariable,
}

/// The drop-in fragments in `folder`: `*.plist` and `*.json` files in byte order of
/// their names, so `10-base.plist` comes before `20-tenant.json` and `B.json` before
/// `a.json`. Hidden files (such as the `._name` files macOS leaves on non-Apple
/// volumes) and anything else are skipped.
pub(crate) fn dropin_fragments(folder: &Path, problems: &mut Problems) -> Vec<SettingsFile> {
    let origin = Origin::File(folder.to_path_buf());
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(error) => {
            match ClosedToThisUser::from_error(error) {
                Ok(closed) => problems.warning(&origin, None, closed),
                Err(error) => problems.error(&origin, None, SourceProblem::UnlistableFolder { error }),
            }
            return Vec::new();
        }
    };
    let mut fragments: Vec<(OsString, SettingsFile)> = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                problems.error(&origin, None, SourceProblem::UnlistableFolder { error });
                continue;
            }
        };
        let name = entry.file_name();
        let path = entry.path();
        let Some(format) = FileFormat::from_extension(&path) else {
            continue;
        };
        if name.as_encoded_bytes().starts_with(b".") || !path.is_file() {
            continue;
        }
        fragments.push((name, SettingsFile { path, format }));
    }
    fragments.sort_by(|(left, _), (right, _)| left.as_encoded_bytes().cmp(right.as_encoded_bytes()));
    fragments.into_iter().map(|(_, fragment)| fragment).collect()
}

/// One layer per `AGENT_*` variable that names a key, in order of variable name.
/// `AGENT_ROOT` is where everything lives, not a setting, so it is skipped without
/// a word; any other unknown `AGENT_*` variable is a warning. A variable set to the
/// empty string counts as not set, as it does for `AGENT_ROOT` (launchd plists and
/// wrapper scripts often pass `VAR=` for "nothing"); `--set key=` clears a key.
pub(crate) fn environment_layers(
    environment: impl IntoIterator<Item = (String, String)>,
    problems: &mut Problems,
) -> Vec<Layer> {
    let mut variables: Vec<(String, String)> = environment
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENVIRONMENT_PREFIX) && name != ROOT_VARIABLE)
        .collect();
    variables.sort_by(|(left, _), (right, _)| left.cmp(right));
    let mut layers = Vec::new();
    for (name, value) in variables {
        let key = keys::find_by_environment_variable(&name);
        let origin = Origin::Environment(name);
        match key {
            Some(_) if value.is_empty() => {}
            Some(key) => layers.push(Layer {
                settings: vec![RawSetting { key: key.name.to_string(), value: RawValue::Text(value) }],
                origin,
            }),
            None => problems.warning(&origin, None, SourceProblem::UnknownVariable),
        }
    }
    layers
}

/// The layer one `--set key=value` flag gives (`flag` is the text after `--set`),
/// or `None` when it is malformed (recorded in `problems`). Only the first `=`
/// splits, so values may contain `=`.
pub(crate) fn flag_layer(flag: &str, problems: &mut Problems) -> Option<Layer> {
    let Some((key, value)) = flag.split_once('=') else {
        problems.error(&Origin::Flag, None, SourceProblem::FlagWithoutEquals { found: flag.to_string() });
        return None;
    };
    let key = key.trim();
    if key.is_empty() {
        problems.error(&Origin::Flag, None, SourceProblem::FlagWithoutKey);
        return None;
    }
    if keys::find(key).is_some_and(keys::KnownKey::is_secret) {
        problems.error(&Origin::Flag, Some(key), SourceProblem::SecretOnCommandLine);
        return None;
    }
    Some(Layer {
        origin: Origin::Flag,
        settings: vec![RawSetting { key: key.to_string(), value: RawValue::Text(value.to_string()) }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_come_in_byte_order_of_name_and_other_files_are_skipped() {
        let folder = tempfile::tempdir().unwrap();
        for name in ["20-b.json", "10-a.plist", "a.json", "B.json", "30-c.txt", ".hidden.json", "40-D.PLIST"] {
            std::fs::write(folder.path().join(name), "{}").unwrap();
        }
        std::fs::create_dir(folder.path().join("50-folder.json")).unwrap();
        let mut problems = Problems::default();
        let names: Vec<_> = dropin_fragments(folder.path(), &mut problems)
            .into_iter()
            .map(|fragment| fragment.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["10-a.plist", "20-b.json", "40-D.PLIST", "B.json", "a.json"]);
        assert!(problems.errors.is_empty());
    }

    #[test]
    fn a_missing_dropin_folder_has_no_fragments() {
        let folder = tempfile::tempdir().unwrap();
        let mut problems = Problems::default();
        assert_eq!(dropin_fragments(&folder.path().join("config.d"), &mut problems), Vec::new());
        assert!(problems.errors.is_empty());
    }

    #[test]
    fn environment_variables_map_to_keys_and_unknown_ones_warn() {
        let environment = [
            ("AGENT_TIMEOUTS_RUN", "90m"),
            ("AGENT_ROOT", "/tmp/root"),
            ("AGENT_TENANT_URL", "https://tenant.example.com"),
            ("AGENT_TIMEOUTS_NAP", "1h"),
            ("AGENT_BLUEPRINT_FILE", ""),
            ("HOME", "/Users/admin"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ];
        let environment = environment.map(|(name, value)| (name.to_string(), value.to_string()));
        let mut problems = Problems::default();
        let layers = environment_layers(environment, &mut problems);
        let seen: Vec<_> = layers
            .iter()
            .map(|layer| (layer.origin.to_string(), layer.settings[0].key.as_str(), layer.settings[0].value.clone()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "environment variable AGENT_TENANT_URL".to_string(),
                    "tenant.url",
                    RawValue::Text("https://tenant.example.com".to_string()),
                ),
                (
                    "environment variable AGENT_TIMEOUTS_RUN".to_string(),
                    "timeouts.run",
                    RawValue::Text("90m".to_string())
                ),
            ]
        );
        let warnings: Vec<_> = problems.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warnings, ["environment variable AGENT_TIMEOUTS_NAP: unknown variable, ignored"]);
        assert!(problems.errors.is_empty());
    }

    #[test]
    fn set_flags_split_at_the_first_equals_sign() {
        let cases = [
            ("timeouts.run=2h", Ok(("timeouts.run", "2h"))),
            ("tenant.url=https://t.example.com/?a=b", Ok(("tenant.url", "https://t.example.com/?a=b"))),
            (" logs.level = debug", Ok(("logs.level", " debug"))),
            ("tenant.url=", Ok(("tenant.url", ""))),
            ("timeouts.run", Err("flag --set: expected key=value, found \"timeouts.run\"")),
            ("=2h", Err("flag --set: expected key=value, found no key before \"=\"")),
            (
                "tenant.token=tok-1",
                Err(
                    "flag --set: key \"tenant.token\": a secret is never taken from the command line, where every process on the Mac can read it; put it in a file and run `agent enroll --url URL --token-file PATH` (or `--token-file -` to read standard input), or deliver it in managed preferences",
                ),
            ),
        ];
        for (flag, expected) in cases {
            let mut problems = Problems::default();
            let layer = flag_layer(flag, &mut problems);
            let outcome = match &layer {
                Some(layer) => match &layer.settings[0].value {
                    RawValue::Text(value) => Ok((layer.settings[0].key.as_str(), value.as_str())),
                    other => panic!("flags give text, got {other:?}"),
                },
                None => Err(problems.errors[0].to_string()),
            };
            assert_eq!(outcome, expected.map_err(str::to_string), "{flag}");
            if let Some(layer) = layer {
                assert_eq!(layer.origin, Origin::Flag);
            }
        }
    }
}

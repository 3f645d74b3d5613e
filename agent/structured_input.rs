//! Depth and size limits on every JSON and property list the agent parses.
//!
//! Every structured input is hostile until proven otherwise: a blueprint from the
//! tenant or a file, configuration files and fragments, managed preferences, every
//! app's `Info.plist` (any local user can write `~/Applications`), the plist a
//! managed-plist parameter rewrites, the agent's own state files and the XML that
//! macOS tools print. Each is read here, with three limits a real Mac never
//! reaches:
//!
//! - a **size** per kind of input ([`InputKind::max_bytes`]), checked on the
//!   file's metadata before anything is read and again while reading, so a file
//!   that grows (or `/dev/zero` behind a link) never fills memory;
//! - a **depth** of [`MAX_DEPTH`] nested arrays and dictionaries, counted while a
//!   first pass walks the document, before any value tree is built, so a document
//!   nested 100,000 deep is an error, never a stack overflow;
//! - **no more values than bytes**: a binary plist can point many times at one
//!   shared array, so a few kilobytes could otherwise expand into billions of values.
//!
//! Blueprints and configuration also refuse a key that appears twice in one
//! dictionary (JSON or plist): otherwise the last one silently wins, and a reviewer
//! reads one script while another runs. Every error names the input (the file, or
//! "the tenant's blueprint") and, where it helps, the key path
//! (`library_items[0].audit`).

mod shape;

use std::fmt;
use std::io::{self, Cursor, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::de::DeserializeOwned;

/// How many arrays and dictionaries may nest inside one another. Real
/// configuration profiles, blueprints and `Info.plist` files stay below 20.
pub const MAX_DEPTH: usize = 64;

const MEBIBYTE: u64 = 1024 * 1024;

/// What is being read, which sets its size limit and how strict it is about keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A blueprint: from the tenant, `--blueprint`, `blueprint_file` or the saved one.
    Blueprint,
    /// A configuration file, drop-in fragment or the managed preferences.
    Configuration,
    /// An app bundle's `Contents/Info.plist`.
    InfoPlist,
    /// The preference file a managed-plist parameter rewrites.
    PreferenceFile,
    /// A file the agent wrote itself (the saved inventory, markers).
    AgentState,
    /// The XML a macOS tool printed (`profiles -o stdout-xml`, `system_profiler -xml`).
    ToolOutput,
    /// Any tenant reply other than the blueprint (check-in reply, commands).
    TenantReply,
}

impl InputKind {
    /// The largest input of this kind that is read at all.
    pub const fn max_bytes(self) -> u64 {
        match self {
            // Scripts are inline, so a large fleet's blueprint reaches a few MiB.
            InputKind::Blueprint => 32 * MEBIBYTE,
            // Settings files hold a few dozen keys: kilobytes.
            InputKind::Configuration => 4 * MEBIBYTE,
            // The largest real ones (long document type lists) are a few hundred KiB.
            InputKind::InfoPlist => 4 * MEBIBYTE,
            // Some apps keep caches in their preferences; a larger one is not what an
            // admin meant to manage.
            InputKind::PreferenceFile => 64 * MEBIBYTE,
            // The saved inventory of a Mac with thousands of apps is a few MiB.
            InputKind::AgentState => 64 * MEBIBYTE,
            // The tool runner already caps what it keeps of a tool's output.
            InputKind::ToolOutput => 64 * MEBIBYTE,
            // Command lists and check-in replies are a few hundred bytes.
            InputKind::TenantReply => 4 * MEBIBYTE,
        }
    }

    /// Whether a key set twice in one dictionary is an error rather than "last wins".
    /// Only for what an admin writes and a reviewer reads; `Info.plist` files with a
    /// repeated key exist in the wild and are read as macOS reads them.
    const fn refuses_repeated_keys(self) -> bool {
        matches!(self, InputKind::Blueprint | InputKind::Configuration)
    }

    fn describe(self) -> &'static str {
        match self {
            InputKind::Blueprint => "a blueprint",
            InputKind::Configuration => "a configuration file",
            InputKind::InfoPlist => "an Info.plist",
            InputKind::PreferenceFile => "a managed preference file",
            InputKind::AgentState => "an agent state file",
            InputKind::ToolOutput => "a tool's output",
            InputKind::TenantReply => "a tenant reply",
        }
    }
}

/// A structured input that was not read, naming the input.
#[derive(Debug, thiserror::Error)]
#[error("{input}: {problem}")]
pub struct StructuredInputError {
    /// The input: a file's path, or a phrase such as "the tenant's blueprint".
    pub input: String,
    /// What is wrong with it; part of the message, so not a source (a chain
    /// printed with `{:#}` says it once).
    pub problem: InputProblem,
}

/// What is wrong with a structured input, as a lowercase fragment.
#[derive(Debug, thiserror::Error)]
pub enum InputProblem {
    /// The file could not be opened or read.
    #[error("cannot read the file: {0}")]
    Unreadable(io::Error),
    /// A folder, device or pipe where a file belongs.
    #[error("is not a regular file")]
    NotAFile,
    /// Larger than [`InputKind::max_bytes`].
    #[error("is larger than the {limit_mib} MiB limit for {what}")]
    TooLarge {
        /// The limit, in MiB.
        limit_mib: u64,
        /// The kind of input, in words.
        what: &'static str,
    },
    /// Arrays and dictionaries nest deeper than [`MAX_DEPTH`].
    #[error("nests arrays and dictionaries deeper than {MAX_DEPTH} levels (at {key})")]
    TooDeep {
        /// The key path where the limit was crossed.
        key: KeyPath,
    },
    /// More values than the input has bytes (shared binary plist objects).
    #[error("holds more values than its {bytes} bytes can (a binary plist repeating shared objects)")]
    TooManyValues {
        /// The input's size.
        bytes: usize,
    },
    /// A dictionary names the same key twice.
    #[error("key {key} is set more than once in the same dictionary")]
    RepeatedKey {
        /// The repeated key's path.
        key: KeyPath,
    },
    /// Not JSON.
    #[error("is not valid JSON: {0}")]
    Json(String),
    /// Not a property list.
    #[error("is not a valid plist: {0}")]
    PropertyList(String),
}

/// A key path such as `library_items[0].audit`; the top level when empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath(pub String);

impl fmt::Display for KeyPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { write!(formatter, "the top level") } else { write!(formatter, "{:?}", self.0) }
    }
}

/// Reads the file at `path`, refusing one larger than `kind` allows or that is not a
/// regular file (a pipe would block, a device would never end).
pub fn read_file(path: &Path, kind: InputKind) -> Result<Vec<u8>, StructuredInputError> {
    let file =
        std::fs::OpenOptions::new().read(true).custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits()).open(path).map_err(
            |error| StructuredInputError {
                input: path.display().to_string(),
                problem: InputProblem::Unreadable(error),
            },
        )?;
    read_opened(file, &path.display().to_string(), kind)
}

/// The bytes of `file`, already opened (by a caller that checked who may write
/// it), named `input` in errors: refused unless a regular file within `kind`'s size.
pub fn read_opened(file: std::fs::File, input: &str, kind: InputKind) -> Result<Vec<u8>, StructuredInputError> {
    let failed = |problem| StructuredInputError { input: input.to_string(), problem };
    let metadata = file.metadata().map_err(|error| failed(InputProblem::Unreadable(error)))?;
    if !metadata.is_file() {
        return Err(failed(InputProblem::NotAFile));
    }
    if metadata.len() > kind.max_bytes() {
        return Err(failed(too_large(kind)));
    }
    let mut bytes = Vec::new();
    file.take(kind.max_bytes() + 1).read_to_end(&mut bytes).map_err(|error| failed(InputProblem::Unreadable(error)))?;
    check_size(&bytes, input, kind)?;
    Ok(bytes)
}

/// Refuses `bytes` (a body already read, such as a tenant reply) when larger than
/// `kind` allows.
pub fn check_size(bytes: &[u8], input: &str, kind: InputKind) -> Result<(), StructuredInputError> {
    if bytes.len() as u64 > kind.max_bytes() {
        return Err(StructuredInputError { input: input.to_string(), problem: too_large(kind) });
    }
    Ok(())
}

fn too_large(kind: InputKind) -> InputProblem {
    InputProblem::TooLarge { limit_mib: kind.max_bytes() / MEBIBYTE, what: kind.describe() }
}

/// Parses `bytes` as JSON of type `T`, within the limits of `kind`; `input` names
/// it in errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], input: &str, kind: InputKind) -> Result<T, StructuredInputError> {
    let failed = |problem| StructuredInputError { input: input.to_string(), problem };
    check_size(bytes, input, kind)?;
    shape::check(bytes.len(), kind.refuses_repeated_keys(), || serde_json::from_slice(bytes))
        .map_err(|refused| failed(refused.into_problem(|error| InputProblem::Json(error.to_string()))))?;
    serde_json::from_slice(bytes).map_err(|error| failed(InputProblem::Json(error.to_string())))
}

/// Parses `bytes` as a property list (XML, binary or ASCII), within the limits of
/// `kind`; `input` names it in errors.
pub fn parse_plist(bytes: &[u8], input: &str, kind: InputKind) -> Result<plist::Value, StructuredInputError> {
    let failed = |problem| StructuredInputError { input: input.to_string(), problem };
    check_size(bytes, input, kind)?;
    shape::check(bytes.len(), kind.refuses_repeated_keys(), || plist::from_reader(Cursor::new(bytes)))
        .map_err(|refused| failed(refused.into_problem(|error| InputProblem::PropertyList(error.to_string()))))?;
    plist::Value::from_reader(Cursor::new(bytes)).map_err(|error| failed(InputProblem::PropertyList(error.to_string())))
}

/// Reads the JSON file at `path` into `T`, within the limits of `kind`.
pub fn read_json_file<T: DeserializeOwned>(path: &Path, kind: InputKind) -> Result<T, StructuredInputError> {
    parse_json(&read_file(path, kind)?, &path.display().to_string(), kind)
}

/// Reads the property list at `path`, within the limits of `kind`.
pub fn read_plist_file(path: &Path, kind: InputKind) -> Result<plist::Value, StructuredInputError> {
    parse_plist(&read_file(path, kind)?, &path.display().to_string(), kind)
}

#[cfg(test)]
mod tests;

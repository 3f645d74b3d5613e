//! `agent enroll`: stores the tenant's URL and token in a drop-in fragment.
//!
//! The token comes from a file or standard input (`--token-file PATH|-`), never
//! from the command line, where every process on the Mac could read it (`ps`).
//! With `--enrollment-secret-file` the fragment holds `tenant.enrollment_secret`
//! instead, exchanged for a device token at the next check-in. Either way a device
//! token stored by an earlier enrollment or rotation is removed, so the next
//! request carries what the admin just gave.
//! The URL follows the agent's network rule (https, or http to loopback only; no
//! user-info, query or fragment: [`network_rules::check_tenant_url`]).
//!
//! The fragment is `config.d/50-enrollment.plist`, readable by its owner only
//! (root on a Mac), written to a temporary file and renamed, so a crash never leaves
//! half a token. Managed preferences still win over it, which is how an MDM
//! profile rotates the token later. The token is never printed or logged.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::EnrollArgs;
use crate::config;
use crate::exit_code;
use crate::network_rules;
use crate::paths::AgentPaths;
use crate::terminal;

/// The fragment's file name: after admins' own early fragments, before late ones.
pub const ENROLLMENT_FRAGMENT: &str = "50-enrollment.plist";

/// The largest token file read: far more than any bearer token, and a wrong path
/// (a disk image, `/dev/zero`) is refused instead of read whole.
const MAX_TOKEN_BYTES: u64 = 16 * 1024;

/// The key a device token set directly is stored under.
const TOKEN_KEY: &str = "tenant.token";

/// The key an enrollment secret is stored under.
const SECRET_KEY: &str = "tenant.enrollment_secret";

/// What `--token-file` names standard input with.
const STANDARD_INPUT: &str = "-";

/// Why `--token` is refused.
const TOKEN_IN_ARGV: &str = "--token is refused: a token on the command line is readable by every process on the Mac (ps); put it in a file and pass --token-file PATH, or pipe it in with --token-file -";

/// Writes the enrollment fragment and checks the configuration still loads.
pub fn enroll(paths: &AgentPaths, arguments: &EnrollArgs) -> anyhow::Result<u8> {
    if arguments.token.is_some() {
        terminal::print_error(&format!("error: {TOKEN_IN_ARGV}"));
        return Ok(exit_code::BAD_INPUT);
    }
    let url = arguments.url.trim();
    if let Err(problem) = network_rules::check_tenant_url(url) {
        terminal::print_error(&format!("error: --url: {problem}"));
        return Ok(exit_code::BAD_INPUT);
    }
    let (flag, key, source) = match (&arguments.token_file, &arguments.enrollment_secret_file) {
        (Some(source), _) => ("--token-file", TOKEN_KEY, source),
        (None, Some(source)) => ("--enrollment-secret-file", SECRET_KEY, source),
        (None, None) => {
            terminal::print_error("error: --token-file PATH (or - for standard input) is required");
            return Ok(exit_code::BAD_INPUT);
        }
    };
    let token = match read_token(source) {
        Ok(token) => token,
        Err(problem) => {
            terminal::print_error(&format!("error: {flag} {}: {problem}", source.display()));
            return Ok(exit_code::BAD_INPUT);
        }
    };
    let fragment = write_fragment(&paths.root, &paths.config_dropin_dir, url, (key, &token))?;
    crate::tenant::credential::remove(paths).context("cannot remove the device token stored before")?;
    let environment =
        std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)));
    let loaded = config::load(paths, environment, &[])?;
    terminal::print_line(&format!(
        "Enrolled with {}; the {} is stored in {} (owner-only).",
        terminal::printable(url),
        if key == SECRET_KEY { "enrollment secret" } else { "token" },
        fragment.display()
    ))?;
    if loaded.config.tenant.url.as_deref() != Some(url) {
        terminal::print_line(
            "note: another layer (managed preferences, AGENT_TENANT_URL) overrides tenant.url; check `agent config --show-origin`.",
        )?;
    }
    Ok(exit_code::SUCCESS)
}

/// The token in the file at `source` (`-`: standard input), without one trailing
/// newline. Refused when empty, larger than [`MAX_TOKEN_BYTES`], not UTF-8, or
/// holding a line break or another control character (the file must hold the
/// token alone).
fn read_token(source: &Path) -> Result<String, String> {
    let mut bytes = Vec::new();
    let read = if source == Path::new(STANDARD_INPUT) {
        std::io::stdin().lock().take(MAX_TOKEN_BYTES + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(source).and_then(|file| file.take(MAX_TOKEN_BYTES + 1).read_to_end(&mut bytes))
    };
    read.map_err(|error| format!("cannot read the token: {error}"))?;
    token_from_bytes(bytes)
}

/// The token in `bytes`, checked as [`read_token`] says.
fn token_from_bytes(bytes: Vec<u8>) -> Result<String, String> {
    if bytes.len() as u64 > MAX_TOKEN_BYTES {
        return Err(format!("holds more than {} KiB, more than any token", MAX_TOKEN_BYTES / 1024));
    }
    let text = String::from_utf8(bytes).map_err(|_| "the token is not UTF-8 text".to_string())?;
    let token = text.strip_suffix('\n').map_or(text.as_str(), |line| line.strip_suffix('\r').unwrap_or(line));
    if token.trim().is_empty() {
        return Err("the token is empty".to_string());
    }
    if token.chars().any(char::is_control) {
        return Err(
            "the token holds a line break or another control character; the file must hold the token alone".to_string()
        );
    }
    Ok(token.trim().to_string())
}

/// Writes the fragment atomically, 0600, its folders reached from `root` without
/// following a link (missing ones made root-only); returns its path. `secret` is
/// the key (`tenant.token` or `tenant.enrollment_secret`) and its value.
fn write_fragment(root: &Path, folder: &Path, url: &str, secret: (&str, &str)) -> anyhow::Result<PathBuf> {
    let (key, value) = secret;
    let mut dictionary = plist::Dictionary::new();
    dictionary.insert("tenant.url".to_string(), plist::Value::String(url.to_string()));
    dictionary.insert(key.to_string(), plist::Value::String(value.to_string()));
    let mut bytes = Vec::new();
    plist::Value::Dictionary(dictionary).to_writer_xml(&mut bytes).context("cannot encode the fragment")?;
    let path = folder.join(ENROLLMENT_FRAGMENT);
    crate::atomic_file::replace_private(root, &path, &bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_token_file_holds_the_token_alone() {
        let cases: [(&[u8], Result<&str, &str>); 8] = [
            (b"tok-1\n", Ok("tok-1")),
            (b"tok-1\r\n", Ok("tok-1")),
            (b"tok-1", Ok("tok-1")),
            (b"", Err("the token is empty")),
            (b"\n", Err("the token is empty")),
            (
                b"tok-1\n\n",
                Err("the token holds a line break or another control character; the file must hold the token alone"),
            ),
            (
                b"tok\n2\n",
                Err("the token holds a line break or another control character; the file must hold the token alone"),
            ),
            (b"\xff\n", Err("the token is not UTF-8 text")),
        ];
        for (bytes, expected) in cases {
            let token = token_from_bytes(bytes.to_vec());
            assert_eq!(token.as_deref().map_err(String::as_str), expected, "{bytes:?}");
        }
        let large = vec![b'a'; usize::try_from(MAX_TOKEN_BYTES).unwrap() + 1];
        assert_eq!(token_from_bytes(large), Err("holds more than 16 KiB, more than any token".to_string()));
    }

    #[test]
    fn the_fragment_is_owner_only_and_replaced_whole() {
        let folder = tempfile::tempdir().unwrap();
        let path = write_fragment(folder.path(), folder.path(), "https://a.example", (TOKEN_KEY, "tok-1")).unwrap();
        write_fragment(folder.path(), folder.path(), "https://b.example", (TOKEN_KEY, "tok-2")).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let value = plist::Value::from_file(&path).unwrap();
        let dictionary = value.as_dictionary().unwrap();
        assert_eq!(dictionary.get("tenant.url").and_then(plist::Value::as_string), Some("https://b.example"));
        assert_eq!(dictionary.get("tenant.token").and_then(plist::Value::as_string), Some("tok-2"));
        assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 1, "no temporary file is left");
    }
}

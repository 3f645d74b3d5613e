//! `agent enroll`: stores the tenant's URL and token in a drop-in fragment.
//!
//! The fragment is `config.d/50-enrollment.plist`, readable by its owner only
//! (root on a Mac), written to a temporary file and renamed, so a crash never leaves
//! half a token. Managed preferences still win over it, which is how an MDM
//! profile rotates the token later. The token is never printed or logged.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config;
use crate::exit_code;
use crate::paths::AgentPaths;

/// The fragment's file name: after admins' own early fragments, before late ones.
pub const ENROLLMENT_FRAGMENT: &str = "50-enrollment.plist";

/// Writes the enrollment fragment and checks the configuration still loads.
pub fn enroll(paths: &AgentPaths, url: &str, token: &str) -> anyhow::Result<u8> {
    if let Err(problem) = check_url(url) {
        eprintln!("error: --url {url:?}: {problem}");
        return Ok(exit_code::BAD_INPUT);
    }
    if token.trim().is_empty() {
        eprintln!("error: --token is empty");
        return Ok(exit_code::BAD_INPUT);
    }
    let fragment = write_fragment(&paths.root, &paths.config_dropin_dir, url.trim(), token.trim())?;
    let environment =
        std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)));
    let loaded = config::load(paths, environment, &[])?;
    println!("Enrolled with {}; the token is stored in {} (owner-only).", url.trim(), fragment.display());
    if loaded.config.tenant.url.as_deref() != Some(url.trim()) {
        println!(
            "note: another layer (managed preferences, AGENT_TENANT_URL) overrides tenant.url; check `agent config --show-origin`."
        );
    }
    Ok(exit_code::SUCCESS)
}

/// An `http(s)://` URL with a host, by the same rule the configuration checks
/// `tenant.url` with when it reads the fragment back.
fn check_url(url: &str) -> Result<(), String> {
    if config::is_web_url(url.trim()) {
        Ok(())
    } else {
        Err("expected an http:// or https:// URL with a host".to_string())
    }
}

/// Writes the fragment atomically, 0600, its folders reached from `root` without
/// following a link (missing ones made root-only); returns its path.
fn write_fragment(root: &Path, folder: &Path, url: &str, token: &str) -> anyhow::Result<PathBuf> {
    let mut dictionary = plist::Dictionary::new();
    dictionary.insert("tenant.url".to_string(), plist::Value::String(url.to_string()));
    dictionary.insert("tenant.token".to_string(), plist::Value::String(token.to_string()));
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
    fn urls_need_a_web_scheme_and_a_host() {
        assert!(check_url("https://tenant.example.com").is_ok());
        assert!(check_url(" http://127.0.0.1:8080/ ").is_ok());
        assert!(check_url("ftp://tenant.example.com").is_err());
        assert!(check_url("tenant.example.com").is_err());
    }

    #[test]
    fn the_fragment_is_owner_only_and_replaced_whole() {
        let folder = tempfile::tempdir().unwrap();
        let path = write_fragment(folder.path(), folder.path(), "https://a.example", "tok-1").unwrap();
        write_fragment(folder.path(), folder.path(), "https://b.example", "tok-2").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let value = plist::Value::from_file(&path).unwrap();
        let dictionary = value.as_dictionary().unwrap();
        assert_eq!(dictionary.get("tenant.url").and_then(plist::Value::as_string), Some("https://b.example"));
        assert_eq!(dictionary.get("tenant.token").and_then(plist::Value::as_string), Some("tok-2"));
        assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 1, "no temporary file is left");
    }
}

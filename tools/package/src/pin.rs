//! The self-update pin a package may carry: a drop-in configuration fragment that
//! sets `self_update.team_id`, so every Mac installing the package updates the agent
//! only to a package signed by that Apple Developer team.
//!
//! ```text
//! --self-update-team-id ABCDE12345
//!   ./Library/Application Support/EndpointAgent/config.d/                 0755 root:wheel
//!   ./Library/Application Support/EndpointAgent/config.d/00-package.plist 0644 root:wheel
//!     <dict><key>self_update</key><dict><key>team_id</key><string>ABCDE12345</string></dict></dict>
//! ```
//!
//! The agent reads drop-in fragments only when root owns them and nobody else can
//! write them (nor the folders above), and ranks them below managed preferences, so
//! a configuration profile still wins over the package's pin. The fragment is a
//! payload file: every install or upgrade of a pinned package lays it down again, and
//! the uninstaller removes it. The checks here serve both the build and `verify`.

use plist::{Dictionary, Value};

use crate::tree::{FileTree, TreeError};

/// The agent's drop-in configuration folder, as the payload holds it.
pub const CONFIG_DROPIN_PATH: &str = "./Library/Application Support/EndpointAgent/config.d";
/// The package's fragment: `00-` so it comes first and any fragment an admin adds
/// wins over it, as managed preferences do.
pub const FRAGMENT_PATH: &str = "./Library/Application Support/EndpointAgent/config.d/00-package.plist";
/// The only key the fragment sets (nested as `self_update` → `team_id`).
pub const PINNED_KEY: &str = "self_update.team_id";

/// Why a team could not be pinned.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// Not ten uppercase letters or digits.
    #[error(
        "--self-update-team-id {given:?} is not an Apple Developer Team ID (10 uppercase letters or digits, such as ABCDE12345)"
    )]
    TeamId { given: String },
    /// The plist writer failed (it writes into memory, so it should not).
    #[error("could not write the self-update fragment: {0}")]
    Write(#[source] plist::Error),
    /// The fragment could not be placed in the payload.
    #[error(transparent)]
    Tree(#[from] TreeError),
}

/// An Apple Developer Team ID: exactly 10 uppercase ASCII letters or digits, as
/// `pkgutil --check-signature` prints it in parentheses after the certificate name.
pub fn is_team_id(text: &str) -> bool {
    text.len() == 10 && text.bytes().all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit())
}

/// The fragment's bytes: an XML plist setting `self_update.team_id` to `team_id`,
/// which must be a Team ID.
pub fn fragment(team_id: &str) -> Result<Vec<u8>, PinError> {
    if !is_team_id(team_id) {
        return Err(PinError::TeamId { given: team_id.to_string() });
    }
    let mut self_update = Dictionary::new();
    self_update.insert("team_id".to_string(), Value::String(team_id.to_string()));
    let mut top = Dictionary::new();
    top.insert("self_update".to_string(), Value::Dictionary(self_update));
    let mut bytes = Vec::new();
    Value::Dictionary(top).to_writer_xml(&mut bytes).map_err(PinError::Write)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Adds the drop-in folder and the fragment pinning `team_id` to the payload `tree`,
/// whose `EndpointAgent` folder must already be there.
pub fn add_to(tree: &mut FileTree, team_id: &str) -> Result<(), PinError> {
    let contents = fragment(team_id)?;
    tree.add_directory(CONFIG_DROPIN_PATH, 0o755, 0, 0)?;
    tree.add_file(FRAGMENT_PATH, contents, 0o644)?;
    Ok(())
}

/// The team the fragment in `bytes` pins, or what is wrong with it, one sentence
/// each: it must be a plist whose only key is `self_update`, a dictionary whose only
/// key is `team_id`, a string that is a Team ID.
pub fn check_fragment(bytes: &[u8]) -> Result<String, Vec<String>> {
    let top = match Value::from_reader(std::io::Cursor::new(bytes)) {
        Ok(Value::Dictionary(top)) => top,
        Ok(_) => return Err(vec!["the top level is not a dictionary".to_string()]),
        Err(error) => return Err(vec![format!("does not parse: {error}")]),
    };
    let mut problems = Vec::new();
    let others = |dictionary: &Dictionary, allowed: &str| -> Vec<String> {
        dictionary.keys().filter(|key| key.as_str() != allowed).map(|key| format!("{key:?}")).collect()
    };
    let unexpected = others(&top, "self_update");
    if !unexpected.is_empty() {
        problems.push(format!("sets {} besides self_update", unexpected.join(", ")));
    }
    let Some(self_update) = top.get("self_update").and_then(Value::as_dictionary) else {
        problems.push("has no self_update dictionary".to_string());
        return Err(problems);
    };
    let unexpected = others(self_update, "team_id");
    if !unexpected.is_empty() {
        problems.push(format!("sets self_update.{} besides team_id", unexpected.join(", self_update.")));
    }
    match self_update.get("team_id").and_then(Value::as_string) {
        Some(team_id) if is_team_id(team_id) && problems.is_empty() => Ok(team_id.to_string()),
        Some(team_id) if is_team_id(team_id) => Err(problems),
        Some(team_id) => {
            let shown: String = team_id.chars().take(40).collect();
            problems.push(format!("{PINNED_KEY} {shown:?} is not a Team ID (10 uppercase letters or digits)"));
            Err(problems)
        }
        None => {
            problems.push(format!("{PINNED_KEY} is missing or not a string"));
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_ids_are_ten_uppercase_letters_or_digits() {
        for good in ["ABCDE12345", "0123456789", "ZZZZZZZZZZ"] {
            assert!(is_team_id(good), "{good}");
        }
        for bad in ["", "abcde12345", "ABCDE1234", "ABCDE123456", "ABCDE-1234", "ABCDE 1234", "ÄBCDE12345"] {
            assert!(!is_team_id(bad), "{bad}");
        }
        let error = fragment("abcde12345").unwrap_err().to_string();
        assert!(error.contains("\"abcde12345\" is not an Apple Developer Team ID"), "{error}");
    }

    #[test]
    fn the_fragment_holds_only_the_pinned_team_and_reads_back() {
        let bytes = fragment("ABCDE12345").unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("<?xml"), "{text}");
        assert!(
            text.split_whitespace().collect::<String>().contains(
                "<dict><key>self_update</key><dict><key>team_id</key><string>ABCDE12345</string></dict></dict>"
            ),
            "{text}"
        );
        assert_eq!(check_fragment(&bytes), Ok("ABCDE12345".to_string()));
    }

    #[test]
    fn a_fragment_setting_anything_else_is_refused() {
        let plist = |body: &str| format!("<?xml version=\"1.0\"?><plist version=\"1.0\">{body}</plist>");
        let cases = [
            (plist("<array/>"), "the top level is not a dictionary"),
            ("<plist><dict>".to_string(), "does not parse"),
            (plist("<dict><key>tenant.url</key><string>https://x</string></dict>"), "has no self_update dictionary"),
            (
                plist(
                    "<dict><key>self_update</key><dict><key>team_id</key><string>ABCDE12345</string></dict><key>tenant</key><dict/></dict>",
                ),
                "sets \"tenant\" besides self_update",
            ),
            (
                plist(
                    "<dict><key>self_update</key><dict><key>team_id</key><string>ABCDE12345</string><key>x</key><true/></dict></dict>",
                ),
                "sets self_update.\"x\" besides team_id",
            ),
            (
                plist("<dict><key>self_update</key><dict><key>team_id</key><string>abc</string></dict></dict>"),
                "self_update.team_id \"abc\" is not a Team ID",
            ),
            (
                plist("<dict><key>self_update</key><dict><key>team_id</key><integer>1</integer></dict></dict>"),
                "self_update.team_id is missing or not a string",
            ),
        ];
        for (bytes, expected) in cases {
            let problems = check_fragment(bytes.as_bytes()).unwrap_err();
            assert!(problems.iter().any(|problem| problem.contains(expected)), "{expected}: {problems:?}");
        }
    }
}

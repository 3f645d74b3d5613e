//! Whether an install took: the installed agent's own word.
//!
//! The installer exiting 0 says only that it ran. The binary launchd starts
//! (`/usr/local/bin/agent` on the target volume) says what was installed: it is
//! run once with `--version`, through the tool runner the doctor's `agent_binary`
//! check uses (its own process group, a bounded time, after the installer's own
//! `timeouts.agent_update`), and the update counts as installed only when it
//! prints `agent <offered>`.

use std::time::Duration;

use semver::Version;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::decision::is_offered;
use crate::inventory::ToolRunner;
use crate::paths::AgentPaths;

/// How long the installed agent may take to print its version. It reads no file
/// and no network for it; a first launch may still wait on the system checking a
/// new binary.
const VERSION_CHECK_TIME: Duration = Duration::from_secs(30);

/// At most this many characters of what the binary printed go in a message.
const MAX_SHOWN_CHARS: usize = 200;

/// Runs the installed agent with `--version`; `Ok` when it reports `offered`, else
/// what was found ("the installed agent reports 0.1.0, not 9.9.9", or why it could
/// not say).
pub(super) async fn check_installed(paths: &AgentPaths, offered: &Version, grace: Duration) -> Result<(), String> {
    let found = installed_version(paths, grace).await?;
    if is_offered(&found, offered) {
        Ok(())
    } else {
        Err(format!("the installed agent reports {found}, not {offered}"))
    }
}

/// The version the installed agent prints, or why there is none.
async fn installed_version(paths: &AgentPaths, grace: Duration) -> Result<Version, String> {
    let runner = ToolRunner {
        deadline: crate::process::deadline_after(Instant::now(), VERSION_CHECK_TIME),
        grace,
        cancel: CancellationToken::new(),
        current_dir: paths.root.clone(),
    };
    let printed = runner
        .output(&paths.agent_binary, &["--version"])
        .await
        .map_err(|error| format!("the installed agent could not run: {error}"))?;
    read_version_line(&printed).ok_or_else(|| {
        let start: String = printed.trim().chars().filter(|c| !c.is_control()).take(MAX_SHOWN_CHARS).collect();
        format!("the installed agent {} printed {start:?}, not `agent <version>`", paths.agent_binary.display())
    })
}

/// The version in `agent 1.2.3`, the first line `--version` prints.
fn read_version_line(printed: &str) -> Option<Version> {
    let line = printed.lines().map(str::trim).find(|line| !line.is_empty())?;
    Version::parse(line.strip_prefix("agent ")?.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_line_is_agent_and_a_semver() {
        assert_eq!(read_version_line("agent 1.2.3\n"), Some(Version::new(1, 2, 3)));
        assert_eq!(read_version_line("\n  agent 9.9.9-rc.1 \n"), Version::parse("9.9.9-rc.1").ok());
        assert_eq!(read_version_line("agent\n"), None);
        assert_eq!(read_version_line("other 1.2.3\n"), None);
        assert_eq!(read_version_line("agent one\n"), None);
        assert_eq!(read_version_line(""), None);
    }

    #[test]
    fn build_metadata_does_not_count_but_any_other_difference_does() {
        let offered = Version::parse("1.2.0").unwrap();
        assert!(is_offered(&Version::parse("1.2.0+build.5").unwrap(), &offered));
        assert!(!is_offered(&Version::parse("1.2.1").unwrap(), &offered));
        assert!(!is_offered(&Version::parse("1.2.0-rc.1").unwrap(), &offered));
    }
}

//! Whether an install took: the installed agent's own word.
//!
//! The installer exiting 0 says only that it ran. The binary launchd starts
//! (`/usr/local/bin/agent` on the target volume) says what was installed: it is
//! run once with `--version`, through the one tool runner and in a bounded time,
//! and the update counts as installed only when it prints `agent <offered>`.

use std::path::Path;
use std::time::Duration;

use semver::Version;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::decision::is_offered;
use crate::process::{ChildEnd, ChildSpec, Limits, run_child};

/// How long the installed agent may take to print its version. It reads no file
/// and no network for it; a first launch may still wait on the system checking a
/// new binary.
const VERSION_CHECK_TIME: Duration = Duration::from_secs(30);

/// At most this many characters of what the binary printed go in a message.
const MAX_SHOWN_CHARS: usize = 200;

/// Runs `binary --version`; `Ok` when it reports `offered`, else what was found
/// ("the installed agent reports 0.1.0, not 9.9.9", or why it could not say).
pub(super) async fn check_installed(binary: &Path, offered: &Version, grace: Duration) -> Result<(), String> {
    let found = installed_version(binary, grace).await?;
    if is_offered(&found, offered) {
        Ok(())
    } else {
        Err(format!("the installed agent reports {found}, not {offered}"))
    }
}

/// The version `binary --version` prints, or why there is none.
async fn installed_version(binary: &Path, grace: Duration) -> Result<Version, String> {
    let shown = binary.display();
    let spec = ChildSpec { args: vec!["--version".into()], ..ChildSpec::new(binary) };
    let limits = Limits::new(crate::process::deadline_after(Instant::now(), VERSION_CHECK_TIME), grace);
    let outcome = run_child(&spec, &limits, &CancellationToken::new())
        .await
        .map_err(|error| format!("the installed agent {shown} could not run: {error}"))?;
    let printed = outcome.output.to_text();
    let ending = match outcome.end {
        ChildEnd::Exited { code: 0 } => None,
        ChildEnd::Exited { code } => Some(format!("exited {code}")),
        ChildEnd::Signalled { signal } => Some(format!("was stopped by signal {signal}")),
        ChildEnd::TimedOut => Some(format!("did not answer within {}s", VERSION_CHECK_TIME.as_secs())),
        ChildEnd::Cancelled => Some("was stopped".to_string()),
    };
    if let Some(ending) = ending {
        return Err(format!("the installed agent {shown} could not say its version: `--version` {ending}"));
    }
    read_version_line(&printed).ok_or_else(|| {
        let start: String = printed.trim().chars().filter(|c| !c.is_control()).take(MAX_SHOWN_CHARS).collect();
        format!("the installed agent {shown} printed {start:?}, not `agent <version>`")
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

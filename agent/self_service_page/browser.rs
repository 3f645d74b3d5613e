//! Opening the page in the person's default browser: `commands.open_url`
//! (`open` on macOS, `xdg-open` elsewhere) with the one-time URL.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// How long the opener may take: `open` and `xdg-open` hand the URL to the
/// browser and return.
const OPENER_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the browser could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// The opener did not start.
    #[error("cannot run {program}")]
    Start {
        /// The opener.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The opener ended with a failure.
    #[error("{program} exited with {status}")]
    Failed {
        /// The opener.
        program: String,
        /// How it ended.
        status: std::process::ExitStatus,
    },
    /// The opener did not return in time.
    #[error("{program} did not return within {seconds} s")]
    TimedOut {
        /// The opener.
        program: String,
        /// The time allowed.
        seconds: u64,
    },
}

/// Runs `opener URL` and waits for it to hand the URL on.
pub(crate) async fn open(opener: &Path, url: &str) -> Result<(), OpenError> {
    let program = opener.display().to_string();
    let mut child = tokio::process::Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| OpenError::Start { program: program.clone(), source })?;
    match tokio::time::timeout(OPENER_TIMEOUT, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(OpenError::Failed { program, status }),
        Ok(Err(source)) => Err(OpenError::Start { program, source }),
        Err(_) => Err(OpenError::TimedOut { program, seconds: OPENER_TIMEOUT.as_secs() }),
    }
}

//! Opening the page in the person's default browser: `commands.open_url`
//! (`open` on macOS, `xdg-open` elsewhere) with a private file that forwards to
//! the one-time URL.
//!
//! A process's arguments are visible to every local user (`ps`), and a browser
//! started with a URL keeps it in its own arguments; so the secret is never an
//! argument. It is written in a file only this user can read (`0600`, in a fresh
//! `0700` folder of their temporary folder), the browser is given the file's
//! path, and the file forwards to the URL. The folder is removed when the
//! server stops.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// How long the opener may take: `open` and `xdg-open` hand the URL to the
/// browser and return.
const OPENER_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the browser could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// The forwarding file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file or its folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
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

/// The private folder holding the file that forwards to the page; removed when
/// dropped.
#[derive(Debug)]
pub(crate) struct ForwardingFile {
    folder: PathBuf,
    file: PathBuf,
}

impl ForwardingFile {
    /// Writes a page that forwards to `url` into a fresh private folder under
    /// `temporary` (named `endpoint-self-service-` and `unique`).
    pub(crate) fn write(temporary: &Path, unique: &str, url: &str) -> Result<Self, OpenError> {
        let folder = temporary.join(format!("endpoint-self-service-{unique}"));
        // `create` (not `create_all`) fails on anything already there, a link included.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&folder)
            .map_err(|source| OpenError::Write { path: folder.clone(), source })?;
        let forwarding = Self { file: folder.join("open.html"), folder };
        let page = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"refresh\" content=\"0;url={url}\"><title>Self Service</title></head>\
             <body><p><a href=\"{url}\">Open Self Service</a></p></body></html>\n"
        );
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&forwarding.file)
            .and_then(|mut file| file.write_all(page.as_bytes()))
            .map_err(|source| OpenError::Write { path: forwarding.file.clone(), source })?;
        Ok(forwarding)
    }

    /// The file to hand to the browser.
    pub(crate) fn path(&self) -> &Path {
        &self.file
    }
}

impl Drop for ForwardingFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// Runs `opener FILE` and waits for it to hand the file to the browser.
pub(crate) async fn open(opener: &Path, forwarding: &ForwardingFile) -> Result<(), OpenError> {
    let program = opener.display().to_string();
    let mut child = tokio::process::Command::new(opener)
        .arg(forwarding.path())
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_forwarding_file_is_private_holds_the_url_and_goes_away() {
        let temporary = tempfile::tempdir().unwrap();
        let url = "http://127.0.0.1:4321/open?secret=abc";
        let forwarding = ForwardingFile::write(temporary.path(), "1", url).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(forwarding.path().parent().unwrap()), mode(forwarding.path())), (0o700, 0o600));
        let page = std::fs::read_to_string(forwarding.path()).unwrap();
        assert!(page.contains(&format!("content=\"0;url={url}\"")), "{page}");
        assert!(matches!(ForwardingFile::write(temporary.path(), "1", url), Err(OpenError::Write { .. })));
        let folder = forwarding.path().parent().unwrap().to_path_buf();
        drop(forwarding);
        assert!(!folder.exists());
    }
}

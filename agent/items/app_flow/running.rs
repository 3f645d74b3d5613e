//! The applications that keep an app from being replaced: finding them among the
//! running processes, and stopping them when the item's `force_install_after`
//! has passed.
//!
//! A process blocks when its executable lies inside a blocking bundle (a path,
//! read under the agent's root, or any bundle of a given name) or when its name
//! is a blocking process name. Without `blocking_applications` the app being
//! installed blocks its own install. The process list comes from `sysinfo`,
//! refreshed for names and executables only; pid 1 and the agent itself never
//! match. A process is known by its pid and start time, so a pid the system has
//! given to another process since it was found is never signalled.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, UpdateKind};

use crate::blueprint::{Blocking, BlockingApplication};

/// One thing that must not run while the app is replaced, resolved for this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Blocker {
    /// Any process whose executable lies inside this bundle.
    Bundle {
        /// The bundle's path under the agent's root.
        path: PathBuf,
        /// The same path with symbolic links resolved, when the bundle exists:
        /// the system reports executables that way.
        resolved: Option<PathBuf>,
        /// The entry as the admin wrote it (`/Applications/Foo.app`).
        entry: String,
    },
    /// Any process whose executable lies inside a bundle of this name (`Foo.app`).
    BundleName(String),
    /// Any process of this name (`foo-daemon`).
    ProcessName(String),
}

impl Blocker {
    /// What the admin wrote, for messages: `/Applications/Foo.app`, `Foo.app`, `foo-daemon`.
    pub(crate) fn entry(&self) -> &str {
        match self {
            Blocker::Bundle { entry, .. } => entry,
            Blocker::BundleName(name) | Blocker::ProcessName(name) => name,
        }
    }

    /// Whether a process named `name`, running `executable`, is this blocker.
    pub(crate) fn matches(&self, name: &str, executable: Option<&Path>) -> bool {
        match self {
            Blocker::Bundle { path, resolved, .. } => executable.is_some_and(|executable| {
                executable.starts_with(path) || resolved.as_ref().is_some_and(|path| executable.starts_with(path))
            }),
            Blocker::BundleName(bundle) => executable
                .and_then(Path::parent)
                .is_some_and(|folder| folder.components().any(|component| component.as_os_str() == bundle.as_str())),
            Blocker::ProcessName(wanted) => {
                name == wanted || executable.and_then(Path::file_name).is_some_and(|file| file == wanted.as_str())
            }
        }
    }
}

/// The item's blockers on this device: its `blocking_applications`, or the app
/// being installed (at `app_path`, shown as `app_display`) when it has none.
pub(crate) fn blockers(blocking: &Blocking, app_path: &Path, app_display: &str, root: &Path) -> Vec<Blocker> {
    let bundle = |path: PathBuf, entry: String| {
        let resolved = std::fs::canonicalize(&path).ok().filter(|resolved| *resolved != path);
        Blocker::Bundle { path, resolved, entry }
    };
    let Some(applications) = &blocking.applications else {
        return vec![bundle(app_path.to_path_buf(), app_display.to_string())];
    };
    applications
        .iter()
        .map(|application| match application {
            BlockingApplication::BundlePath(path) => {
                let relative = path.strip_prefix("/").unwrap_or(path);
                bundle(root.join(relative), path.display().to_string())
            }
            BlockingApplication::BundleName(name) => Blocker::BundleName(name.clone()),
            BlockingApplication::ProcessName(name) => Blocker::ProcessName(name.clone()),
        })
        .collect()
}

/// A process found running that blocks the install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunningApplication {
    /// Its process id.
    pub pid: u32,
    /// When it started, in seconds since the Unix epoch: with the pid, which process it is.
    pub started_at: u64,
    /// Its name, as the system reports it.
    pub name: String,
    /// Its executable, when the agent may read it.
    pub executable: Option<PathBuf>,
    /// The blocking entry it matched, as the admin wrote it.
    pub entry: String,
}

#[cfg(test)]
impl RunningApplication {
    /// A process as `find_running` would report it, for the tests of what is
    /// done about one: started at 1, matching no entry in particular.
    pub(crate) fn example(pid: u32, name: &str, executable: Option<&str>) -> Self {
        Self { pid, started_at: 1, name: name.into(), executable: executable.map(PathBuf::from), entry: String::new() }
    }
}

/// Every running process that one of `blockers` matches, by pid.
pub(crate) fn find_running(blockers: &[Blocker]) -> Vec<RunningApplication> {
    if blockers.is_empty() {
        return Vec::new();
    }
    let mut system = System::new();
    let refresh = ProcessRefreshKind::nothing().without_tasks().with_exe(UpdateKind::OnlyIfNotSet);
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, refresh);
    let own_pid = std::process::id();
    let mut found: Vec<RunningApplication> = system
        .processes()
        .iter()
        .filter(|(pid, process)| {
            pid.as_u32() > 1 && pid.as_u32() != own_pid && process.thread_kind().is_none() && is_live(process.status())
        })
        .filter_map(|(pid, process)| {
            let name = process.name().to_string_lossy();
            let blocker = blockers.iter().find(|blocker| blocker.matches(&name, process.exe()))?;
            Some(RunningApplication {
                pid: pid.as_u32(),
                started_at: process.start_time(),
                name: name.into_owned(),
                executable: process.exe().map(Path::to_path_buf),
                entry: blocker.entry().to_string(),
            })
        })
        .collect();
    found.sort_by_key(|application| application.pid);
    found
}

/// Those of `applications` still running (the same processes: pid and start time).
pub(crate) fn still_running(applications: &[RunningApplication]) -> Vec<RunningApplication> {
    if applications.is_empty() {
        return Vec::new();
    }
    let pids: Vec<Pid> = applications.iter().map(|application| Pid::from_u32(application.pid)).collect();
    let mut system = System::new();
    let refresh = ProcessRefreshKind::nothing().without_tasks();
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, refresh);
    applications
        .iter()
        .filter(|application| {
            system
                .process(Pid::from_u32(application.pid))
                .is_some_and(|process| process.start_time() == application.started_at && is_live(process.status()))
        })
        .cloned()
        .collect()
}

/// A zombie has ended: only its parent's wait is left.
fn is_live(status: ProcessStatus) -> bool {
    !matches!(status, ProcessStatus::Zombie | ProcessStatus::Dead)
}

/// How stopping the blocking applications ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stopped {
    /// Those that ended after SIGTERM, within the grace.
    pub terminated: Vec<RunningApplication>,
    /// Those that had to be sent SIGKILL.
    pub killed: Vec<RunningApplication>,
    /// Those still running after SIGKILL (another user's process the agent may not signal).
    pub survived: Vec<RunningApplication>,
}

/// How long processes get to disappear after SIGKILL.
const KILLED_WAIT: Duration = Duration::from_secs(2);
/// How often the agent looks whether they are gone.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Stops `applications`: SIGTERM to each, up to `grace` for them to end, then
/// SIGKILL to what remains. Pid 1 and the agent itself are never signalled, nor
/// one already gone (it is in none of the lists).
pub(crate) async fn stop(applications: &[RunningApplication], grace: Duration) -> Stopped {
    let own_pid = std::process::id();
    let allowed: Vec<RunningApplication> =
        applications.iter().filter(|application| application.pid > 1 && application.pid != own_pid).cloned().collect();
    let targets = still_running(&allowed);
    signal_all(&targets, Signal::SIGTERM);
    let after_term = gone_within(&targets, grace).await;
    signal_all(&after_term, Signal::SIGKILL);
    let survived = gone_within(&after_term, KILLED_WAIT).await;
    let is_in = |list: &[RunningApplication], application: &RunningApplication| list.contains(application);
    let terminated = targets.iter().filter(|target| !is_in(&after_term, target)).cloned().collect();
    let killed = after_term.iter().filter(|target| !is_in(&survived, target)).cloned().collect();
    Stopped { terminated, killed, survived }
}

/// Waits until none of `applications` runs, for at most `limit`; those still running then.
pub(crate) async fn gone_within(applications: &[RunningApplication], limit: Duration) -> Vec<RunningApplication> {
    wait_until_gone(applications, limit, POLL_INTERVAL).await
}

/// Polls every `interval` until none of `applications` runs, for at most `limit`;
/// those still running then.
pub(crate) async fn wait_until_gone(
    applications: &[RunningApplication],
    limit: Duration,
    interval: Duration,
) -> Vec<RunningApplication> {
    let give_up_at = tokio::time::Instant::now() + limit;
    loop {
        let running = still_running(applications);
        if running.is_empty() || tokio::time::Instant::now() >= give_up_at {
            return running;
        }
        tokio::time::sleep(interval).await;
    }
}

/// Sends `signal` to each of `applications`, as long as it is still the process found.
fn signal_all(applications: &[RunningApplication], signal: Signal) {
    for application in still_running(applications) {
        let Ok(raw) = i32::try_from(application.pid) else { continue };
        match kill(nix::unistd::Pid::from_raw(raw), signal) {
            Ok(()) => {
                tracing::info!(pid = application.pid, name = %application.name, %signal, "Signalled a blocking application.");
            }
            Err(error) => {
                tracing::warn!(pid = application.pid, name = %application.name, %signal, %error, "Cannot signal a blocking application.");
            }
        }
    }
}

#[cfg(test)]
#[path = "running_tests.rs"]
mod tests;

//! Finding and stopping blocking applications, with real processes: a copy of
//! `sleep` inside a scratch `Foo.app`.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};

use super::*;

/// A scratch root with `Applications/Foo.app/Contents/MacOS/Foo`, a copy of `sleep`.
struct ScratchBundle {
    root: tempfile::TempDir,
}

impl ScratchBundle {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("Applications/Foo.app/Contents/MacOS");
        std::fs::create_dir_all(&folder).unwrap();
        let sleep = ["/bin/sleep", "/usr/bin/sleep"].into_iter().find(|path| Path::new(path).exists()).unwrap();
        std::fs::copy(sleep, folder.join("Foo")).unwrap();
        Self { root }
    }

    fn bundle(&self) -> PathBuf {
        self.root.path().join("Applications/Foo.app")
    }

    fn executable(&self) -> PathBuf {
        self.bundle().join("Contents/MacOS/Foo")
    }

    fn blockers(&self, applications: Option<Vec<BlockingApplication>>) -> Vec<Blocker> {
        let blocking = Blocking { applications, force_install_after: None };
        blockers(&blocking, &self.bundle(), "/Applications/Foo.app", self.root.path())
    }
}

/// A child process, killed and reaped when dropped.
struct Running(Child);

impl Running {
    fn start(command: &mut Command) -> Self {
        Self(command.spawn().unwrap())
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pids(found: &[RunningApplication]) -> Vec<u32> {
    found.iter().map(|application| application.pid).collect()
}

/// Waits until `pid` is found by `blockers` (a shell may still be starting it).
fn found_once_started(blockers: &[Blocker], pid: u32) -> RunningApplication {
    for _ in 0..400 {
        if let Some(found) = find_running(blockers).into_iter().find(|application| application.pid == pid) {
            return found;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("process {pid} was never found by {blockers:?}");
}

#[test]
fn a_process_inside_the_bundle_is_found_by_path_by_bundle_name_and_by_process_name() {
    let scratch = ScratchBundle::new();
    let foo = Running::start(Command::new(scratch.executable()).arg("30"));
    let unrelated = Running::start(Command::new("sleep").arg("30"));
    let cases = [
        (None, "/Applications/Foo.app"),
        (Some(vec![BlockingApplication::BundlePath("/Applications/Foo.app".into())]), "/Applications/Foo.app"),
        (Some(vec![BlockingApplication::BundleName("Foo.app".into())]), "Foo.app"),
        (
            Some(vec![BlockingApplication::ProcessName("bar".into()), BlockingApplication::ProcessName("Foo".into())]),
            "Foo",
        ),
    ];
    for (applications, entry) in cases {
        let blockers = scratch.blockers(applications);
        let found = find_running(&blockers);
        let ours = found.iter().find(|application| application.pid == foo.pid()).expect("Foo is found");
        assert_eq!(ours.entry, entry);
        assert_eq!(ours.name, "Foo");
        let executable = std::fs::canonicalize(scratch.executable()).unwrap();
        assert_eq!(ours.executable.as_deref(), Some(executable.as_path()));
        assert!(!pids(&found).contains(&unrelated.pid()), "an unrelated process is not found: {found:?}");
        assert!(!pids(&found).contains(&std::process::id()), "the agent itself never matches");
    }
    let elsewhere = [
        BlockingApplication::BundlePath("/Applications/Fo.app".into()),
        BlockingApplication::BundlePath("/Library/Foo.app".into()),
        BlockingApplication::BundleName("Fo.app".into()),
        BlockingApplication::ProcessName("Fo".into()),
    ];
    let found = find_running(&scratch.blockers(Some(elsewhere.to_vec())));
    assert!(!pids(&found).contains(&foo.pid()), "{found:?}");
    assert!(find_running(&scratch.blockers(Some(Vec::new()))).is_empty(), "an empty list blocks nothing");
}

#[test]
fn matching_is_by_whole_path_components_and_names() {
    let bundle = Blocker::Bundle {
        path: PathBuf::from("/r/Applications/Foo.app"),
        resolved: Some(PathBuf::from("/private/r/Applications/Foo.app")),
        entry: "/Applications/Foo.app".into(),
    };
    let by_name = Blocker::BundleName("Foo.app".into());
    let by_process = Blocker::ProcessName("foo-daemon".into());
    let cases: [(&Blocker, &str, Option<&str>, bool); 10] = [
        (&bundle, "Foo", Some("/r/Applications/Foo.app/Contents/MacOS/Foo"), true),
        (&bundle, "Foo", Some("/private/r/Applications/Foo.app/Contents/MacOS/Foo"), true),
        (&bundle, "Foo", Some("/r/Applications/Foo.app2/Contents/MacOS/Foo"), false),
        (&bundle, "Foo", None, false),
        (&by_name, "Helper", Some("/Users/ada/Foo.app/Contents/Frameworks/Helper.app/Contents/MacOS/Helper"), true),
        (&by_name, "Foo.app", Some("/usr/local/bin/Foo.app"), false),
        (&by_name, "Foo", Some("/Applications/MyFoo.app/Contents/MacOS/Foo"), false),
        (&by_process, "foo-daemon", None, true),
        (&by_process, "foo-daemon-but-lo", Some("/usr/local/bin/foo-daemon"), true),
        (&by_process, "foo", Some("/usr/local/bin/foo-daemon2"), false),
    ];
    for (blocker, name, executable, expected) in cases {
        assert_eq!(blocker.matches(name, executable.map(Path::new)), expected, "{blocker:?} {name} {executable:?}");
    }
}

#[tokio::test]
async fn stopping_terminates_what_ends_on_term_and_kills_what_ignores_it() {
    let scratch = ScratchBundle::new();
    let blockers = scratch.blockers(None);
    let mut polite = Running::start(Command::new(scratch.executable()).arg("30"));
    let script = format!("trap '' TERM; exec '{}' 30", scratch.executable().display());
    let mut stubborn = Running::start(Command::new("/bin/sh").args(["-c", &script]));
    let found = [found_once_started(&blockers, polite.pid()), found_once_started(&blockers, stubborn.pid())];
    let stopped = stop(&found, Duration::from_millis(300)).await;
    assert_eq!(pids(&stopped.terminated), [polite.pid()]);
    assert_eq!(pids(&stopped.killed), [stubborn.pid()]);
    assert!(stopped.survived.is_empty(), "{stopped:?}");
    assert_eq!(polite.0.wait().unwrap().signal(), Some(Signal::SIGTERM as i32));
    assert_eq!(stubborn.0.wait().unwrap().signal(), Some(Signal::SIGKILL as i32));
    assert!(still_running(&found).is_empty());
}

#[tokio::test]
async fn the_agent_itself_and_pid_1_are_never_signalled_nor_another_process_with_a_reused_pid() {
    let own = still_running(&[RunningApplication {
        pid: std::process::id(),
        started_at: 0,
        name: String::new(),
        executable: None,
        entry: String::new(),
    }]);
    assert!(own.is_empty(), "a start time that differs is another process");
    let mut system = System::new();
    let own_pid = Pid::from_u32(std::process::id());
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[own_pid]), true, ProcessRefreshKind::nothing());
    let started_at = system.process(own_pid).unwrap().start_time();
    let itself = RunningApplication {
        pid: std::process::id(),
        started_at,
        name: "agent".into(),
        executable: None,
        entry: "agent".into(),
    };
    assert_eq!(still_running(std::slice::from_ref(&itself)), std::slice::from_ref(&itself));
    let first = RunningApplication { pid: 1, ..itself.clone() };
    let scratch = ScratchBundle::new();
    let mut reused = Running::start(Command::new(scratch.executable()).arg("30"));
    let found = found_once_started(&scratch.blockers(None), reused.pid());
    let another = RunningApplication { started_at: found.started_at + 1_000_000, ..found };
    let stopped = stop(&[itself, first, another], Duration::from_millis(100)).await;
    assert_eq!(stopped, Stopped { terminated: Vec::new(), killed: Vec::new(), survived: Vec::new() });
    assert_eq!(reused.0.try_wait().unwrap(), None, "a process with another start time is left alone");
}

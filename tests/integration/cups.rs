//! A private CUPS scheduler for the printer tests: its own configuration, spool,
//! cache and logs in a temporary folder, listening on 127.0.0.1 only, stopped
//! when dropped. Nothing of the machine's own CUPS is read or changed.
//!
//! CI installs CUPS (`scripts/test.sh`); without `cupsd` the tests fail and say so.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long the scheduler gets to answer after it starts.
const START_LIMIT: Duration = crate::support::PATIENCE;

/// A running private `cupsd`.
pub struct Cups {
    folder: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Cups {
    /// Starts a scheduler and waits until it answers; panics with its log if it cannot.
    pub fn start() -> Self {
        let cupsd = program("cupsd");
        let mut last_failure = String::new();
        for _ in 0..3 {
            let folder = tempfile::tempdir().expect("a folder for cupsd");
            std::fs::set_permissions(folder.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let port = free_port();
            write_configuration(folder.path(), port);
            let log = std::fs::File::create(folder.path().join("cupsd.out")).unwrap();
            let child = Command::new(&cupsd)
                .args(["-f", "-c"])
                .arg(folder.path().join("cupsd.conf"))
                .arg("-s")
                .arg(folder.path().join("cups-files.conf"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {}: {error}", cupsd.display()));
            let mut cups = Cups { folder, child, port };
            match cups.wait_until_answering() {
                Ok(()) => return cups,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("the private cupsd never answered on 127.0.0.1:\n{last_failure}");
    }

    /// The value of `CUPS_SERVER` that reaches this scheduler.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The scheduler's configuration folder (`ServerRoot`), where it keeps PPDs.
    pub fn server_root(&self) -> PathBuf {
        self.folder.path().join("etc")
    }

    /// A real CUPS tool (`lpadmin`, `lpstat`, `lpoptions`) aimed at this scheduler.
    pub fn tool(&self, name: &str) -> Command {
        let mut command = Command::new(program(name));
        command.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").env("CUPS_SERVER", self.server());
        command.stdin(Stdio::null());
        command
    }

    /// Runs a tool and returns what it printed, asserting it succeeded.
    pub fn run(&self, name: &str, arguments: &[&str]) -> String {
        let output: Output = self.tool(name).args(arguments).output().expect("the CUPS tool runs");
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{name} {arguments:?} failed: {text}");
        text
    }

    fn wait_until_answering(&mut self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < START_LIMIT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("cupsd exited ({status}):\n{}", self.logs()));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("cupsd did not answer within {START_LIMIT:?}:\n{}", self.logs()))
    }

    /// What the scheduler wrote to its console and error log.
    pub fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.folder.path().join(name)).unwrap_or_default();
        format!("{}{}", read("cupsd.out"), read("log/error_log"))
    }
}

impl Drop for Cups {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of a CUPS program, from the usual folders or `PATH`.
pub fn program(name: &str) -> PathBuf {
    crate::support::installed_program(name, "the printer tests need CUPS (apt-get install cups)")
}

/// A port on 127.0.0.1 nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port()
}

/// Everything under `folder`, a scheduler open to local clients only, with no
/// sharing, browsing or web interface, and no authentication (the folder is
/// private to the test).
fn write_configuration(folder: &Path, port: u16) {
    for sub in ["etc", "spool", "cache", "state", "tmp", "log"] {
        std::fs::create_dir_all(folder.join(sub)).unwrap();
    }
    let at = |sub: &str| folder.join(sub).display().to_string();
    let files = format!(
        "ServerRoot {}\nRequestRoot {}\nCacheDir {}\nStateDir {}\nTempDir {}\nErrorLog {}\nAccessLog {}\n\
         PageLog {}\nFileDevice Yes\nSystemGroup root\n",
        at("etc"),
        at("spool"),
        at("cache"),
        at("state"),
        at("tmp"),
        at("log/error_log"),
        at("log/access_log"),
        at("log/page_log"),
    );
    std::fs::write(folder.join("cups-files.conf"), files).unwrap();
    let scheduler = format!(
        "LogLevel info\nListen 127.0.0.1:{port}\nBrowsing No\nWebInterface No\nDefaultAuthType None\n\
         <Location />\n  Order allow,deny\n  Allow 127.0.0.1\n</Location>\n\
         <Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
    );
    std::fs::write(folder.join("cupsd.conf"), scheduler).unwrap();
}

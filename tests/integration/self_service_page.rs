//! The Self Service page in a real headless Chromium: a daemon run as root on a
//! scratch device, `agent self-service open --no-browser` started beside it by a
//! person without admin rights (`nobody`), and the page opened from the URL it
//! prints (the one-time secret exchanged for the page's cookie). What a person
//! sees and does (`catalog`), the runs the page starts (`runs`), the updates
//! waiting on the Mac and Update Now (`updates`), and what another web page
//! cannot do with it and what the page says when it cannot work (`refusals`).

mod catalog;
mod refusals;
mod runs;
mod updates;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::daemon::harness::{Daemon, finished, setting, wait_for_runs};
use crate::support::{Device, PATIENCE, as_nobody, blueprint, open_to_nobody, script};

/// The offer: a recommended item that writes `$AGENT_ROOT/handbook` (Utilities),
/// one that always fails after a second (Utilities), and an item every check-in
/// enforces that is also offered (Design). Recommended first puts Utilities
/// before Design.
fn offering_blueprint(device: &Device) {
    let mut handbook = script("handbook", "Company handbook", "#!/bin/sh\ntest -f \"$AGENT_ROOT/handbook\"\n");
    handbook["remediation"] = json!("#!/bin/sh\ntouch \"$AGENT_ROOT/handbook\"\n");
    handbook["frequency"] = json!("self_service");
    handbook["self_service"] =
        json!({ "category": "Utilities", "description": "The staff handbook, on the Desktop.", "recommended": true });
    let mut helper =
        script("helper", "Broken helper", "#!/bin/sh\nsleep 1\necho \"the helper's server is unreachable\"\nexit 1\n");
    helper["frequency"] = json!("self_service");
    helper["self_service"] = json!({ "category": "Utilities", "description": "A helper that cannot be installed." });
    let mut fonts = script("fonts", "Brand fonts", "#!/bin/sh\nexit 0\n");
    fonts["self_service"] = json!({ "category": "Design", "description": "The typefaces of the brand." });
    let path = device.write_blueprint(&blueprint(vec![handbook, helper, fonts]));
    assert_eq!(path, device.root().join("blueprint.json"));
}

/// The daemon enforcing the offering blueprint, its check-ins an hour apart.
fn start_daemon(device: &Device) -> Daemon {
    let blueprint_file = setting("blueprint_file", &device.root().join("blueprint.json"));
    Daemon::start(device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h", &blueprint_file])
}

/// A page open in Chromium, with everything behind it. Dropped in this order:
/// the browser, the page's server, the daemon, the device.
struct Page {
    browser: Browser,
    server: PageServer,
    daemon: Daemon,
    device: Device,
}

/// The daemon after its first (daily) check-in, the page's server, and the page
/// loaded from the printed URL with its catalog shown.
fn open_page() -> Page {
    let device = Device::new();
    offering_blueprint(&device);
    let daemon = start_daemon(&device);
    wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));
    let server = PageServer::start(&device);
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for("#catalog .card");
    Page { browser, server, daemon, device }
}

/// `agent self-service open --no-browser`, run as `nobody` (a person without admin
/// rights) when the tests run as root, in its own process group, killed when dropped.
struct PageServer {
    child: Child,
    /// Where its standard error (its log) goes.
    stderr: PathBuf,
    /// The URL it printed: `http://127.0.0.1:PORT/open?secret=…`.
    url: String,
}

impl PageServer {
    fn start(device: &Device) -> Self {
        let stderr_path = device.root().join("page.stderr");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut command = device.agent();
        if nix::unistd::geteuid().is_root() {
            open_to_nobody(device);
            as_nobody(command.current_dir("/"));
        }
        let mut child = command
            .args(["self-service", "open", "--no-browser"])
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .expect("agent self-service open starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        // The first line is the URL; the rest is read (and dropped) so the server
        // never writes to a closed pipe.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = sender.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = receiver.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!("agent self-service open printed no URL within {PATIENCE:?}:\n{log}")
        });
        let url = line.split_whitespace().find(|word| word.starts_with("http://")).map(str::to_string);
        let url = url.unwrap_or_else(|| panic!("no URL on the first line: {line:?}"));
        PageServer { child, stderr: stderr_path, url }
    }

    /// What it has logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The page's own origin, `http://127.0.0.1:PORT`.
    fn origin(&self) -> String {
        self.url.split("/open?").next().unwrap().to_string()
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Who the daemon records as having asked through the page: `nobody` when the
/// tests run as root, else the user they run as.
fn person() -> String {
    if nix::unistd::geteuid().is_root() {
        return "nobody".to_string();
    }
    nix::unistd::User::from_uid(nix::unistd::geteuid()).unwrap().unwrap().name
}

/// The `.card` of item `id`, for a selector.
fn card(id: &str) -> String {
    format!(".card[data-item-id=\"{id}\"]")
}

/// The `datetime` of the `<time>` inside `selector`, or null.
fn time_of(browser: &Browser, selector: &str) -> Value {
    let quoted = serde_json::to_string(&format!("{selector} time")).unwrap();
    browser.evaluate(&format!("document.querySelector({quoted})?.dateTime ?? null"))
}

//! Apps that are running: a real process whose executable lies inside the app's
//! bundle (a copy of `sleep`) holds back the app's update until it quits, with a
//! notice once per interval and a deferral recorded each time; past
//! `force_install_after` it is asked to quit, then stopped, and the app installed;
//! with nobody logged in the install waits without a notice.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use endpoint_agent::state::{Deferral, PendingWork};
use serde_json::{Value, json};

use crate::app_fixtures::{
    BUNDLE_ID, app_zip, auto_app, custom_app, installed_app, installed_version, sha256, write_app,
};
use crate::http_server::FileServer;
use crate::support::person::PersonStandIns;
use crate::support::{Device, PATIENCE, blueprint, item, store};

/// The uid logged in at the console: a user other than root.
const CONSOLE_UID: u32 = 65534;

/// A process started by the test, killed and reaped when dropped.
struct Running(Child);

impl Running {
    /// Starts `executable` with `sleep`'s argument; `ignore_term` makes it ignore SIGTERM.
    fn start(executable: &Path, ignore_term: bool) -> Self {
        let child = if ignore_term {
            let script = format!("trap '' TERM; exec '{}' 60", executable.display());
            Command::new("/bin/sh").args(["-c", &script]).spawn()
        } else {
            Command::new(executable).arg("60").spawn()
        };
        let running = Self(child.unwrap());
        running.wait_until_exec(executable);
        running
    }

    /// Waits until the process runs `executable` (a shell execs it a moment later).
    fn wait_until_exec(&self, executable: &Path) {
        if !Path::new("/proc/self/exe").exists() {
            return;
        }
        let expected = std::fs::canonicalize(executable).unwrap();
        let started = Instant::now();
        while std::fs::read_link(format!("/proc/{}/exe", self.pid())).ok().as_ref() != Some(&expected) {
            assert!(started.elapsed() < PATIENCE, "{} never ran {}", self.pid(), executable.display());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Kills it and waits for it: it quit.
    fn quit(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.quit();
    }
}

/// A device with `Foo.app` 1.0 installed, its executable a copy of `sleep`, a
/// server with 2.1, and the person's stand-ins with `console` logged in.
struct Scene {
    device: Device,
    server: FileServer,
    person: PersonStandIns,
    zip: Vec<u8>,
}

impl Scene {
    fn new(console: Option<u32>) -> Self {
        let (device, server) = (Device::new(), FileServer::start());
        let applications = device.root().join("Applications");
        std::fs::create_dir_all(&applications).unwrap();
        write_app(&applications, BUNDLE_ID, "1.0");
        std::fs::copy(sleep_program(), installed_app(&device).join("Contents/MacOS/Foo")).unwrap();
        let zip = app_zip("2.1", 0);
        server.serve("/Foo.zip", zip.clone());
        let person = PersonStandIns::install(&device, console, "intel");
        Self { device, server, person, zip }
    }

    /// The custom app item updating `Foo.app` to 2.1, with `extra` keys.
    fn custom_app(&self, extra: Value) -> PathBuf {
        let mut item =
            custom_app("zip", &self.server.url("/Foo.zip"), &sha256(&self.zip), "audit_and_enforce", Some("2.1"));
        item.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        self.device.write_blueprint(&blueprint(vec![item]))
    }

    /// The app's own executable.
    fn executable(&self) -> PathBuf {
        installed_app(&self.device).join("Contents/MacOS/Foo")
    }

    /// A check-in that must exit 0, with the stand-ins and `extra` settings; the item named `name`.
    fn check_in(&self, blueprint: &Path, name: &str, extra: &[&str]) -> Value {
        let mut arguments: Vec<String> = self.person.flags();
        arguments.extend(extra.iter().map(|argument| argument.to_string()));
        let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
        self.device.check_in_ok(blueprint, &arguments);
        item(&self.device.status(), name).clone()
    }

    fn pending(&self, item_id: &str) -> Option<PendingWork> {
        store(&self.device).pending_work(item_id).unwrap()
    }

    fn deferrals_of_last_run(&self) -> Vec<Deferral> {
        let run_id = self.device.status()["last_run"]["id"].as_str().unwrap().to_string();
        store(&self.device).deferrals_of_run(&run_id).unwrap()
    }
}

fn sleep_program() -> &'static str {
    ["/bin/sleep", "/usr/bin/sleep"].into_iter().find(|path| Path::new(path).exists()).unwrap()
}

/// The console user's name, as the agent reads it.
fn console_name() -> String {
    let uid = if nix::unistd::geteuid().is_root() { CONSOLE_UID } else { nix::unistd::geteuid().as_raw() };
    nix::unistd::User::from_uid(uid.into()).ok().flatten().map_or(uid.to_string(), |user| user.name)
}

fn message(item: &Value) -> &str {
    item["message"].as_str().unwrap()
}

#[test]
fn a_running_app_defers_its_update_with_one_notice_per_interval_until_it_quits() {
    let scene = Scene::new(Some(CONSOLE_UID));
    let mut foo = Running::start(&scene.executable(), false);
    let path = scene.custom_app(json!({}));
    scene.person.answer(&["Later"]);

    let first = scene.check_in(&path, "Foo", &[]);
    assert_eq!(first["status"], "deferred", "{first}");
    assert_eq!(
        message(&first),
        format!("deferred: Foo is running (pid {}); it is installed once Foo quits", foo.pid())
    );
    assert_eq!(installed_version(&scene.device).as_deref(), Some("1.0"), "nothing was replaced");
    let message_text = "Foo needs to quit so it can be updated to 2.1. Quit it when you are ready: \
                        the update is installed at the next check-in after it quits.";
    let notice = ["300", "Quit Foo to update it", message_text, "Later", "Quit and Update", "Later"];
    assert_eq!(scene.person.dialogs(), [notice.map(String::from).to_vec()]);
    let launched = &scene.person.launchctl_calls()[0];
    assert_eq!(launched[..2], ["asuser".to_string(), console_uid_text()], "{launched:?}");
    let user = console_name();
    let deferrals = scene.deferrals_of_last_run();
    assert_eq!(deferrals.len(), 1, "{deferrals:?}");
    assert_eq!((deferrals[0].choice.as_str(), deferrals[0].user.as_str()), ("later", user.as_str()));
    assert_eq!(deferrals[0].reason, format!("Foo is running (pid {})", foo.pid()));
    let pending = scene.pending("li-foo").expect("the update is pending");
    assert_eq!(
        (pending.action.as_str(), pending.state.as_str()),
        ("replace Foo.app (Foo 2.1)", "waiting for Foo to quit")
    );
    assert_eq!((pending.deadline, pending.deferrals_used), (None, 1));
    assert!(pending.notice_shown_at.is_some());
    assert!(scene.server.requests("/Foo.zip").is_empty(), "nothing is downloaded while it waits");

    let second = scene.check_in(&path, "Foo", &[]);
    assert_eq!(second["status"], "deferred");
    assert_eq!(scene.person.dialogs().len(), 1, "no second notice within notices.interval");
    let deferrals = scene.deferrals_of_last_run();
    assert_eq!((deferrals.len(), deferrals[0].choice.as_str()), (1, "blocked"), "{deferrals:?}");

    let mut earlier = scene.pending("li-foo").unwrap();
    earlier.notice_shown_at = Some(chrono::Utc::now() - chrono::TimeDelta::hours(25));
    store(&scene.device).save_pending_work(&earlier).unwrap();
    scene.check_in(&path, "Foo", &[]);
    assert_eq!(scene.person.dialogs().len(), 2, "a notice again once the interval has passed");
    assert_eq!(scene.deferrals_of_last_run()[0].choice, "no_answer", "no answer left: the dialog gave up");

    foo.quit();
    let updated = scene.check_in(&path, "Foo", &[]);
    assert_eq!(updated["status"], "succeeded", "{updated}");
    assert!(
        message(&updated).starts_with("updated: Foo.app 1.0 was below the required 2.1; installed 2.1"),
        "{updated}"
    );
    assert_eq!(installed_version(&scene.device).as_deref(), Some("2.1"));
    assert_eq!(scene.pending("li-foo"), None, "nothing is pending once installed");
    assert_eq!(scene.person.dialogs().len(), 2);
}

fn console_uid_text() -> String {
    let uid = if nix::unistd::geteuid().is_root() { CONSOLE_UID } else { nix::unistd::geteuid().as_raw() };
    uid.to_string()
}

#[test]
fn quit_and_update_asks_the_app_to_quit_and_installs_at_once_when_it_does() {
    let scene = Scene::new(Some(CONSOLE_UID));
    let foo = Running::start(&scene.executable(), false);
    let path = scene.custom_app(json!({}));
    scene.person.answer(&["Quit and Update"]);
    // The stand-in osascript only records the request: the app quits as asked.
    let updated = std::thread::scope(|scope| {
        let person = &scene.person;
        let mut foo = foo;
        scope.spawn(move || {
            let started = Instant::now();
            while person.quit_requests().is_empty() && started.elapsed() < PATIENCE {
                std::thread::sleep(Duration::from_millis(20));
            }
            foo.quit();
        });
        scene.check_in(&path, "Foo", &[])
    });
    assert_eq!(updated["status"], "succeeded", "{updated}");
    let expected_end = format!("; Foo quit when {} chose \"Quit and Update\"", console_name());
    assert!(message(&updated).ends_with(&expected_end), "{updated}");
    assert_eq!(scene.person.quit_requests(), [vec![BUNDLE_ID.to_string()]]);
    assert_eq!(installed_version(&scene.device).as_deref(), Some("2.1"));
    assert!(scene.deferrals_of_last_run().is_empty());
}

#[test]
fn after_force_install_after_the_app_is_asked_to_quit_then_stopped_then_replaced() {
    let scene = Scene::new(Some(CONSOLE_UID));
    let mut stubborn = Running::start(&scene.executable(), true);
    let path = scene.custom_app(json!({ "force_install_after": "2020-01-01" }));
    let updated = scene.check_in(&path, "Foo", &["--set", "timeouts.termination_grace=1s"]);
    assert_eq!(updated["status"], "succeeded", "{updated}");
    assert!(
        message(&updated).starts_with("updated: Foo.app 1.0 was below the required 2.1; installed 2.1"),
        "{updated}"
    );
    let note = "; Foo was running after force_install_after 2020-01-02T00:00:00Z: asked to quit, then stopped";
    assert!(message(&updated).ends_with(note), "{updated}");
    let notice = ["10", "Updating Foo", "Foo is quitting now to be updated to 2.1.", "OK", "OK"];
    assert_eq!(scene.person.dialogs(), [notice.map(String::from).to_vec()]);
    assert_eq!(scene.person.quit_requests(), [vec![BUNDLE_ID.to_string()]]);
    let ended = stubborn.0.wait().unwrap();
    assert_eq!(ended.signal(), Some(9), "it ignored SIGTERM, so it was killed: {ended:?}");
    assert_eq!(installed_version(&scene.device).as_deref(), Some("2.1"));
    assert!(scene.deferrals_of_last_run().is_empty());
    assert_eq!(scene.pending("li-foo"), None);
}

#[test]
fn with_nobody_logged_in_the_install_waits_without_a_notice() {
    let scene = Scene::new(None);
    let foo = Running::start(&scene.executable(), false);
    let path = scene.custom_app(json!({ "force_install_after": "2099-12-31T17:00:00Z" }));
    let deferred = scene.check_in(&path, "Foo", &[]);
    assert_eq!(deferred["status"], "deferred", "{deferred}");
    let expected = format!(
        "deferred: Foo is running (pid {}); it is installed once Foo quits, or after 2099-12-31T17:00:00Z",
        foo.pid()
    );
    assert_eq!(message(&deferred), expected);
    assert!(scene.person.dialogs().is_empty() && scene.person.launchctl_calls().is_empty());
    let deferrals = scene.deferrals_of_last_run();
    assert_eq!((deferrals[0].choice.as_str(), deferrals[0].user.as_str()), ("blocked", ""));
    let pending = scene.pending("li-foo").unwrap();
    assert_eq!(pending.deadline.map(|deadline| deadline.to_rfc3339()).as_deref(), Some("2099-12-31T17:00:00+00:00"));
    assert_eq!(installed_version(&scene.device).as_deref(), Some("1.0"));
}

#[test]
fn an_auto_app_waits_for_the_process_it_names_and_not_for_its_own_app() {
    let scene = Scene::new(Some(CONSOLE_UID));
    let helper_path = scene.device.root().join("usr/local/bin/foo-helper");
    std::fs::create_dir_all(helper_path.parent().unwrap()).unwrap();
    std::fs::copy(sleep_program(), &helper_path).unwrap();
    let _foo = Running::start(&scene.executable(), false);
    let mut helper = Running::start(&helper_path, false);
    let mut item = auto_app("2.1", &scene.server.url("/Foo.zip"), &sha256(&scene.zip));
    item["blocking_applications"] = json!(["foo-helper"]);
    let path = scene.device.write_blueprint(&blueprint(vec![item]));
    scene.person.answer(&["Later"]);

    let deferred = scene.check_in(&path, "Foo (auto)", &[]);
    assert_eq!(deferred["status"], "deferred", "{deferred}");
    let expected =
        format!("deferred: foo-helper is running (pid {}); it is installed once foo-helper quits", helper.pid());
    assert_eq!(message(&deferred), expected);
    assert_eq!(scene.person.dialogs()[0][1], "Quit foo-helper to update Foo");

    helper.quit();
    let updated = scene.check_in(&path, "Foo (auto)", &[]);
    assert_eq!(updated["status"], "succeeded", "{updated}");
    assert!(message(&updated).starts_with("updated: Foo 1.0 to 2.1"), "{updated}");
    assert_eq!(installed_version(&scene.device).as_deref(), Some("2.1"));
}

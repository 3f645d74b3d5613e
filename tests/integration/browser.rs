//! A real headless Chromium for the Self Service page's tests, driven over its
//! DevTools protocol (`headless_chrome`, connected to a Chromium this helper
//! starts itself): a scratch profile, one tab, every request the page makes
//! recorded, and the whole process group killed when dropped.
//!
//! CI installs Debian's `chromium` (`scripts/test.sh`); without it the tests fail
//! and say so. Screenshots land in `target/browser-screenshots/`.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use headless_chrome::Tab;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Emulation, Network, Page};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::Value;

use crate::support::{PATIENCE, installed_program, poll};

/// How often a wait reads the page again.
const EVERY: Duration = Duration::from_millis(50);

/// How long Chromium gets to end by itself when the test is done.
const STOP_LIMIT: Duration = Duration::from_secs(5);

/// How long the DevTools connection may stay quiet (a test waiting on a slow
/// install) before `headless_chrome` drops it.
const QUIET_CONNECTION: Duration = Duration::from_secs(300);

/// A headless Chromium with one tab open.
pub struct Browser {
    child: Child,
    tab: Arc<Tab>,
    requests: Arc<Mutex<Vec<String>>>,
    // Kept for as long as the tab is used; dropped after the process is killed.
    _connection: headless_chrome::Browser,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium headless on a scratch profile (without its sandbox only
    /// when running as root, which it refuses otherwise) and opens a blank tab.
    pub fn start() -> Self {
        let chromium = installed_program(
            "chromium",
            "the Self Service page tests need Chromium (apt-get install chromium; scripts/test.sh installs it)",
        );
        let profile = tempfile::tempdir().expect("a profile folder for Chromium");
        let log = File::create(profile.path().join("chromium.log")).unwrap();
        let mut command = Command::new(&chromium);
        command
            .args(CHROMIUM_FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().join("profile").display()))
            .env("HOME", profile.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        if nix::unistd::geteuid().is_root() {
            command.arg("--no-sandbox");
        }
        let mut child = command
            .arg("about:blank")
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", chromium.display()));
        let address = match devtools_address(&mut child, &profile) {
            Ok(address) => address,
            Err(failure) => {
                let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let _ = child.wait();
                panic!("Chromium never opened its DevTools port: {failure}");
            }
        };
        let connection =
            headless_chrome::Browser::connect_with_timeout(address, QUIET_CONNECTION).expect("DevTools connects");
        let tab = connection.new_tab().expect("a tab");
        tab.set_default_timeout(PATIENCE);
        let requests = Arc::new(Mutex::new(Vec::new()));
        record_requests(&tab, Arc::clone(&requests));
        record_policy_violations(&tab);
        Browser { child, tab, requests, _connection: connection, _profile: profile }
    }

    /// Opens `url` and waits until it has loaded.
    pub fn open(&self, url: &str) {
        self.tab.navigate_to(url).and_then(|tab| tab.wait_until_navigated()).expect("the page loads");
    }

    /// Evaluates `expression` in the page (awaited if it is a promise) and returns
    /// its value as JSON (null for `undefined`).
    pub fn evaluate(&self, expression: &str) -> Value {
        let wrapped = format!("(async () => JSON.stringify(await ({expression})))()");
        let result = self.tab.evaluate(&wrapped, true).unwrap_or_else(|error| panic!("{expression}: {error}"));
        match result.value {
            Some(Value::String(json)) => serde_json::from_str(&json).unwrap(),
            _ => Value::Null,
        }
    }

    /// The visible text of every element `selector` matches, in document order.
    pub fn texts(&self, selector: &str) -> Vec<String> {
        let quoted = serde_json::to_string(selector).unwrap();
        let texts = self.evaluate(&format!("[...document.querySelectorAll({quoted})].map(e => e.innerText)"));
        serde_json::from_value(texts).unwrap()
    }

    /// The visible text of the first element `selector` matches ("" when none).
    pub fn text(&self, selector: &str) -> String {
        self.texts(selector).into_iter().next().unwrap_or_default()
    }

    /// Waits (at most `PATIENCE`) until `selector` matches an element.
    pub fn wait_for(&self, selector: &str) {
        let quoted = serde_json::to_string(selector).unwrap();
        let expression = format!("document.querySelector({quoted}) !== null");
        poll(selector, PATIENCE, EVERY, || self.evaluate(&expression), |found| found == &Value::Bool(true));
    }

    /// Waits (at most `PATIENCE`) until the text of `selector` satisfies `done`;
    /// returns that text.
    pub fn wait_for_text(&self, selector: &str, done: impl Fn(&str) -> bool) -> String {
        poll(selector, PATIENCE, EVERY, || self.text(selector), |text| done(text))
    }

    /// Clicks the element `selector` matches, as a mouse would.
    pub fn click(&self, selector: &str) {
        self.tab.wait_for_element(selector).and_then(|element| element.click().map(|_| ())).expect(selector);
    }

    /// Focuses the element `selector` matches and types `text` into it, key by key.
    pub fn type_into(&self, selector: &str, text: &str) {
        self.tab.wait_for_element(selector).and_then(|element| element.type_into(text).map(|_| ())).expect(selector);
    }

    /// Presses one key (`Tab`, `Enter`, `Backspace`, …) where the focus is.
    pub fn press(&self, key: &str) {
        self.tab.press_key(key).expect(key);
    }

    /// The page's cookies, as `name=value` pairs.
    pub fn cookies(&self) -> Vec<String> {
        let cookies = self.tab.get_cookies().expect("the cookies");
        cookies.into_iter().map(|cookie| format!("{}={}", cookie.name, cookie.value)).collect()
    }

    /// Forgets every cookie, as if the page's had expired.
    pub fn clear_cookies(&self) {
        self.tab.call_method(Network::ClearBrowserCookies(None)).expect("the cookies are cleared");
    }

    /// Every URL the tab has requested since it opened.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// What the page's Content-Security-Policy blocked since it loaded
    /// (`directive blocked-uri` each).
    pub fn policy_violations(&self) -> Vec<String> {
        serde_json::from_value(self.evaluate("window.policyViolations ?? []")).unwrap()
    }

    /// What a screen reader is given for the elements `selector` matches: each
    /// one's `(role, accessible name)` as Chromium computes them, in document order.
    pub fn accessible(&self, selector: &str) -> Vec<(String, String)> {
        let quoted = serde_json::to_string(selector).unwrap();
        let expression = format!("[...document.querySelectorAll({quoted})].map(e => [e.computedRole, e.computedName])");
        serde_json::from_value(self.evaluate(&expression)).unwrap()
    }

    /// Shows the page as the person's Mac would in dark mode (or back in light).
    pub fn prefer_dark(&self, dark: bool) {
        let scheme = if dark { "dark" } else { "light" };
        let feature = Emulation::MediaFeature { name: "prefers-color-scheme".into(), value: scheme.into() };
        self.tab
            .call_method(Emulation::SetEmulatedMedia { media: None, features: Some(vec![feature]) })
            .expect("the colour scheme is emulated");
    }

    /// Saves a PNG of the element `selector` matches (its border box, wherever it
    /// is on the page) as `target/browser-screenshots/NAME.png`, and returns its path.
    pub fn screenshot(&self, selector: &str, name: &str) -> PathBuf {
        self.wait_for(selector);
        let quoted = serde_json::to_string(selector).unwrap();
        let rect = self.evaluate(&format!(
            "(r => [r.left + scrollX, r.top + scrollY, r.width, r.height])\
             (document.querySelector({quoted}).getBoundingClientRect())"
        ));
        let [x, y, width, height] = [0, 1, 2, 3].map(|at| rect[at].as_f64().expect("a box"));
        let clip = Page::Viewport { x, y, width, height, scale: 1.0 };
        let shot = self.tab.call_method(Page::CaptureScreenshot {
            format: Some(Page::CaptureScreenshotFormatOption::Png),
            quality: None,
            clip: Some(clip),
            from_surface: Some(true),
            capture_beyond_viewport: Some(true),
            optimize_for_speed: None,
        });
        let png = BASE64.decode(shot.expect("a screenshot").data).expect("a PNG in base64");
        let folder = screenshot_folder();
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

/// Chromium is stopped whatever the test did: asked first (it then ends and
/// reaps its zygote, renderers and GPU process), and its whole process group
/// killed after a few seconds or once it has gone.
impl Drop for Browser {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = kill(group, Signal::SIGTERM);
        let asked = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && asked.elapsed() < STOP_LIMIT {
            std::thread::sleep(EVERY);
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Headless, on a 1280×1000 window, with nothing of Chromium's own traffic (no
/// component updates, sync, metrics or first-run pages): tests speak only to
/// 127.0.0.1.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
    "--window-size=1280,1000",
    "--hide-scrollbars",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    // `Element.computedRole` and `computedName`: what a screen reader is given.
    "--enable-blink-features=ComputedAccessibilityInfo",
];

/// The DevTools WebSocket address Chromium writes to its profile's
/// `DevToolsActivePort` once it listens (port, then path).
fn devtools_address(child: &mut Child, profile: &tempfile::TempDir) -> Result<String, String> {
    let file = profile.path().join("profile/DevToolsActivePort");
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(profile.path().join("chromium.log")).unwrap_or_default();
            return Err(format!("Chromium exited ({status}):\n{log}"));
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if let Some((port, path)) = text.split_once('\n')
            && !path.trim().is_empty()
        {
            return Ok(format!("ws://127.0.0.1:{}{}", port.trim(), path.trim()));
        }
        std::thread::sleep(EVERY);
    }
    Err(format!("no {} within {PATIENCE:?}", file.display()))
}

/// Adds the URL of every request the tab sends to `requests`.
fn record_requests(tab: &Arc<Tab>, requests: Arc<Mutex<Vec<String>>>) {
    tab.call_method(Network::Enable {
        max_total_buffer_size: None,
        max_resource_buffer_size: None,
        max_post_data_size: None,
        report_direct_socket_traffic: None,
        enable_durable_messages: None,
    })
    .expect("network events");
    let listener = move |event: &Event| {
        if let Event::NetworkRequestWillBeSent(sent) = event {
            requests.lock().unwrap().push(sent.params.request.url.clone());
        }
    };
    tab.add_event_listener(Arc::new(listener)).expect("a network listener");
}

/// Has every page the tab loads note what its Content-Security-Policy blocks in
/// `window.policyViolations` (the listener comes from DevTools, before the page's
/// own script, and is not subject to the policy).
fn record_policy_violations(tab: &Arc<Tab>) {
    let source = "document.addEventListener('securitypolicyviolation', event => \
                  (window.policyViolations ??= []).push(`${event.violatedDirective} ${event.blockedURI}`));";
    tab.call_method(Page::AddScriptToEvaluateOnNewDocument {
        source: source.to_string(),
        world_name: None,
        include_command_line_api: None,
        run_immediately: None,
    })
    .expect("a policy violation listener");
}

/// `target/browser-screenshots`, beside the build's other outputs.
fn screenshot_folder() -> PathBuf {
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    scratch.parent().map(|target| target.join("browser-screenshots")).unwrap_or(scratch)
}

//! The Self Service page's server (`agent self-service open --no-browser`) over
//! real HTTP on 127.0.0.1: the one-time URL and its cookie, the Host, Origin and
//! cookie checks, the catalog, Device Info, the updates, an install, an "Update
//! Now" and a sync streamed from a real daemon, and the server stopping once the
//! page is closed or idle.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::harness::{Daemon, finished, runs, setting, wait_for_runs};
use super::self_service::{daemon_after_first_run, offering_blueprint, own_user};
use crate::support::pending_work::{pending_os_update, save_pending_work};
use crate::support::{Device, PATIENCE, as_nobody, blueprint, open_to_nobody, poll, running_as_root, script};

/// A running page server and a client for it (no cookie jar: each test says
/// which cookie it sends).
struct Page {
    child: Child,
    /// The URL it printed.
    url: String,
    /// `http://127.0.0.1:PORT`.
    origin: String,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// What the server answered.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("{error}: {}", self.body))
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |value| value.to_str().unwrap())
    }
}

impl Page {
    /// Starts `agent self-service open --no-browser` plus `extra` and reads the URL
    /// it prints first.
    fn open(device: &Device, extra: &[&str]) -> Self {
        let mut arguments = vec!["self-service", "open", "--no-browser"];
        arguments.extend_from_slice(extra);
        Self::start(device.agent().args(arguments), first_line)
    }

    /// Starts `command`; `printed` finds the page's URL.
    fn start(command: &mut Command, printed: impl FnOnce(&mut Child) -> String) -> Self {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("agent starts");
        let line = printed(&mut child);
        let url = line.trim_end().rsplit(' ').next().unwrap().to_string();
        let origin = url.split("/open?").next().unwrap().to_string();
        assert!(origin.starts_with("http://127.0.0.1:") && url.contains("/open?secret="), "{line:?}");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { child, url, origin, runtime, client }
    }

    /// Sends `method path` with `headers` (and `body`) and reads the whole answer.
    fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.origin) };
        let mut request = self.client.request(method, url).body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.runtime.block_on(async {
            let response = request.send().await.expect("the page answers");
            let (status, headers) = (response.status(), response.headers().clone());
            Answer { status, headers, body: response.text().await.unwrap() }
        })
    }

    /// The session cookie, from the one-time URL.
    fn sign_in(&self) -> String {
        let answer = self.send(Method::GET, &self.url.clone(), &[], "");
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{answer:?}");
        assert_eq!(answer.header("location"), "/");
        answer.header("set-cookie").split(';').next().unwrap().to_string()
    }

    /// A signed-in `GET`.
    fn get(&self, cookie: &str, path: &str) -> Answer {
        self.send(Method::GET, path, &[("cookie", cookie)], "")
    }

    /// A signed-in `POST` from the page itself.
    fn post(&self, cookie: &str, path: &str, body: &str) -> Answer {
        let origin = self.origin.clone();
        self.send(Method::POST, path, &[("cookie", cookie), ("origin", &origin)], body)
    }

    /// Waits for the server to stop; its status, how long it took and what it logged.
    fn wait_exit(&mut self) -> (ExitStatus, Duration, String) {
        let start = Instant::now();
        let status = poll(
            "the page server's exit",
            PATIENCE,
            Duration::from_millis(20),
            || self.child.try_wait().unwrap(),
            Option::is_some,
        );
        let mut logged = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut logged).unwrap();
        (status.unwrap(), start.elapsed(), logged)
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first line the page server printed.
fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    line
}

/// Each reply line of a streamed answer.
fn lines(answer: &Answer) -> Vec<Value> {
    answer.body.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn the_link_opens_the_page_once_and_every_request_needs_its_cookie() {
    let device = Device::new();
    let mut page = Page::open(&device, &[]);
    let cookie = page.sign_in();
    let again = page.send(Method::GET, &page.url.clone(), &[], "");
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.body.contains("This link was already used. Open Self Service again."), "{}", again.body);

    let shown = page.get(&cookie, "/");
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("id=\"catalog\"") && shown.header("content-type").starts_with("text/html"));
    for (header, value) in
        [("x-content-type-options", "nosniff"), ("referrer-policy", "no-referrer"), ("cache-control", "no-store")]
    {
        assert_eq!(shown.header(header), value, "{header}");
    }
    assert!(shown.header("content-security-policy").starts_with("default-src 'none'; script-src 'self';"));
    assert_eq!(page.get(&cookie, "/assets/page.js").status, StatusCode::OK);
    assert_eq!(page.get(&cookie, "/assets/page.css").header("content-type"), "text/css; charset=utf-8");

    let without = page.send(Method::GET, "/", &[], "");
    assert_eq!(
        (without.status, without.header("content-type")),
        (StatusCode::UNAUTHORIZED, "text/html; charset=utf-8")
    );
    assert!(without.header("content-security-policy").contains("frame-ancestors 'none'"), "every answer");
    let forged = page.get("self_service=forged", "/api/catalog");
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert!(forged.json()["error"].is_string(), "{}", forged.body);

    page.child.kill().unwrap();
    let (_, _, logged) = page.wait_exit();
    let secret = page.url.split("secret=").nth(1).unwrap();
    let token = cookie.split('=').nth(1).unwrap();
    assert!(logged.contains("path=\"/api/catalog\"") && logged.contains("no valid session cookie"), "{logged}");
    assert!(logged.contains("one-time secret is wrong or already used"), "{logged}");
    assert!(!logged.contains(secret) && !logged.contains(token), "never a secret in the log: {logged}");
}

#[test]
fn a_foreign_host_or_origin_is_refused() {
    let device = Device::new();
    let page = Page::open(&device, &[]);
    let cookie = page.sign_in();
    let port = page.origin.rsplit(':').next().unwrap().to_string();

    for host in [format!("attacker.example:{port}"), format!("localhost:{port}")] {
        let answer = page.send(Method::GET, "/", &[("cookie", &cookie), ("host", &host)], "");
        assert_eq!(answer.status, StatusCode::MISDIRECTED_REQUEST, "{host}");
    }
    let cross_site = [vec![("origin", "http://attacker.example")], vec![("origin", "null")], vec![]];
    for origin in cross_site {
        let mut headers = origin.clone();
        headers.push(("cookie", &cookie));
        let answer = page.send(Method::POST, "/api/sync", &headers, "");
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{origin:?}");
        assert!(answer.json()["error"].as_str().unwrap().contains("did not come from the Self Service page"));
    }
}

#[test]
fn without_a_daemon_the_page_says_the_service_is_not_running() {
    let device = Device::new();
    let page = Page::open(&device, &[]);
    let cookie = page.sign_in();
    for (method, path) in [(Method::GET, "/api/catalog"), (Method::GET, "/api/device"), (Method::POST, "/api/sync")] {
        let answer = if method == Method::GET { page.get(&cookie, path) } else { page.post(&cookie, path, "") };
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(answer.json()["error"].as_str().unwrap().contains("the agent's service is not running"), "{path}");
    }
}

#[test]
fn the_page_lists_the_catalog_and_device_info_installs_and_syncs_through_the_daemon() {
    let device = Device::new();
    let path = offering_blueprint(&device);
    let _daemon = daemon_after_first_run(&device, &path);
    let page = Page::open(&device, &[]);
    let cookie = page.sign_in();

    let catalog = page.get(&cookie, "/api/catalog");
    assert_eq!((catalog.status, catalog.header("content-type")), (StatusCode::OK, "application/json"));
    let offered: Vec<Value> = catalog.json()["items"].as_array().unwrap().clone();
    let ids: Vec<(&str, &str)> =
        offered.iter().map(|item| (item["id"].as_str().unwrap(), item["state"].as_str().unwrap())).collect();
    assert_eq!(ids, [("tool", "not_installed"), ("offered", "installed")], "{offered:#?}");
    let device_info = page.get(&cookie, "/api/device").json();
    assert_eq!(device_info["last_outcome"], "succeeded", "{device_info:#}");
    assert!(device_info.get("serial_number").is_some(), "{device_info:#}");

    let installed = page.post(&cookie, "/api/install", &json!({ "item": "tool" }).to_string());
    assert_eq!((installed.status, installed.header("content-type")), (StatusCode::OK, "application/x-ndjson"));
    let replies = lines(&installed);
    assert!(replies[..replies.len() - 1].iter().all(|reply| reply["reply"] == "progress"), "{replies:#?}");
    let last = replies.last().unwrap();
    assert_eq!((last["reply"].as_str(), last["run"]["outcome"].as_str()), (Some("finished"), Some("succeeded")));
    assert!(device.root().join("installed").exists(), "the item ran");
    let runs = runs(&device);
    let user = own_user();
    assert_eq!(runs.last().unwrap()["requested_by"].as_str(), Some(user.as_str()), "asked as this user");

    let synced = page.post(&cookie, "/api/sync", "");
    let last = lines(&synced).pop().unwrap();
    assert_eq!((last["run"]["kind"].as_str(), last["run"]["trigger"].as_str()), (Some("daily"), Some("self_service")));
    assert_eq!(page.post(&cookie, "/api/install", "{\"item\":").status, StatusCode::BAD_REQUEST);
    let huge = json!({ "item": "x".repeat(5000) }).to_string();
    assert_eq!(page.post(&cookie, "/api/install", &huge).status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn the_updates_and_update_now_go_through_the_daemon_behind_the_same_checks() {
    let device = Device::new();
    let mut os = script("os", "macOS Sequoia", "#!/bin/sh\ntouch \"$AGENT_ROOT/updated\"\n");
    os["frequency"] = json!("no_enforcement");
    let _daemon = daemon_after_first_run(&device, &device.write_blueprint(&blueprint(vec![os])));
    let page = Page::open(&device, &[]);
    let cookie = page.sign_in();
    assert_eq!(page.get(&cookie, "/api/updates").json(), json!({ "updates": [] }));
    let work = endpoint_agent::state::PendingWork {
        deadline: None,
        state: "waiting for the person to install it".into(),
        ..pending_os_update("os", "macOS Sequoia", None)
    };
    save_pending_work(&device, &work);

    assert_eq!(page.send(Method::GET, "/api/updates", &[], "").status, StatusCode::UNAUTHORIZED);
    let body = json!({ "item": "os" }).to_string();
    let foreign = [("cookie", cookie.as_str()), ("origin", "http://attacker.example")];
    assert_eq!(page.send(Method::POST, "/api/update", &foreign, &body).status, StatusCode::FORBIDDEN);
    assert!(!device.root().join("updated").exists(), "nothing ran for a refused request");
    let listed = page.get(&cookie, "/api/updates").json();
    let expected = json!([{ "id": "os", "name": "macOS Sequoia", "action": work.action, "deadline": null,
                            "state": "waiting for the person to install it" }]);
    assert_eq!(listed["updates"], expected);

    let updated = page.post(&cookie, "/api/update", &body);
    assert_eq!((updated.status, updated.header("content-type")), (StatusCode::OK, "application/x-ndjson"));
    let last = lines(&updated).pop().unwrap();
    let run = &last["run"];
    assert_eq!((run["kind"].as_str(), run["requested_by"].as_str()), (Some("self_service"), Some(own_user().as_str())));
    assert!(device.root().join("updated").exists(), "the item ran");
    crate::support::store(&device).clear_pending_work("os").unwrap();
    let refused = lines(&page.post(&cookie, "/api/update", &body)).pop().unwrap();
    assert_eq!(refused["reply"], "failed", "{refused}");
    assert!(refused["message"].as_str().unwrap().starts_with("nothing is waiting for \"macOS Sequoia\""), "{refused}");
    assert_eq!(page.post(&cookie, "/api/update", "{\"item\": 1}").status, StatusCode::BAD_REQUEST);
}

#[test]
fn the_server_stops_when_the_page_is_closed_or_left_idle_or_on_sigterm() {
    let device = Device::new();
    let mut page = Page::open(&device, &["--closed-grace", "200ms"]);
    let cookie = page.sign_in();
    assert_eq!(page.get(&cookie, "/api/ping").status, StatusCode::NO_CONTENT);
    assert_eq!(page.post(&cookie, "/api/closed", "").status, StatusCode::NO_CONTENT);
    let (status, _, logged) = page.wait_exit();
    assert!(status.success(), "{status:?}: {logged}");

    let mut page = Page::open(&device, &["--idle-limit", "300ms"]);
    let (status, waited, logged) = page.wait_exit();
    assert!(status.success(), "{status:?}: {logged}");
    assert!(waited >= Duration::from_millis(200), "not before the idle limit: {waited:?}");

    let mut page = Page::open(&device, &[]);
    page.sign_in();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(page.child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .unwrap();
    let (status, _, logged) = page.wait_exit();
    assert!(status.success(), "SIGTERM stops it cleanly: {status:?}: {logged}");
}

#[test]
fn an_install_goes_on_when_the_page_goes_away_and_the_server_waits_for_it() {
    let device = Device::new();
    let mut slow = script("slow", "Slow", "#!/bin/sh\ntest -f \"$AGENT_ROOT/installed\"\n");
    slow["remediation"] = json!("#!/bin/sh\nsleep 1\ntouch \"$AGENT_ROOT/installed\"\n");
    slow["frequency"] = json!("self_service");
    slow["self_service"] = json!({ "category": "Tools" });
    let path = device.write_blueprint(&blueprint(vec![slow]));
    let blueprint_file = setting("blueprint_file", &path);
    let _daemon =
        Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h", &blueprint_file]);
    wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));
    let mut page = Page::open(&device, &["--closed-grace", "100ms"]);
    let cookie = page.sign_in();

    let origin = page.origin.clone();
    let request = page
        .client
        .post(format!("{origin}/api/install"))
        .header("cookie", &cookie)
        .header("origin", &origin)
        .body(json!({ "item": "slow" }).to_string());
    page.runtime.block_on(async {
        let mut response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let first = response.chunk().await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("\"reply\":\"progress\""), "{first:?}");
        // The page goes away mid-install.
    });
    assert_eq!(page.post(&cookie, "/api/closed", "").status, StatusCode::NO_CONTENT);

    let (status, _, logged) = page.wait_exit();
    assert!(status.success(), "{status:?}: {logged}");
    assert!(device.root().join("installed").exists(), "the install ran to its end before the server stopped");
    let last = runs(&device).pop().unwrap();
    assert_eq!(
        (last["kind"].as_str(), last["outcome"].as_str()),
        (Some("self_service"), Some("succeeded")),
        "{last:#}"
    );
}

#[test]
fn the_browser_is_given_a_private_file_never_the_secret() {
    let device = Device::new();
    let opener = device.write_file(
        "bin/open",
        "#!/bin/sh\necho \"$@\" > \"$AGENT_ROOT/opener-arguments\"\ncat \"$1\" > \"$AGENT_ROOT/opening\"\n\
         mv \"$AGENT_ROOT/opening\" \"$AGENT_ROOT/opened.html\"\n",
    );
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let open_url = setting("commands.open_url", &opener);
    let arguments = ["--set", &open_url, "self-service", "open", "--closed-grace", "1ms"];
    let mut page = Page::start(device.agent().args(arguments), |_| {
        let opened = device.wait_for_file("opened.html", PATIENCE);
        let forwarding = std::fs::read_to_string(opened).unwrap();
        forwarding.split("url=").nth(1).unwrap().split('"').next().unwrap().to_string()
    });
    let arguments = std::fs::read_to_string(device.root().join("opener-arguments")).unwrap();
    let secret = page.url.split("secret=").nth(1).unwrap().to_string();
    assert!(!arguments.contains(&secret) && arguments.trim_end().ends_with("/open.html"), "{arguments}");
    let cookie = page.sign_in();
    assert_eq!(page.post(&cookie, "/api/closed", "").status, StatusCode::NO_CONTENT);
    let (status, _, logged) = page.wait_exit();
    assert!(status.success(), "{status:?}: {logged}");
    assert!(!Path::new(arguments.trim_end()).exists(), "the forwarding file goes with the server");

    std::fs::write(&opener, "#!/bin/sh\nexit 3\n").unwrap();
    let page = Page::start(device.agent().args(["--set", &open_url, "self-service", "open"]), |child| {
        let line = first_line(child);
        assert!(line.starts_with("Open this address in your browser: http://127.0.0.1:"), "{line}");
        line
    });
    page.sign_in();
}

#[test]
fn a_person_without_admin_rights_installs_through_their_own_page() {
    if !running_as_root("dropping to nobody") {
        return;
    }
    let device = Device::new();
    let _daemon = daemon_after_first_run(&device, &offering_blueprint(&device));
    open_to_nobody(&device);
    let mut command = device.agent();
    as_nobody(command.args(["self-service", "open", "--no-browser"]).current_dir("/"));
    let page = Page::start(&mut command, first_line);
    let cookie = page.sign_in();

    let catalog = page.get(&cookie, "/api/catalog");
    assert_eq!(catalog.status, StatusCode::OK, "{}", catalog.body);
    let installed = page.post(&cookie, "/api/install", &json!({ "item": "tool" }).to_string());
    let last = lines(&installed).pop().unwrap();
    assert_eq!((last["reply"].as_str(), last["run"]["requested_by"].as_str()), (Some("finished"), Some("nobody")));
    assert!(device.root().join("installed").exists(), "the item ran");
}

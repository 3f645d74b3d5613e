//! The command channel, `GET /api/v1/agent/commands?wait=S`: a held request is
//! answered when an action is queued, an idle one with `204` after `wait`; what the
//! channel offered the next check-in still delivers, once; what a check-in
//! delivered is never offered; the same tokens as the blueprint `GET`; shutdown
//! ends held requests at once; a restart keeps every command's state; and a tenant
//! without the channel answers `404`.
//!
//! Tenants run as the real binary (`support::Tenant`) or, where a test must see
//! that a request is held or must shut the tenant down, in process.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use endpoint_tenant::{RunningTenant, Seed, Settings};
use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, DEVICE_TOKEN, ENROLLMENT_SECRET, TOKEN, Tenant, seed};

/// Longer than any `wait` a test asks for, so only the tenant ends a request.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

/// A `wait` no test sits through: a request that comes back carrying a command was woken.
const LONG_WAIT: &str = "300";

/// What the channel answered.
#[derive(Debug)]
struct Poll {
    status: u16,
    /// The JSON body, `Value::Null` when there was none.
    body: Value,
    /// The `X-Device-Token` header.
    rotated: Option<String>,
}

impl Poll {
    /// The ids of the commands offered.
    fn ids(&self) -> Vec<&str> {
        self.body["commands"].as_array().map(|list| list.iter().filter_map(|c| c["id"].as_str()).collect()).unwrap()
    }
}

/// A client for one tenant, by URL, for the binary and the in-process tenant alike.
struct Api {
    client: Client,
    url: String,
}

impl Api {
    fn new(url: &str) -> Self {
        let client = Client::builder().timeout(CLIENT_TIMEOUT).build().expect("a client");
        Self { client, url: url.to_owned() }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url))
    }

    /// `GET /api/v1/agent/commands?{query}` with `token`.
    fn poll(&self, token: &str, query: &str) -> Poll {
        self.send(self.request(Method::GET, &format!("/api/v1/agent/commands?{query}")).bearer_auth(token))
    }

    fn send(&self, request: RequestBuilder) -> Poll {
        let response = request.send().expect("the tenant answers");
        let status = response.status().as_u16();
        let rotated = response.headers().get("x-device-token").map(|value| value.to_str().unwrap().to_owned());
        let text = response.text().expect("a body");
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("a JSON body") };
        Poll { status, body, rotated }
    }

    /// Queues `action` for `device` as an admin; the command's id.
    fn queue(&self, device: &str, action: &str) -> String {
        let request = self.request(Method::POST, &format!("/api/v1/devices/{device}/action/{action}"));
        let reply = self.send(request.bearer_auth(ADMIN_TOKEN).json(&json!({})));
        assert_eq!(reply.status, 202, "{reply:?}");
        reply.body["id"].as_str().expect("an id").to_owned()
    }

    /// Checks `device` in with the fleet token; the ids of the commands handed over.
    fn checkin(&self, device: &str) -> Vec<String> {
        let request = self.request(Method::POST, "/api/v1/agent/checkin").bearer_auth(TOKEN);
        let reply = self.send(request.json(&json!({ "device_id": device, "kind": "recurring" })));
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.ids().into_iter().map(str::to_owned).collect()
    }

    /// The devices API's command list of `device`.
    fn listed(&self, device: &str) -> Vec<Value> {
        let request = self.request(Method::GET, &format!("/api/v1/devices/{device}/commands"));
        let reply = self.send(request.bearer_auth(ADMIN_TOKEN));
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body["commands"].as_array().expect("a list").clone()
    }
}

/// A tenant started through the library, in this process.
struct InProcess {
    runtime: tokio::runtime::Runtime,
    tenant: RunningTenant,
    api: Api,
}

impl InProcess {
    fn start(settings: Settings) -> Self {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let tenant = runtime.block_on(endpoint_tenant::start(listener, settings)).expect("it starts");
        let api = Api::new(&tenant.url());
        Self { runtime, tenant, api }
    }

    /// Returns once `count` command-channel requests are held (or fails after a while).
    fn wait_until_held(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.tenant.held_command_requests() != count {
            assert!(Instant::now() < deadline, "{count} request(s) never held");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn shutdown(self) -> anyhow::Result<()> {
        self.runtime.block_on(self.tenant.shutdown())
    }
}

/// Tokens for the in-process tenant, the same as the binary's; a database file if given.
fn settings(database: Option<&Path>) -> Settings {
    let seed = Seed {
        tokens: vec![TOKEN.to_owned()],
        admin_tokens: vec![ADMIN_TOKEN.to_owned()],
        device_tokens: [("DEVICE-1".to_owned(), DEVICE_TOKEN.to_owned())].into(),
        blueprint: Some(json!({ "id": "bp-channel", "name": "Channel", "library_items": [] })),
        ..Seed::default()
    };
    Settings { seed, database: database.map(Path::to_path_buf), ..Settings::default() }
}

#[test]
fn a_held_request_is_answered_when_a_command_is_queued_for_its_device() {
    let tenant = InProcess::start(settings(None));
    let api = &tenant.api;
    let (answered, other, queued_at, id) = std::thread::scope(|scope| {
        let held = scope.spawn(|| (api.poll(TOKEN, &format!("device_id=DEVICE-1&wait={LONG_WAIT}")), Instant::now()));
        let other = scope.spawn(|| {
            let started = Instant::now();
            (api.poll(TOKEN, "device_id=DEVICE-2&wait=2"), started.elapsed())
        });
        tenant.wait_until_held(2);
        let queued_at = Instant::now();
        let id = api.queue("DEVICE-1", "blankpush");
        (held.join().expect("the held request"), other.join().expect("the other"), queued_at, id)
    });
    let (reply, answered_at) = answered;
    assert_eq!((reply.status, &reply.body), (200, &json!({ "commands": [{ "id": id, "type": "blankpush" }] })));
    let latency = answered_at - queued_at;
    assert!(latency < Duration::from_secs(60), "woken by the action, not by `wait`: {latency:?}");
    let (reply, waited) = other;
    assert_eq!((reply.status, reply.body), (204, Value::Null), "another device's command does not answer it");
    assert!(waited >= Duration::from_secs(2), "held for its `wait`: {waited:?}");
    assert_eq!(tenant.tenant.held_command_requests(), 0);
    tenant.shutdown().expect("a clean shutdown");
}

#[test]
fn an_idle_request_ends_with_204_after_wait_and_carries_a_rotated_token() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    let api = Api::new(&tenant.url);
    let enroll = api.request(Method::POST, "/api/v1/agent/enroll").bearer_auth(ENROLLMENT_SECRET);
    let issued = api.send(enroll.json(&json!({ "device_id": "DEVICE-7" })));
    let old = issued.body["device_token"].as_str().expect("a device token").to_owned();
    let rotate = api.request(Method::POST, "/api/v1/devices/DEVICE-7/token/rotate").bearer_auth(ADMIN_TOKEN);
    assert_eq!(api.send(rotate.json(&json!({}))).status, 202);

    let started = Instant::now();
    let idle = api.poll(&old, "wait=1");
    let waited = started.elapsed();
    assert_eq!((idle.status, &idle.body), (204, &Value::Null), "the device token names its device");
    assert!(waited >= Duration::from_secs(1) && waited < CLIENT_TIMEOUT, "about `wait`: {waited:?}");
    let new = idle.rotated.expect("the rotated token rides on the 204");
    assert_ne!(new, old);

    let id = api.queue("DEVICE-7", "updateinventory");
    let offered = api.poll(&old, "wait=0");
    assert_eq!((offered.status, offered.ids()), (200, vec![id.as_str()]));
    assert_eq!(offered.rotated, Some(new.clone()), "and on the 200");
    let in_use = api.poll(&new, "wait=0");
    assert_eq!((in_use.status, in_use.rotated), (204, None), "the new token is in use");
}

#[test]
fn a_command_offered_on_the_channel_is_delivered_once_more_by_the_next_check_in() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    let api = Api::new(&tenant.url);
    tenant.set_now("2026-03-01T10:00:00Z");
    let ids = [api.queue("DEVICE-1", "blankpush"), api.queue("DEVICE-1", "updateinventory")];
    let offered = api.poll(TOKEN, "device_id=DEVICE-1&wait=0");
    assert_eq!(offered.status, 200);
    assert_eq!(offered.body["commands"][1], json!({ "id": ids[1], "type": "updateinventory" }), "in queue order");
    assert_eq!(offered.ids(), ids);
    assert_eq!(api.poll(TOKEN, "device_id=DEVICE-1&wait=0").status, 204, "offered once");
    for command in api.listed("DEVICE-1") {
        assert_eq!((&command["offered_at"], &command["delivered_at"]), (&json!("2026-03-01T10:00:00Z"), &Value::Null));
    }

    tenant.set_now("2026-03-01T10:15:00Z");
    assert_eq!(api.checkin("DEVICE-1"), ids, "the check-in still delivers what was offered");
    assert_eq!(api.checkin("DEVICE-1"), Vec::<String>::new(), "once");
    assert_eq!(api.poll(TOKEN, "device_id=DEVICE-1&wait=0").status, 204);
    for command in api.listed("DEVICE-1") {
        assert_eq!(command["offered_at"], "2026-03-01T10:00:00Z");
        assert_eq!(command["delivered_at"], "2026-03-01T10:15:00Z");
        assert_eq!(command["queued_at"], "2026-03-01T10:00:00Z");
    }
}

#[test]
fn a_command_a_check_in_delivered_is_never_offered_on_the_channel() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    let api = Api::new(&tenant.url);
    let delivered = api.queue("DEVICE-1", "dailycheckin");
    assert_eq!(api.checkin("DEVICE-1"), [delivered.as_str()]);
    assert_eq!(api.poll(TOKEN, "device_id=DEVICE-1&wait=0").status, 204);
    let later = api.queue("DEVICE-1", "blankpush");
    assert_eq!(api.poll(TOKEN, "device_id=DEVICE-1&wait=1").ids(), [later.as_str()], "only the new one");
    let listed = api.listed("DEVICE-1");
    assert_eq!((&listed[0]["id"], &listed[0]["offered_at"]), (&json!(delivered), &Value::Null));
    assert!(listed[1]["offered_at"].is_string(), "{listed:?}");
}

#[test]
fn only_an_agent_token_for_the_device_may_ask() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    let api = Api::new(&tenant.url);
    api.queue("DEVICE-2", "blankpush");
    let forbidden = api.poll(DEVICE_TOKEN, "device_id=DEVICE-2&wait=0");
    assert_eq!(forbidden.status, 403, "DEVICE-1's token: {forbidden:?}");
    assert!(forbidden.body["error"].as_str().unwrap().contains("another device"), "{forbidden:?}");
    let by_header = api.request(Method::GET, "/api/v1/agent/commands?wait=0").header("X-Device-Id", "DEVICE-2");
    assert_eq!(api.send(by_header.bearer_auth(DEVICE_TOKEN)).status, 403);
    for refused in [ADMIN_TOKEN, ENROLLMENT_SECRET] {
        assert_eq!(api.poll(refused, "device_id=DEVICE-2&wait=0").status, 403, "{refused}");
    }
    assert_eq!(api.send(api.request(Method::GET, "/api/v1/agent/commands?device_id=DEVICE-2")).status, 401);
    assert_eq!(api.listed("DEVICE-2")[0]["offered_at"], Value::Null, "nothing was handed out");

    let unnamed = api.poll(TOKEN, "wait=0");
    assert_eq!(unnamed.status, 400, "a fleet token must name the device: {unnamed:?}");
    assert_eq!(api.poll(TOKEN, "device_id=&wait=0").status, 400);
    assert_eq!(api.poll(DEVICE_TOKEN, "wait=0").status, 204, "its own device");
    let by_header = api.request(Method::GET, "/api/v1/agent/commands?wait=0").header("X-Device-Id", "DEVICE-2");
    assert_eq!(api.send(by_header.bearer_auth(TOKEN)).status, 200, "named by the header");
}

#[test]
fn wait_must_be_a_whole_number_of_seconds() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    let api = Api::new(&tenant.url);
    for bad in ["abc", "1.5", ""] {
        let refused = api.poll(TOKEN, &format!("device_id=DEVICE-1&wait={bad}"));
        assert_eq!(refused.status, 400, "wait={bad}");
        assert!(refused.body["error"].as_str().unwrap().contains("`wait`"), "{refused:?}");
    }
    assert_eq!(api.poll(TOKEN, "device_id=DEVICE-1&wait=-5").status, 204, "a negative wait is 0");
}

#[test]
fn shutdown_ends_a_held_request_at_once_and_cleanly() {
    let tenant = InProcess::start(settings(None));
    let api = Api::new(&tenant.api.url);
    let held = std::thread::spawn(move || api.poll(TOKEN, &format!("device_id=DEVICE-1&wait={LONG_WAIT}")));
    tenant.wait_until_held(1);
    let started = Instant::now();
    tenant.shutdown().expect("a clean shutdown: the held request did not hold it up");
    let took = started.elapsed();
    let reply = held.join().expect("the held request");
    assert_eq!(reply.status, 503, "{reply:?} after {took:?}");
    assert!(reply.body["error"].as_str().unwrap().contains("shutting down"), "{reply:?}");
}

#[test]
fn a_restarted_tenant_keeps_what_was_queued_offered_and_delivered() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let database = directory.path().join("tenant.sqlite");
    let tenant = InProcess::start(settings(Some(&database)));
    let delivered = tenant.api.queue("DEVICE-1", "dailycheckin");
    assert_eq!(tenant.api.checkin("DEVICE-1"), [delivered.as_str()]);
    let offered = tenant.api.queue("DEVICE-1", "blankpush");
    assert_eq!(tenant.api.poll(TOKEN, "device_id=DEVICE-1&wait=0").ids(), [offered.as_str()]);
    let queued = tenant.api.queue("DEVICE-1", "updateinventory");
    tenant.shutdown().expect("a clean shutdown");

    let tenant = InProcess::start(settings(Some(&database)));
    assert_eq!(tenant.api.poll(TOKEN, "device_id=DEVICE-1&wait=0").ids(), [queued.as_str()], "only the new one");
    assert_eq!(tenant.api.poll(TOKEN, "device_id=DEVICE-1&wait=0").status, 204);
    assert_eq!(tenant.api.checkin("DEVICE-1"), [offered, queued], "not the one delivered before the restart");
    let listed = tenant.api.listed("DEVICE-1");
    assert_eq!(listed[0]["offered_at"], Value::Null);
    assert!(listed.iter().all(|command| command["delivered_at"].is_string()), "{listed:?}");
    tenant.shutdown().expect("a clean shutdown");
}

#[test]
fn a_database_file_from_before_the_channel_gets_its_column_and_keeps_its_commands() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let database = directory.path().join("old.sqlite");
    let old = rusqlite::Connection::open(&database).expect("a database file");
    old.execute_batch(
        "CREATE TABLE commands (sequence INTEGER PRIMARY KEY AUTOINCREMENT, command_id TEXT NOT NULL UNIQUE,
            device_id TEXT NOT NULL, type TEXT NOT NULL, queued_at TEXT NOT NULL, delivered_at TEXT);
         INSERT INTO commands (command_id, device_id, type, queued_at)
            VALUES ('cmd-1', 'DEVICE-1', 'blankpush', '2026-01-01T00:00:00Z');",
    )
    .expect("the old schema");
    drop(old);
    let tenant = Tenant::start(directory.path(), seed(), &["--database", database.to_str().expect("UTF-8")]);
    let api = Api::new(&tenant.url);
    assert_eq!(api.poll(TOKEN, "device_id=DEVICE-1&wait=0").ids(), ["cmd-1"]);
    assert!(api.listed("DEVICE-1")[0]["offered_at"].is_string());
    assert_eq!(api.checkin("DEVICE-1"), ["cmd-1"]);
    assert_eq!(api.queue("DEVICE-1", "blankpush"), "cmd-2", "new commands follow the old ones");
}

#[test]
fn a_tenant_without_the_channel_answers_404_as_for_an_unknown_route() {
    assert!(!Settings::default().without_command_channel, "offered by default");
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &["--no-command-channel"]);
    let api = Api::new(&tenant.url);
    let id = api.queue("DEVICE-1", "blankpush");
    let absent = api.poll(TOKEN, "device_id=DEVICE-1&wait=1");
    let unknown = api.send(api.request(Method::GET, "/api/v1/agent/unknown?wait=1").bearer_auth(TOKEN));
    assert_eq!((absent.status, &absent.body), (404, &unknown.body), "{unknown:?}");
    assert_eq!(api.checkin("DEVICE-1"), [id], "the check-in delivers as before");

    let in_process = InProcess::start(Settings { without_command_channel: true, ..settings(None) });
    assert_eq!(in_process.api.poll(TOKEN, "device_id=DEVICE-1&wait=1").status, 404);
    in_process.shutdown().expect("a clean shutdown");
}

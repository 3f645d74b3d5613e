//! The reference tenant in this process: started on 127.0.0.1 with its own SQLite
//! file, stopped, started again on the same port and file, and read back through
//! its devices API; and the agent verbs the end-to-end tests drive.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use endpoint_tenant::{RunningTenant, Seed, Settings};
use serde_json::{Value, json};

use crate::support::{Device, PATIENCE, code, poll, text};

/// The fleet-wide agent token the tenant starts with (what `agent enroll` sets).
pub const TOKEN: &str = "e2e-tenant-token";

/// The admin token the devices API is read with (added to every seed).
pub const ADMIN_TOKEN: &str = "e2e-admin-token";

/// The enrollment secret the tenant starts with (`Tenant::start`).
pub const ENROLLMENT_SECRET: &str = "e2e-enrollment-secret";

/// A reference tenant running in this process, shut down when dropped.
pub struct Tenant {
    runtime: tokio::runtime::Runtime,
    running: Option<RunningTenant>,
    address: SocketAddr,
    settings: Settings,
    http: reqwest::Client,
    _folder: tempfile::TempDir,
}

impl Tenant {
    /// A tenant serving `blueprint` to every device, accepting [`TOKEN`] and
    /// enrolling devices with [`ENROLLMENT_SECRET`].
    pub fn start(blueprint: Value) -> Self {
        Self::start_with(usual_seed(blueprint))
    }

    /// A tenant with this seed (agent versions, per-device blueprints, ...) and
    /// [`ADMIN_TOKEN`], its database in a folder of its own, on a free port of 127.0.0.1.
    pub fn start_with(seed: Seed) -> Self {
        Self::start_with_settings(Settings { seed, ..Settings::default() })
    }

    /// A tenant like [`Tenant::start`] without the command channel: its
    /// `GET /api/v1/agent/commands` answers `404`, as a tenant that predates it.
    pub fn start_without_command_channel(blueprint: Value) -> Self {
        let seed = usual_seed(blueprint);
        Self::start_with_settings(Settings { seed, without_command_channel: true, ..Settings::default() })
    }

    /// A tenant with these settings, [`ADMIN_TOKEN`] added to their seed and its
    /// database in a folder of its own.
    fn start_with_settings(mut settings: Settings) -> Self {
        settings.seed.admin_tokens.push(ADMIN_TOKEN.to_string());
        let folder = tempfile::tempdir().expect("a folder for the tenant's database");
        settings.database = Some(folder.path().join("tenant.sqlite"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the tenant");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let address = listener.local_addr().expect("the bound address");
        let mut tenant =
            Self { runtime, running: None, address, settings, http: reqwest::Client::new(), _folder: folder };
        tenant.serve(listener);
        tenant
    }

    fn serve(&mut self, listener: TcpListener) {
        let started = self.runtime.block_on(endpoint_tenant::start(listener, self.settings.clone()));
        self.running = Some(started.expect("the tenant starts"));
    }

    /// `http://127.0.0.1:PORT`, the same across restarts.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Shuts the tenant down gracefully: its port refuses connections afterwards.
    pub fn stop(&mut self) {
        let running = self.running.take().expect("the tenant is running");
        self.runtime.block_on(running.shutdown()).expect("a graceful shutdown");
    }

    /// Starts it again on the same port and SQLite file, with the seed as `change` leaves it.
    pub fn restart(&mut self, change: impl FnOnce(&mut Seed)) {
        if self.running.is_some() {
            self.stop();
        }
        change(&mut self.settings.seed);
        let start = Instant::now();
        let listener = loop {
            match TcpListener::bind(self.address) {
                Ok(listener) => break listener,
                Err(error) => {
                    assert!(start.elapsed() < PATIENCE, "cannot listen on {} again: {error}", self.address)
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.serve(listener);
    }

    /// How many command-channel requests (`GET /api/v1/agent/commands`) it holds
    /// open now; 0 while it is stopped.
    pub fn held_command_requests(&self) -> usize {
        self.running.as_ref().map_or(0, RunningTenant::held_command_requests)
    }

    /// `GET` on the devices API with the admin token; the JSON reply.
    pub fn get(&self, path: &str) -> Value {
        let (status, reply) = self.request(reqwest::Method::GET, path);
        assert_eq!(status, 200, "GET {path}: {reply}");
        reply
    }

    /// Queues `action` for the device through the devices API; the queued command.
    pub fn queue_action(&self, device_id: &str, action: &str) -> Value {
        let path = format!("/api/v1/devices/{device_id}/action/{action}");
        let (status, reply) = self.request(reqwest::Method::POST, &path);
        assert_eq!(status, 202, "POST {path}: {reply}");
        reply
    }

    /// Rotates the device's issued token through the devices API.
    pub fn rotate_token(&self, device_id: &str) {
        let path = format!("/api/v1/devices/{device_id}/token/rotate");
        let (status, reply) = self.request(reqwest::Method::POST, &path);
        assert_eq!(status, 202, "POST {path}: {reply}");
    }

    /// Revokes the device's issued token through the devices API.
    pub fn revoke_token(&self, device_id: &str) {
        let path = format!("/api/v1/devices/{device_id}/token");
        let (status, reply) = self.request(reqwest::Method::DELETE, &path);
        assert_eq!(status, 204, "DELETE {path}: {reply}");
    }

    /// A request on the devices API with the admin token; the status and the JSON reply.
    pub fn request(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        self.request_with(ADMIN_TOKEN, method, path)
    }

    /// A request with `token`; the status and the JSON reply (`{}` as the body).
    pub fn request_with(&self, token: &str, method: reqwest::Method, path: &str) -> (u16, Value) {
        let request = self.http.request(method, format!("{}{path}", self.url())).bearer_auth(token).body("{}");
        self.runtime.block_on(async {
            let response = request.timeout(Duration::from_secs(10)).send().await.expect("the tenant answers");
            let status = response.status().as_u16();
            let bytes = response.bytes().await.expect("a whole reply");
            (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(text(&bytes))))
        })
    }

    /// The one device the tenant knows (each test enrolls one).
    pub fn device(&self) -> Value {
        let listed = self.get("/api/v1/devices");
        let devices = listed["devices"].as_array().expect("a device list");
        assert_eq!(devices.len(), 1, "one device: {listed:#}");
        devices[0].clone()
    }

    /// The device's id, as the agent reports it.
    pub fn device_id(&self) -> String {
        self.device()["device_id"].as_str().expect("a device id").to_string()
    }

    /// The device's check-ins, in arrival order.
    pub fn checkins(&self) -> Vec<Value> {
        self.list(&format!("/api/v1/devices/{}/checkins", self.device_id()), "checkins")
    }

    /// The device's stored reports of `kind` (`results`, `inventory`, `mdm`), in arrival order.
    pub fn reports(&self, kind: &str) -> Vec<Value> {
        self.list(&format!("/api/v1/devices/{}/reports/{kind}", self.device_id()), "reports")
    }

    /// The run ids of the results that arrived, in arrival order.
    pub fn result_run_ids(&self) -> Vec<String> {
        self.reports("results").iter().map(|report| report["report_id"].as_str().unwrap().to_string()).collect()
    }

    /// The device's commands, in the order they were queued.
    pub fn commands(&self) -> Vec<Value> {
        self.list(&format!("/api/v1/devices/{}/commands", self.device_id()), "commands")
    }

    fn list(&self, path: &str, key: &str) -> Vec<Value> {
        self.get(path)[key].as_array().cloned().unwrap_or_else(|| panic!("{path}: no {key} list"))
    }

    /// Polls until `done` holds (at most `limit`), reading the tenant with `read`.
    pub fn wait_for<T: std::fmt::Debug>(
        &self,
        limit: Duration,
        read: impl Fn(&Self) -> T,
        done: impl Fn(&T) -> bool,
    ) -> T {
        poll("the tenant", limit, Duration::from_millis(100), || read(self), done)
    }
}

impl Drop for Tenant {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.shutdown());
        }
    }
}

/// A seed serving `blueprint` to every device, accepting [`TOKEN`] and enrolling
/// devices with [`ENROLLMENT_SECRET`].
fn usual_seed(blueprint: Value) -> Seed {
    Seed {
        tokens: vec![TOKEN.to_string()],
        enrollment_secrets: vec![ENROLLMENT_SECRET.to_string()],
        blueprint: Some(blueprint),
        ..Seed::default()
    }
}

/// `agent enroll --url URL --token-file FILE`, asserting it succeeded.
pub fn enroll(device: &Device, url: &str, token: &str) {
    let output = crate::support::enroll(device, url, token);
    assert_eq!(code(&output), 0, "enroll failed: {}", text(&output.stderr));
}

/// The run's id.
pub fn run_id(run: &Value) -> String {
    run["id"].as_str().expect("a run id").to_string()
}

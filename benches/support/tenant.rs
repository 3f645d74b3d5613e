//! The reference tenant in the benchmark's own process, as the end-to-end tests
//! start it: on a free port of 127.0.0.1, its own SQLite file, one fleet-wide
//! agent token the scratch device enrolls with, and an admin token for its devices
//! API (actions, check-ins, reports), which the benchmarks read back to time and
//! check what the agent did.

// Each benchmark is its own crate and uses part of this module.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use endpoint_tenant::{RunningTenant, Seed, Settings};
use serde_json::{Value, json};

/// The fleet-wide agent token the device enrolls with.
const TOKEN: &str = "bench-tenant-token";

/// The admin token the devices API is used with.
const ADMIN_TOKEN: &str = "bench-admin-token";

/// How long one request to the devices API may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A reference tenant running in this process, shut down when dropped.
pub struct Tenant {
    runtime: tokio::runtime::Runtime,
    running: Option<RunningTenant>,
    http: reqwest::Client,
    _folder: tempfile::TempDir,
}

impl Tenant {
    /// A tenant serving `blueprint` to every device, on two threads of its own.
    pub fn start(blueprint: Value) -> Self {
        let folder = tempfile::Builder::new().prefix("endpoint-agent-bench-tenant.").tempdir().expect("a folder");
        let seed = Seed {
            tokens: vec![TOKEN.to_string()],
            admin_tokens: vec![ADMIN_TOKEN.to_string()],
            blueprint: Some(blueprint),
            ..Seed::default()
        };
        let settings = Settings { seed, database: Some(folder.path().join("tenant.sqlite")), ..Settings::default() };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the tenant");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let running = runtime.block_on(endpoint_tenant::start(listener, settings)).expect("the tenant starts");
        Self { runtime, running: Some(running), http: reqwest::Client::new(), _folder: folder }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.running.as_ref().expect("the tenant is running").url()
    }

    /// How many command-channel requests the tenant holds open right now.
    pub fn held_command_requests(&self) -> usize {
        self.running.as_ref().map_or(0, RunningTenant::held_command_requests)
    }

    /// Enrolls the scratch device `agent` runs on (`AGENT_ROOT` set) with the
    /// agent token, through `agent enroll --url URL --token-file FILE`; the token
    /// file is written at `token_file`.
    pub fn enroll(&self, mut agent: Command, token_file: &Path) {
        std::fs::write(token_file, format!("{TOKEN}\n")).expect("the token file");
        let output = agent
            .args(["enroll", "--url", &self.url(), "--token-file"])
            .arg(token_file)
            .stderr(Stdio::piped())
            .output()
            .expect("agent enroll starts");
        assert!(output.status.success(), "agent enroll failed: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// A request on the devices API with the admin token: the status and the JSON reply.
    pub fn request(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        let request = self.http.request(method, format!("{}{path}", self.url())).bearer_auth(ADMIN_TOKEN).body("{}");
        self.runtime.block_on(async {
            let response = request.timeout(REQUEST_TIMEOUT).send().await.expect("the tenant answers");
            let status = response.status().as_u16();
            let bytes = response.bytes().await.expect("a whole reply");
            (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes))))
        })
    }

    /// `GET path` on the devices API, which must answer 200.
    pub fn get(&self, path: &str) -> Value {
        let (status, reply) = self.request(reqwest::Method::GET, path);
        assert_eq!(status, 200, "GET {path}: {reply}");
        reply
    }

    /// The id of the one device the tenant knows, once it has checked in.
    pub fn device_id(&self) -> Option<String> {
        let listed = self.get("/api/v1/devices");
        let devices = listed["devices"].as_array()?;
        assert!(devices.len() <= 1, "one device at most: {listed:#}");
        Some(devices.first()?["device_id"].as_str()?.to_string())
    }

    /// The device's check-ins in arrival order, each with `received_at` and `kind`.
    pub fn checkins(&self, device_id: &str) -> Vec<Value> {
        self.list(&format!("/api/v1/devices/{device_id}/checkins"), "checkins")
    }

    /// The device's results reports in arrival order, each with `received_at` and
    /// the run as the agent recorded it under `body.run`.
    pub fn results(&self, device_id: &str) -> Vec<Value> {
        self.list(&format!("/api/v1/devices/{device_id}/reports/results"), "reports")
    }

    fn list(&self, path: &str, key: &str) -> Vec<Value> {
        let reply = self.get(path);
        reply[key].as_array().cloned().unwrap_or_else(|| panic!("{path}: no {key} list in {reply}"))
    }

    /// Polls `read` every `interval` until it gives something, for at most `limit`.
    pub fn wait_for<T>(&self, limit: Duration, interval: Duration, read: impl Fn(&Self) -> Option<T>) -> Option<T> {
        let start = Instant::now();
        loop {
            if let Some(found) = read(self) {
                return Some(found);
            }
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(interval);
        }
    }
}

impl Drop for Tenant {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.shutdown());
        }
    }
}

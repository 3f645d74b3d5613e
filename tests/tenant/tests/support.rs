//! A running tenant for the tests: the real `tenant` binary on 127.0.0.1 with a
//! free port, read from its first stdout line, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::blocking::{Client, RequestBuilder};

/// The fleet-wide agent token (acts for any device, never on the devices API).
pub(crate) const TOKEN: &str = "tenant-token";
pub(crate) const DEVICE_TOKEN: &str = "device-1-token";
/// The admin token: the devices API only.
pub(crate) const ADMIN_TOKEN: &str = "admin-token";
/// The enrollment secret: `/api/v1/agent/enroll` only.
pub(crate) const ENROLLMENT_SECRET: &str = "enrollment-secret";

/// The tenant process and a client pointed at it.
pub(crate) struct Tenant {
    child: Child,
    pub(crate) url: String,
    client: Client,
}

impl Tenant {
    /// Starts a tenant with the given seed, the test clock enabled, and extra flags.
    pub(crate) fn start(directory: &Path, seed: serde_json::Value, extra: &[&str]) -> Self {
        let mut flags = vec!["--test-clock"];
        flags.extend_from_slice(extra);
        Self::spawn(directory, seed, &flags)
    }

    /// Starts a tenant with the given seed and exactly the extra flags given.
    pub(crate) fn spawn(directory: &Path, seed: serde_json::Value, extra: &[&str]) -> Self {
        let seed_path = directory.join("seed.json");
        std::fs::write(&seed_path, seed.to_string()).expect("write the seed");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tenant"))
            .args(["--listen", "127.0.0.1:0", "--token", TOKEN, "--admin-token", ADMIN_TOKEN])
            .args(["--enrollment-secret", ENROLLMENT_SECRET, "--seed"])
            .arg(&seed_path)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the tenant");
        let stdout = child.stdout.take().expect("the tenant's stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the bound address");
        let url = line.trim().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "first line is the URL: {url:?}");
        let client = Client::builder().timeout(std::time::Duration::from_secs(10)).build().expect("a client");
        Self { child, url, client }
    }

    /// A devices API request with the admin token.
    pub(crate) fn admin_get(&self, path: &str) -> RequestBuilder {
        self.client.get(format!("{}{path}", self.url)).bearer_auth(ADMIN_TOKEN)
    }

    /// A devices API `POST` with the admin token.
    pub(crate) fn admin_post(&self, path: &str, body: serde_json::Value) -> RequestBuilder {
        self.client.post(format!("{}{path}", self.url)).bearer_auth(ADMIN_TOKEN).json(&body)
    }

    /// An agent request with the fleet-wide token.
    pub(crate) fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(format!("{}{path}", self.url)).bearer_auth(TOKEN)
    }

    pub(crate) fn post(&self, path: &str, body: serde_json::Value) -> RequestBuilder {
        self.client.post(format!("{}{path}", self.url)).bearer_auth(TOKEN).json(&body)
    }

    /// A request with no token at all.
    pub(crate) fn raw(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url))
    }

    pub(crate) fn set_now(&self, now: &str) {
        let response = self
            .client
            .put(format!("{}/api/v1/test/clock", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({ "now": now }))
            .send()
            .expect("set the clock");
        assert_eq!(response.status(), 200);
    }

    pub(crate) fn json(&self, request: RequestBuilder, status: u16) -> serde_json::Value {
        let response = request.send().expect("the tenant answers");
        assert_eq!(response.status().as_u16(), status, "status of {}", response.url());
        response.json().expect("a JSON reply")
    }
}

impl Drop for Tenant {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A seed with a default blueprint, one device's own blueprint and token, and versions.
pub(crate) fn seed() -> serde_json::Value {
    serde_json::json!({
        "device_tokens": { "DEVICE-1": DEVICE_TOKEN },
        "blueprint": { "id": "bp-default", "name": "Default", "library_items": [] },
        "device_blueprints": { "DEVICE-2": { "id": "bp-two", "name": "Two", "library_items": [] } },
        "minimum_agent_version": "0.2.0",
        "latest_agent": { "version": "0.3.0", "url": "http://127.0.0.1:1/agent.pkg", "sha256": "00" }
    })
}

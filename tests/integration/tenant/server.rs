//! A small test tenant on 127.0.0.1: speaks the agent side of the tenant protocol
//! just enough to test the client, and records every request it sees.
//!
//! On the tests' one accept loop ([`crate::test_server`]), so a test can make it
//! hang (accept and never answer) or talk garbage. One thread per connection.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::test_server::{Connection, Connections, Request, TestServer};

/// How the tenant answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// As the protocol says.
    Normal,
    /// Accepts connections and never answers.
    Hang,
    /// Answers `200` with a body that is not JSON.
    Garbage,
}

/// What the tenant serves and expects.
pub struct TenantState {
    /// The token it accepts.
    pub token: String,
    /// The blueprint it serves, and its ETag.
    pub blueprint: Value,
    pub etag: String,
    /// Commands handed out (then forgotten) with the next check-in.
    pub commands: Vec<Value>,
    /// Commands handed out with every check-in, each time with new ids (a
    /// misbehaving tenant that never clears them).
    pub every_checkin: Vec<String>,
    /// Commands for the check-ins to come, one list per check-in.
    pub next_checkins: std::collections::VecDeque<Vec<Value>>,
    pub behavior: Behavior,
    /// The status results are answered with.
    pub results_status: u16,
    /// The status MDM reports are answered with.
    pub mdm_status: u16,
    /// On the next `401`, write this file (path, contents) before answering: a
    /// rotated token landing while the agent talks to the tenant.
    pub rotate_on_refusal: Option<(std::path::PathBuf, String)>,
    /// `minimum_agent_version` in every check-in reply, when set.
    pub minimum_agent_version: Option<String>,
    /// `latest_agent` in every check-in reply, when set.
    pub latest_agent: Option<Value>,
    /// Files served at their path to anyone (no token): the agent's packages.
    pub files: Vec<(String, String)>,
    /// The message of a refused results report, instead of `run record rejected`.
    pub refusal_message: Option<String>,
    /// When set, served as the blueprint's body instead of `blueprint`: a body
    /// that is no JSON value (a plist, a hostile document).
    pub blueprint_body: Option<String>,
}

/// One request the tenant saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// The query string, without its `?`.
    pub query: String,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub if_none_match: Option<String>,
    pub body: String,
    /// The status it answered with (0 when it never answered).
    pub status: u16,
}

struct Shared {
    state: Mutex<TenantState>,
    seen: Mutex<Vec<Seen>>,
}

/// The running tenant; stopped when dropped.
pub struct TestTenant {
    server: TestServer,
    shared: Arc<Shared>,
}

impl TestTenant {
    /// Starts on a free port of 127.0.0.1, serving `blueprint` to holders of `token`.
    pub fn start(token: &str, blueprint: Value) -> Self {
        let state = TenantState {
            token: token.to_string(),
            blueprint,
            etag: "\"v1\"".to_string(),
            commands: Vec::new(),
            every_checkin: Vec::new(),
            next_checkins: Default::default(),
            behavior: Behavior::Normal,
            results_status: 200,
            mdm_status: 200,
            rotate_on_refusal: None,
            minimum_agent_version: None,
            latest_agent: None,
            files: Vec::new(),
            refusal_message: None,
            blueprint_body: None,
        };
        let shared = Arc::new(Shared { state: Mutex::new(state), seen: Mutex::new(Vec::new()) });
        let serving = shared.clone();
        let server = TestServer::start(Connections::Concurrent, move |request, connection| {
            answer(&request, connection, &serving)
        });
        Self { server, shared }
    }

    /// The base URL to configure as `tenant.url`.
    pub fn url(&self) -> String {
        self.server.base_url()
    }

    /// Changes what the tenant serves or how it behaves.
    pub fn change(&self, change: impl FnOnce(&mut TenantState)) {
        change(&mut self.shared.state.lock().unwrap());
    }

    /// Every request seen so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// The requests seen for `path`.
    pub fn seen_at(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|seen| seen.path == path).collect()
    }

    /// The JSON bodies accepted (answered `200`) at `path`, in arrival order.
    fn accepted(&self, path: &str) -> Vec<Value> {
        let accepted = self.seen_at(path).into_iter().filter(|seen| seen.status == 200);
        accepted.map(|seen| serde_json::from_str(&seen.body).unwrap()).collect()
    }

    /// The bodies of the inventory reports accepted, in arrival order.
    pub fn accepted_inventories(&self) -> Vec<Value> {
        self.accepted("/api/v1/agent/inventory")
    }

    /// The bodies of the MDM reports accepted, in arrival order.
    pub fn accepted_mdm_reports(&self) -> Vec<Value> {
        self.accepted("/api/v1/agent/mdm")
    }

    /// The `run_id`s of the results accepted, in arrival order.
    pub fn accepted_run_ids(&self) -> Vec<String> {
        let results = self.accepted("/api/v1/agent/results");
        results.iter().map(|result| result["run_id"].as_str().unwrap().to_string()).collect()
    }
}

fn answer(request: &Request, connection: Connection, shared: &Shared) {
    let mut seen = Seen {
        method: request.method.clone(),
        path: request.path().to_string(),
        query: request.query().to_string(),
        authorization: request.header("authorization"),
        user_agent: request.header("user-agent"),
        if_none_match: request.header("if-none-match"),
        body: String::from_utf8_lossy(&request.body).into_owned(),
        status: 0,
    };
    let behavior = shared.state.lock().unwrap().behavior;
    if behavior == Behavior::Hang {
        shared.seen.lock().unwrap().push(seen);
        return connection.hang();
    }
    let (status, headers, body) = respond(&seen, behavior, &mut shared.state.lock().unwrap());
    seen.status = status;
    shared.seen.lock().unwrap().push(seen);
    connection.answer(&format!("{status} X"), &headers, body.as_bytes());
}

fn respond(seen: &Seen, behavior: Behavior, state: &mut TenantState) -> (u16, Vec<String>, String) {
    if let Some((_, contents)) = state.files.iter().find(|(path, _)| seen.method == "GET" && *path == seen.path) {
        return (200, Vec::new(), contents.clone());
    }
    if seen.authorization.as_deref() != Some(format!("Bearer {}", state.token).as_str()) {
        if let Some((path, contents)) = state.rotate_on_refusal.take() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        return (401, Vec::new(), json!({"error": "unknown token"}).to_string());
    }
    if behavior == Behavior::Garbage {
        return (200, Vec::new(), "<html>not json at all".to_string());
    }
    match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/api/v1/agent/checkin") => {
            let mut commands = std::mem::take(&mut state.commands);
            commands.extend(state.next_checkins.pop_front().unwrap_or_default());
            for command in &state.every_checkin {
                commands.push(json!({ "id": format!("{command}-{}", uuid::Uuid::now_v7()), "type": command }));
            }
            let mut reply = json!({ "commands": commands });
            if let Some(minimum) = &state.minimum_agent_version {
                reply["minimum_agent_version"] = json!(minimum);
            }
            if let Some(latest) = &state.latest_agent {
                reply["latest_agent"] = latest.clone();
            }
            (200, Vec::new(), reply.to_string())
        }
        ("GET", "/api/v1/agent/blueprint") if seen.if_none_match.as_deref() == Some(state.etag.as_str()) => {
            (304, vec![format!("ETag: {}", state.etag)], String::new())
        }
        ("GET", "/api/v1/agent/blueprint") => {
            let body = state.blueprint_body.clone().unwrap_or_else(|| state.blueprint.to_string());
            (200, vec![format!("ETag: {}", state.etag)], body)
        }
        ("POST", "/api/v1/agent/results") if state.results_status != 200 => {
            let message = state.refusal_message.as_deref().unwrap_or("run record rejected");
            (state.results_status, Vec::new(), json!({ "error": message }).to_string())
        }
        ("POST", "/api/v1/agent/results") => (200, Vec::new(), "{}".to_string()),
        ("POST", "/api/v1/agent/inventory") => (200, Vec::new(), "{}".to_string()),
        ("POST", "/api/v1/agent/mdm") if state.mdm_status != 200 => {
            (state.mdm_status, Vec::new(), json!({"error": "mdm report rejected"}).to_string())
        }
        ("POST", "/api/v1/agent/mdm") => (200, Vec::new(), "{}".to_string()),
        _ => (404, Vec::new(), json!({"error": "no such route"}).to_string()),
    }
}

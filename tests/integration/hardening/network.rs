//! Plain http only to loopback whatever the route (proxies included), and secrets
//! kept out of children's environment and argv.
//!
//! Every test that could reach the network runs the agent with all the proxy
//! variables pointing at a capturing server on 127.0.0.1 (a second test tenant,
//! which records every request it gets, proxied ones included): whatever the agent
//! refuses, or sends straight to loopback, that server must never see.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Output, Stdio};

use serde_json::{Value, json};

use crate::app_fixtures::{app_zip, auto_app, custom_app, recorded, sha256, stand_in};
use crate::http_server::{FileServer, Served};
use crate::support::{Device, blueprint, code, enroll, logged, script, text};
use crate::tenant::self_update::{installer, offering};
use crate::tenant::server::TestTenant;
use crate::tenant::{configure, counting_blueprint};

/// The proxy variables reqwest (and curl) read.
const PROXY_VARIABLES: [&str; 6] = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"];

/// A tenant URL the agent must refuse: plain http to a host that is not loopback.
/// With a proxy set, nothing needs to resolve it: the request would go to the proxy.
const REMOTE_HTTP: &str = "http://tenant.example.com";

const TOKEN: &str = "tok-network-secret";

/// A server standing in for a proxy: it records every request it gets.
fn proxy() -> TestTenant {
    TestTenant::start("proxy", json!({}))
}

/// `agent ARGUMENTS` with every proxy variable pointing at `proxy` and `extra`
/// variables set.
fn run_behind(device: &Device, proxy: &TestTenant, extra: &[(&str, &str)], arguments: &[&str]) -> Output {
    let mut command = device.agent();
    for variable in PROXY_VARIABLES {
        command.env(variable, proxy.url());
    }
    command.envs(extra.iter().copied()).args(arguments).output().expect("agent runs")
}

/// Asserts the proxy never got a request (and so never saw the token).
fn assert_untouched(proxy: &TestTenant) {
    let seen: Vec<_> =
        proxy.seen().iter().map(|seen| format!("{} {} {:?}", seen.method, seen.path, seen.authorization)).collect();
    assert!(seen.is_empty(), "the proxy was sent {seen:?}");
}

/// Asserts `output` exited 2 naming `tenant.url` and `origin`, without `secret`.
fn assert_refused_key(output: &Output, origin: &str, secret: &str) {
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert_eq!(code(output), 2, "{printed}");
    assert!(printed.contains("\"tenant.url\""), "the message names the key: {printed}");
    assert!(printed.contains(origin), "the message names {origin}: {printed}");
    assert!(!printed.contains(secret), "{secret:?} is never printed: {printed}");
}

/// The path `agent paths --json` gives for `key`.
fn agent_path(device: &Device, key: &str) -> PathBuf {
    let paths: Value = serde_json::from_slice(&device.run(&["paths", "--json"]).stdout).unwrap();
    PathBuf::from(paths[key].as_str().unwrap())
}

/// A plist dictionary with one string.
fn plist_with(key: &str, value: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>{key}</key><string>{value}</string></dict></plist>"#
    )
}

/// Writes `text` at the absolute `path` (under the device's root).
fn write_at(device: &Device, path: &std::path::Path, text: &str) {
    let relative = path.strip_prefix(device.root()).unwrap();
    device.write_file(relative.to_str().unwrap(), text);
}

#[test]
fn a_loopback_tenant_its_downloads_and_telemetry_go_direct_whatever_the_proxy_variables_say() {
    let device = Device::new();
    let files = FileServer::start();
    let zip = app_zip("2.1", 0);
    files.serve("/Foo.zip", zip.clone());
    let mut policy = counting_blueprint(&device);
    policy["library_items"].as_array_mut().unwrap().push(custom_app(
        "zip",
        &files.url("/Foo.zip"),
        &sha256(&zip),
        "install_once",
        None,
    ));
    let tenant = TestTenant::start(TOKEN, policy);
    configure(&device, &tenant.url(), TOKEN);
    let proxy = proxy();
    let otel = format!("otel.endpoint={}", tenant.url());
    let output = run_behind(&device, &proxy, &[], &["run", "--json", "--set", &otel]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));

    let checkins = tenant.seen_at("/api/v1/agent/checkin");
    assert_eq!(checkins.len(), 1);
    assert_eq!(checkins[0].authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(files.requests("/Foo.zip").len(), 1, "the download went straight to the loopback server");
    assert!(!tenant.seen_at("/v1/metrics").is_empty(), "the export went straight to the loopback collector");
    assert_untouched(&proxy);
}

#[test]
fn an_https_tenant_goes_through_the_https_proxy_as_a_tunnel_that_never_shows_the_token() {
    let device = Device::new();
    configure(&device, "https://tenant.example.com", TOKEN);
    let proxy = proxy();
    let output = run_behind(&device, &proxy, &[], &["run", "--set", "tenant.request_timeout=5s"]);
    assert_ne!(code(&output), 0, "no tenant answered: {}", text(&output.stderr));
    let seen = proxy.seen();
    assert!(!seen.is_empty(), "https uses HTTPS_PROXY");
    for request in &seen {
        assert_eq!((request.method.as_str(), request.path.as_str()), ("CONNECT", "tenant.example.com:443"));
        assert_eq!(request.authorization, None, "the token travels inside the tunnel only");
        assert!(!request.body.contains(TOKEN));
    }
}

#[test]
fn the_doctors_tenant_check_goes_direct_whatever_the_proxy_variables_say() {
    let installed = crate::doctor::harness::Installed::new();
    let device = &installed.device;
    let tenant = TestTenant::start(TOKEN, blueprint(Vec::new()));
    configure(device, &tenant.url(), TOKEN);
    let proxy = proxy();
    let output = run_behind(device, &proxy, &[], &["doctor", "--json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let request = crate::doctor::harness::check(&report, "tenant_request");
    assert_eq!(request["verdict"], "pass", "{request:#}");
    assert_eq!(tenant.seen_at("/api/v1/agent/blueprint").len(), 1);
    assert_untouched(&proxy);
}

#[test]
fn a_remote_http_tenant_url_in_the_config_file_exits_2_naming_the_key() {
    let device = Device::new();
    let config_file = agent_path(&device, "config_file");
    write_at(&device, &config_file, &plist_with("tenant.url", REMOTE_HTTP));
    configure_token(&device);
    let proxy = proxy();
    let output = run_behind(&device, &proxy, &[], &["run"]);
    assert_refused_key(&output, config_file.to_str().unwrap(), TOKEN);
    assert_untouched(&proxy);
}

#[test]
fn a_remote_http_tenant_url_in_a_fragment_exits_2_naming_the_key() {
    let device = Device::new();
    let fragment = device.write_file(
        "Library/Application Support/EndpointAgent/config.d/20-tenant.json",
        &json!({ "tenant": { "url": REMOTE_HTTP, "token": TOKEN } }).to_string(),
    );
    let proxy = proxy();
    let output = run_behind(&device, &proxy, &[], &["run"]);
    assert_refused_key(&output, fragment.to_str().unwrap(), TOKEN);
    assert_untouched(&proxy);
}

#[test]
fn a_remote_http_tenant_url_in_managed_preferences_exits_2_naming_the_key() {
    let device = Device::new();
    let managed = agent_path(&device, "managed_preferences");
    write_at(&device, &managed, &plist_with("tenant.url", REMOTE_HTTP));
    configure_token(&device);
    let proxy = proxy();
    let output = run_behind(&device, &proxy, &[], &["run"]);
    assert_refused_key(&output, managed.to_str().unwrap(), TOKEN);
    assert_untouched(&proxy);
}

#[test]
fn a_remote_http_tenant_url_in_the_environment_exits_2_naming_the_key() {
    let device = Device::new();
    configure_token(&device);
    let proxy = proxy();
    let output = run_behind(&device, &proxy, &[("AGENT_TENANT_URL", REMOTE_HTTP)], &["run"]);
    assert_refused_key(&output, "AGENT_TENANT_URL", TOKEN);
    assert_untouched(&proxy);
}

#[test]
fn a_remote_http_tenant_url_on_the_command_line_exits_2_naming_the_key() {
    let device = Device::new();
    configure_token(&device);
    let proxy = proxy();
    let output = run_behind(&device, &proxy, &[], &["run", "--set", &format!("tenant.url={REMOTE_HTTP}")]);
    assert_refused_key(&output, "--set", TOKEN);
    assert_untouched(&proxy);
}

/// A token in a fragment, so a tenant URL set elsewhere would be used with it.
fn configure_token(device: &Device) {
    device.write_file(
        "Library/Application Support/EndpointAgent/config.d/10-token.json",
        &json!({ "tenant": { "token": TOKEN } }).to_string(),
    );
}

#[test]
fn a_tenant_url_carrying_a_secret_is_refused_without_printing_it() {
    let device = Device::new();
    for url in ["https://tenant.example.com/?token=sekrit-query", "https://admin:sekrit-password@tenant.example.com"] {
        configure(&device, url, TOKEN);
        let fragment = device.root().join("Library/Application Support/EndpointAgent/config.d/20-tenant.json");
        for verb in [&["run"][..], &["config", "--show-origin"][..]] {
            assert_refused_key(&device.run(verb), fragment.to_str().unwrap(), "sekrit");
        }
    }
}

#[test]
fn enroll_refuses_a_remote_http_url_and_one_carrying_a_secret_and_writes_nothing() {
    let device = Device::new();
    for url in ["http://example.com", "https://tenant.example.com/?token=sekrit", "https://u:sekrit@tenant.example.com"]
    {
        let output = enroll(&device, url, TOKEN);
        let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert_eq!(code(&output), 2, "{url}: {printed}");
        assert!(printed.contains("--url"), "{printed}");
        assert!(!printed.contains("sekrit") && !printed.contains(TOKEN), "{printed}");
    }
    let fragment = device.root().join("Library/Application Support/EndpointAgent/config.d/50-enrollment.plist");
    assert!(!fragment.exists(), "nothing was enrolled");
}

#[test]
fn a_local_blueprint_downloading_over_remote_http_is_refused_before_anything_runs() {
    let device = Device::new();
    let marker = device.root().join("ran.txt");
    let policy = blueprint(vec![
        script("li-count", "Count runs", &format!("#!/bin/sh\necho ran >> '{}'\n", marker.display())),
        custom_app("zip", "http://downloads.example.com/Foo.zip", &"a".repeat(64), "install_once", None),
    ]);
    let path = device.write_blueprint(&policy);
    let proxy = proxy();
    let output = run_behind(&device, &proxy, &[], &["run", "--blueprint", path.to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("url") && stderr.contains("loopback"), "{stderr}");
    assert!(!marker.exists(), "nothing ran");
    assert_untouched(&proxy);
}

#[test]
fn a_tenant_blueprint_downloading_over_remote_http_is_refused_and_the_saved_one_stays() {
    let device = Device::new();
    let tenant = TestTenant::start(TOKEN, counting_blueprint(&device));
    configure(&device, &tenant.url(), TOKEN);
    let proxy = proxy();
    let first = run_behind(&device, &proxy, &[], &["run", "--json"]);
    assert_eq!(code(&first), 0, "{}", text(&first.stderr));
    let hostile = blueprint(vec![auto_app("2.1", "http://downloads.example.com/Foo.zip", &"a".repeat(64))]);
    tenant.change(|state| {
        state.blueprint = hostile;
        state.etag = "\"v2\"".to_string();
    });
    let second = run_behind(&device, &proxy, &[], &["run", "--json"]);
    let run: Value = serde_json::from_slice(&second.stdout).unwrap_or_default();
    let names: Vec<_> = run["items"].as_array().into_iter().flatten().map(|item| item["name"].clone()).collect();
    assert_eq!(names, [json!("Count runs")], "the saved blueprint stays in force: {}", text(&second.stderr));
    assert!(logged(&device).contains("loopback"), "the refusal is logged");
    assert_untouched(&proxy);
}

#[test]
fn a_download_redirected_to_remote_http_is_not_followed() {
    let device = Device::new();
    let files = FileServer::start();
    let redirect =
        Served { redirect_to: Some("http://downloads.example.com/Foo.zip".to_string()), ..Served::default() };
    files.serve_with("/Foo.zip", redirect);
    let path = device.write_blueprint(&blueprint(vec![custom_app(
        "zip",
        &files.url("/Foo.zip"),
        &"a".repeat(64),
        "install_once",
        None,
    )]));
    let proxy = proxy();
    let output = run_behind(&device, &proxy, &[], &["run", "--json", "--blueprint", path.to_str().unwrap()]);
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    let run: Value = serde_json::from_slice(&output.stdout).unwrap();
    let message = run["items"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("redirected to a URL the agent does not download from"), "{message}");
    assert_eq!(files.requests("/Foo.zip").len(), 1);
    assert_untouched(&proxy);
}

#[test]
fn a_self_update_offer_over_remote_http_is_refused_and_never_fetched() {
    let device = Device::new();
    let tenant = offering(&device, "99.0.0", None);
    let url = "http://updates.example.com/agent-99.0.0.pkg";
    tenant.change(|state| state.latest_agent.as_mut().unwrap()["url"] = json!(url));
    let set_installer = installer(&device, "exit 0\n");
    let proxy = proxy();
    let output = run_behind(&device, &proxy, &[], &["run", "--json", "--set", &set_installer]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(logged(&device).contains("latest_agent.url"), "the unusable offer is logged");
    assert!(recorded(&device, "installer").is_empty(), "nothing was installed");
    assert!(tenant.seen().iter().all(|seen| !seen.path.starts_with("/packages/")));
    assert_untouched(&proxy);
}

/// A stand-in program that writes its environment to `tools/NAME.env`.
fn env_dumper(device: &Device, name: &str) -> PathBuf {
    stand_in(device, name, &format!("env > '{}'\n", env_file(device, name).display()))
}

fn env_file(device: &Device, name: &str) -> PathBuf {
    device.root().join(format!("tools/{name}.env"))
}

/// The secrets the agent's environment carries in the tests below.
const OTLP_SECRET: &str = "otlp-collector-secret";

/// `AGENT_TENANT_TOKEN` and the OTLP headers, as a launchd plist could set them.
fn secret_environment() -> [(&'static str, String); 3] {
    [
        ("AGENT_TENANT_TOKEN", TOKEN.to_string()),
        ("OTEL_EXPORTER_OTLP_HEADERS", format!("authorization=Bearer {OTLP_SECRET}")),
        ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", format!("x-key={OTLP_SECRET}")),
    ]
}

/// Asserts no secret is in `what`.
fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains(TOKEN) && !text.contains(OTLP_SECRET), "a secret leaked into {what}: {text}");
}

#[test]
fn a_script_running_env_sees_no_secret_and_none_reaches_history_status_logs_or_the_tenant() {
    let device = Device::new();
    let audit = "#!/bin/sh\nenv\nexit 1\n";
    let tenant = TestTenant::start(TOKEN, blueprint(vec![script("li-env", "Print env", audit)]));
    device.write_file(
        "Library/Application Support/EndpointAgent/config.d/20-tenant.json",
        &json!({ "tenant": { "url": tenant.url() } }).to_string(),
    );
    let mut command = device.agent();
    command.envs(secret_environment()).args(["run", "--json"]);
    let output = command.output().unwrap();
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    let run: Value = serde_json::from_slice(&output.stdout).unwrap();
    let run_id = run["id"].as_str().unwrap();

    let history = text(&device.run(&["history", "--run", run_id, "--json"]).stdout);
    assert!(history.contains("AGENT_RUN_ID="), "the audit's env output is in the history: {history}");
    assert_no_secret("the history", &history);
    assert_no_secret("the status", &device.status().to_string());
    assert_no_secret("the log files", &logged(&device));
    assert_no_secret("agent run's output", &format!("{}{}", text(&output.stdout), text(&output.stderr)));
    let results = tenant.seen_at("/api/v1/agent/results");
    assert_eq!(results.len(), 1);
    assert!(results[0].body.contains("AGENT_RUN_ID="), "the tenant received the output");
    for seen in tenant.seen() {
        assert_no_secret("what the tenant received", &format!("{} {} {}", seen.path, seen.query, seen.body));
    }
}

#[test]
fn a_tool_the_agent_runs_sees_no_secret() {
    let device = Device::new();
    let sw_vers = env_dumper(&device, "sw_vers");
    let mut command = device.agent();
    let set = format!("commands.sw_vers={}", sw_vers.display());
    command.envs(secret_environment()).args(["inventory", "--json", "--set", &set]);
    command.output().unwrap();
    let environment = std::fs::read_to_string(env_file(&device, "sw_vers")).expect("the tool ran");
    assert!(environment.contains("PATH="), "{environment}");
    assert_no_secret("the tool's environment", &environment);
}

#[test]
fn the_self_update_installer_sees_no_secret() {
    let device = Device::new();
    let tenant = offering(&device, "99.0.0", None);
    tenant.change(|state| state.token = TOKEN.to_string());
    let dump = format!(
        "env > '{}'\necho 'installer: The upgrade was successful.'\n",
        env_file(&device, "installer").display()
    );
    let set_installer = installer(&device, &dump);
    let mut command = device.agent();
    command.envs(secret_environment()).args(["run", "--json", "--set", &set_installer]);
    let output = command.output().unwrap();
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let environment = std::fs::read_to_string(env_file(&device, "installer")).expect("the installer ran");
    assert!(environment.contains("PATH="), "{environment}");
    assert_no_secret("the installer's environment", &environment);
}

#[test]
fn enroll_reads_the_token_from_a_file_or_standard_input_and_stores_it() {
    let device = Device::new();
    let tenant = TestTenant::start(TOKEN, counting_blueprint(&device));
    let output = enroll(&device, &tenant.url(), TOKEN);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let stored = |device: &Device| {
        let fragment = device.root().join("Library/Application Support/EndpointAgent/config.d/50-enrollment.plist");
        let value = plist::Value::from_file(fragment).unwrap();
        value.as_dictionary().unwrap().get("tenant.token").and_then(plist::Value::as_string).map(str::to_string)
    };
    assert_eq!(stored(&device).as_deref(), Some(TOKEN), "one trailing newline is dropped");
    assert_eq!(crate::support::check_in(&device, &[])["outcome"], "succeeded");

    let piped = Device::new();
    let mut child = piped
        .agent()
        .args(["enroll", "--url", &tenant.url(), "--token-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{TOKEN}\n").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_no_secret("enroll's output", &format!("{}{}", text(&output.stdout), text(&output.stderr)));
    assert_eq!(stored(&piped).as_deref(), Some(TOKEN));

    let empty = Device::new();
    let token_file = empty.write_file("empty-token.txt", "\n");
    let output = empty.run(&["enroll", "--url", &tenant.url(), "--token-file", token_file.to_str().unwrap()]);
    assert_eq!(code(&output), 2, "an empty token is refused: {}", text(&output.stderr));
}

#[test]
fn a_token_on_the_command_line_is_refused_with_exit_2_saying_why() {
    let device = Device::new();
    let output = device.run(&["enroll", "--url", "https://tenant.example.com", "--token", TOKEN]);
    let stderr = text(&output.stderr);
    assert_eq!(code(&output), 2, "{stderr}");
    assert!(stderr.contains("--token-file"), "{stderr}");
    assert_no_secret("enroll's refusal", &stderr);
    let fragment = device.root().join("Library/Application Support/EndpointAgent/config.d/50-enrollment.plist");
    assert!(!fragment.exists());

    for verb in [&["config"][..], &["run"][..]] {
        let mut arguments = verb.to_vec();
        let set = format!("tenant.token={TOKEN}");
        arguments.extend(["--set", &set]);
        let output = device.run(&arguments);
        let stderr = text(&output.stderr);
        assert_eq!(code(&output), 2, "{stderr}");
        assert!(stderr.contains("\"tenant.token\"") && stderr.contains("command line"), "{stderr}");
        assert_no_secret("the refusal", &stderr);
    }
}

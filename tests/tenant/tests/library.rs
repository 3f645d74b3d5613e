//! The tenant as a library, as the agent's end-to-end tests use it: started on a
//! listener the caller bound, shut down gracefully, started again on the same port
//! and the same SQLite file.

use std::net::{SocketAddr, TcpListener, TcpStream};

use endpoint_tenant::{Seed, Settings};
use serde_json::json;

const TOKEN: &str = "library-token";

fn settings(database: &std::path::Path) -> Settings {
    let seed = Seed {
        tokens: vec![TOKEN.to_string()],
        blueprint: Some(json!({ "id": "bp-lib", "name": "Library", "library_items": [] })),
        ..Seed::default()
    };
    Settings { seed, database: Some(database.to_path_buf()), ..Settings::default() }
}

fn post_results(client: &reqwest::blocking::Client, address: SocketAddr, run_id: &str) -> u16 {
    let body = json!({ "device_id": "DEVICE-1", "run_id": run_id, "run": {} });
    let url = format!("http://{address}/api/v1/agent/results");
    client.post(url).bearer_auth(TOKEN).json(&body).send().expect("the tenant answers").status().as_u16()
}

#[test]
fn a_tenant_shut_down_and_started_again_on_the_same_port_keeps_its_database() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let database = directory.path().join("tenant.sqlite");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let client = reqwest::blocking::Client::new();

    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let tenant = runtime.block_on(endpoint_tenant::start(listener, settings(&database))).expect("it starts");
    let address = tenant.address();
    assert_eq!(tenant.url(), format!("http://{address}"));
    assert_eq!(post_results(&client, address, "run-1"), 201);
    runtime.block_on(tenant.shutdown()).expect("a graceful shutdown");
    assert!(TcpStream::connect(address).is_err(), "the port is closed once shutdown returns");

    let listener = TcpListener::bind(address).expect("the same port again");
    let tenant = runtime.block_on(endpoint_tenant::start(listener, settings(&database))).expect("it starts again");
    assert_eq!(post_results(&client, address, "run-1"), 200, "the first tenant's report is in the file");
    assert_eq!(post_results(&client, address, "run-2"), 201);
    runtime.block_on(tenant.shutdown()).expect("a graceful shutdown");
}

#[test]
fn a_tenant_without_a_token_does_not_start() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let error = runtime.block_on(endpoint_tenant::start(listener, Settings::default())).expect_err("refused");
    assert!(error.to_string().contains("no token configured"), "{error:#}");
}

//! The tenant checks against the recording test tenant, a port nothing listens
//! on, a tenant that never answers, and a refused token; Apple push open and closed.

use std::time::{Duration, Instant};

use super::harness::{Installed, assert_check, check, doctor};
use crate::support::text;
use crate::tenant::configure;
use crate::tenant::server::{Behavior, TestTenant};

/// A URL nothing listens on.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
}

#[test]
fn an_unreachable_tenant_fails_with_timings() {
    let installed = Installed::new();
    let device = &installed.device;
    configure(device, &dead_url(), "tok-1");
    let (code, report) = doctor(device, &[]);
    assert_eq!((code, report["verdict"].as_str()), (1, Some("fail")), "{report:#}");
    assert_check(&report, "tenant_connection", "fail", "failed after");
    assert_check(&report, "tenant_connection", "fail", "Connection refused");
    assert_check(&report, "tenant_request", "fail", "GET /api/v1/agent/blueprint: no answer after");
    let connection = check(&report, "tenant_connection");
    assert!(connection["value"].as_str().unwrap().contains("ms:"), "{connection:#}");
    assert!(connection["duration_ms"].is_u64(), "{connection:#}");
    assert!(connection["fix"].as_str().unwrap().contains("tenant.url"), "{connection:#}");
}

#[test]
fn a_hung_tenant_fails_the_request_within_the_doctors_timeout() {
    let installed = Installed::new();
    let device = &installed.device;
    let tenant = TestTenant::start("tok-1", crate::support::blueprint(Vec::new()));
    tenant.change(|state| state.behavior = Behavior::Hang);
    configure(device, &tenant.url(), "tok-1");
    let started = Instant::now();
    let (code, report) = doctor(device, &["--set", "doctor.timeout=1s"]);
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    assert_eq!(code, 1, "{report:#}");
    assert_check(&report, "tenant_connection", "pass", "connected in");
    assert_check(&report, "tenant_request", "fail", "no answer after 1.");
    let request = check(&report, "tenant_request");
    assert!((900..5_000).contains(&request["duration_ms"].as_u64().unwrap()), "{request:#}");
}

#[test]
fn a_refused_token_fails_with_the_fix_to_rotate_it_and_is_never_printed() {
    let installed = Installed::new();
    let device = &installed.device;
    let tenant = TestTenant::start("tok-current", crate::support::blueprint(Vec::new()));
    configure(device, &tenant.url(), "tok-revoked-secret");
    for arguments in [&["doctor"][..], &["doctor", "--json"]] {
        let output = device.run(arguments);
        assert_eq!(crate::support::code(&output), 1);
        let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!printed.contains("tok-revoked-secret"), "{printed}");
        assert!(printed.contains("Rotate the token"), "{printed}");
    }
    let (_, report) = doctor(device, &[]);
    assert_check(&report, "tenant_connection", "pass", "connected in");
    assert_check(&report, "tenant_request", "fail", "401 in");
    assert_check(&report, "tenant_request", "fail", "the tenant refused the token");
}

/// After a real check-in the tenant's answer is what the age is measured by, and
/// the doctor's request sends the saved blueprint's ETag and gets `304`.
#[test]
fn after_a_check_in_the_tenants_answer_counts_and_the_blueprint_is_current() {
    let installed = Installed::new();
    let device = &installed.device;
    let tenant = TestTenant::start("tok-1", crate::support::blueprint(Vec::new()));
    configure(device, &tenant.url(), "tok-1");
    let output = device.run(&["run"]);
    assert_eq!(crate::support::code(&output), 0, "{}", text(&output.stderr));
    let checkins = tenant.seen_at("/api/v1/agent/checkin").len();
    let (code, report) = doctor(device, &[]);
    assert_check(&report, "last_checkin", "pass", "just now");
    assert_check(&report, "last_checkin", "pass", "answered by the tenant");
    assert_check(&report, "tenant_request", "pass", "304 in");
    assert_check(&report, "tenant_request", "pass", "the saved blueprint is current");
    assert_eq!(tenant.seen_at("/api/v1/agent/checkin").len(), checkins, "the doctor is not a check-in");
    let last = tenant.seen().pop().unwrap();
    assert_eq!(last.if_none_match.as_deref(), Some("\"v1\""));
    assert_eq!(code, 0, "{report:#}");
}

/// Push passes when the host answers on every port, warns when it answers on
/// some (a Mac falls back from one to another), fails when it answers on none.
#[test]
fn apple_push_passes_on_a_listener_and_fails_on_a_closed_port() {
    let installed = Installed::new();
    let device = &installed.device;
    let open = installed.push.local_addr().unwrap().port().to_string();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port().to_string()
    };
    let cases = [(open.clone(), "pass"), (format!("{open},{closed}"), "warn"), (closed.clone(), "fail")];
    for (ports, verdict) in cases {
        let (_, report) = doctor(device, &["--set", &format!("doctor.push_ports={ports}")]);
        assert_check(&report, "apple_push", verdict, "127.0.0.1: ");
        if verdict != "pass" {
            let value = check(&report, "apple_push")["value"].as_str().unwrap().to_string();
            assert!(value.contains(&format!("{closed} failed after")), "{value}");
        }
    }
}

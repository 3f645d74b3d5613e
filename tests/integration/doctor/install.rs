//! The install checks: binary, launchd job, launchctl; and FileVault through
//! stand-ins printing what the real tools print.

use super::harness::{Installed, assert_check, check, doctor, fixture, without_tenant};
use crate::support::Device;

#[test]
fn a_bare_device_lacks_the_binary_and_the_job_and_launchd_does_not_apply_on_linux() {
    let device = Device::new();
    let (code, report) = doctor(&device, &["--set", "doctor.push_host=127.0.0.1", "--set", "doctor.timeout=2s"]);
    assert_eq!(code, 1, "{report:#}");
    assert_check(&report, "agent_binary", "fail", "missing: ");
    assert_check(&report, "agent_binary", "fail", "usr/local/bin/agent");
    assert_check(&report, "launchd_job", "fail", "Library/LaunchDaemons/io.endpointagent.agent.plist");
    let fix = check(&report, "agent_binary")["fix"].as_str().unwrap().to_string();
    assert!(fix.starts_with("Reinstall the agent package"), "{fix}");
    if cfg!(target_os = "linux") {
        assert_check(&report, "launchd_loaded", "skipped", "launchd exists on macOS only");
        assert_check(&report, "filevault", "skipped", "FileVault exists on macOS only");
    }
    assert_check(&report, "tenant_connection", "fail", "no tenant configured");
    let names: Vec<_> = report["checks"].as_array().unwrap().iter().map(|check| check["name"].clone()).collect();
    assert_eq!(
        names,
        [
            "agent_binary",
            "launchd_job",
            "launchd_loaded",
            "tenant_connection",
            "tenant_request",
            "apple_push",
            "last_checkin",
            "last_inventory",
            "mdm_profile",
            "mdm_certificate",
            "filevault"
        ]
    );
}

#[test]
fn launchctl_says_whether_the_daemon_is_loaded_and_running() {
    let installed = Installed::new();
    let device = &installed.device;
    without_tenant(device);
    installed.stand_in("launchctl", &fixture("launchctl/print-not-running.txt"), 0);
    let (_, report) = doctor(device, &[]);
    assert_check(
        &report,
        "launchd_loaded",
        "warn",
        "loaded but not running (state spawn scheduled, last exit code 78: EX_CONFIG)",
    );
    assert!(check(&report, "launchd_loaded")["fix"].as_str().unwrap().contains("launchctl kickstart -k"));

    installed.stand_in("launchctl", &fixture("launchctl/print-not-found.txt"), 113);
    let (code, report) = doctor(device, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_check(
        &report,
        "launchd_loaded",
        "fail",
        "not loaded (launchctl exited 113: Bad request. Could not find service",
    );
    assert!(check(&report, "launchd_loaded")["fix"].as_str().unwrap().contains("launchctl bootstrap system"));
}

#[test]
fn a_job_that_starts_something_else_and_filevault_off_fail() {
    let installed = Installed::new();
    let device = &installed.device;
    without_tenant(device);
    let job = device.root().join("Library/LaunchDaemons/io.endpointagent.agent.plist");
    let text = std::fs::read_to_string(&job).unwrap().replace("<string>daemon</string>", "<string>run</string>");
    std::fs::write(&job, text).unwrap();
    installed.stand_in("fdesetup", &fixture("inventory/fdesetup/off.txt"), 0);
    let (code, report) = doctor(device, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_check(
        &report,
        "launchd_job",
        "fail",
        "starts `/usr/local/bin/agent run`, not `/usr/local/bin/agent daemon`",
    );
    assert_check(&report, "filevault", "fail", "Off");
    assert!(check(&report, "filevault")["fix"].as_str().unwrap().contains("fdesetup enable"));
}

#[test]
fn the_text_report_has_a_line_per_check_and_the_fix_under_each_problem() {
    let installed = Installed::new();
    let device = &installed.device;
    without_tenant(device);
    installed.stand_in("fdesetup", &fixture("inventory/fdesetup/off.txt"), 0);
    let output = device.run(&["doctor"]);
    assert_eq!(crate::support::code(&output), 1);
    let text = crate::support::text(&output.stdout);
    assert!(text.contains("\nPASS  Agent binary "), "{text}");
    assert!(text.contains("\nFAIL  FileVault          Off\n                         Fix: Turn FileVault on"), "{text}");
    assert!(text.contains("\nSKIP  Tenant request     no tenant configured\n"), "{text}");
    assert!(text.contains("\nVerdict: FAIL (1 failed, "), "{text}");
}

//! A token the tenant does not accept: each check-in is refused with `401` (and
//! tried once more), the third in a row shows drift `stale_token`, and enrolling
//! again with the right token clears it and lets the kept reports through.

use serde_json::json;

use super::harness::{TOKEN, Tenant, enroll, run_id};
use crate::support::{Device, blueprint, check_in, code, script, text};

const ROTATED: &str = "e2e-rotated-token";

#[test]
fn three_refused_check_ins_show_stale_token_until_the_device_is_enrolled_with_the_rotated_token() {
    let device = Device::new();
    let mut tenant = Tenant::start(blueprint(vec![script("li-ok", "Succeed", "#!/bin/sh\nexit 0\n")]));
    enroll(&device, &tenant.url(), TOKEN);
    let mut expected = vec![run_id(&check_in(&device, &[]))];

    tenant.restart(|seed| seed.tokens = vec![ROTATED.to_string()]);
    for round in 1..=3 {
        let run = check_in(&device, &[]);
        assert_eq!(run["outcome"], "succeeded", "the saved blueprint still runs: {run:#}");
        assert_eq!(run["drift"]["stale_token"], round == 3, "after {round} refused check-ins: {run:#}");
        assert_eq!(device.status()["drift"]["stale_token"], round == 3);
        expected.push(run_id(&run));
    }
    assert_eq!(tenant.checkins().len(), 1, "refused check-ins are not recorded");
    assert_eq!(tenant.result_run_ids(), expected[..1]);

    enroll(&device, &tenant.url(), ROTATED);
    let run = check_in(&device, &[]);
    assert_eq!(run["drift"]["stale_token"], false, "{run:#}");
    assert_eq!(device.status()["drift"]["stale_token"], false);
    expected.push(run_id(&run));
    assert_eq!(tenant.result_run_ids(), expected, "the reports kept while refused arrive, in order");
    assert_eq!(tenant.checkins().len(), 2);
}

#[test]
fn a_device_enrolled_with_a_wrong_token_says_why_it_has_no_blueprint_and_shows_stale_token() {
    let device = Device::new();
    let tenant = Tenant::start(blueprint(vec![script("li-ok", "Succeed", "#!/bin/sh\nexit 0\n")]));
    enroll(&device, &tenant.url(), "a-mistyped-token");
    for round in 1..=3 {
        let output = device.run(&["run"]);
        let stderr = text(&output.stderr);
        assert_eq!(code(&output), 2, "{stderr}");
        assert!(stderr.contains("the tenant refused the token (401)"), "{stderr}");
        assert!(stderr.contains("no blueprint yet: the tenant has not sent one"), "{stderr}");
        let status = device.status();
        assert_eq!(status["drift"]["stale_token"], round == 3, "after {round} refused check-ins: {status:#}");
    }
    assert_eq!(tenant.get("/api/v1/devices")["devices"], json!([]), "the tenant recorded nothing");

    enroll(&device, &tenant.url(), TOKEN);
    let run = check_in(&device, &[]);
    assert_eq!((&run["outcome"], &run["drift"]["stale_token"]), (&json!("succeeded"), &json!(false)), "{run:#}");
    assert_eq!(device.status()["drift"]["stale_token"], false);
    assert_eq!(tenant.result_run_ids(), [run_id(&run)]);
}

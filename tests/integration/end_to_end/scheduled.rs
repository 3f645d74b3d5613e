//! The daemon on its own schedule (intervals of seconds) against the tenant: an
//! enrolled device with no blueprint yet gets one at its first scheduled check-in,
//! every run's results arrive once and in order, and a queued `dailycheckin` makes
//! the check-in after the one that took it daily.

use serde_json::Value;

use super::harness::{TOKEN, Tenant, enroll, run_id};
use crate::daemon::harness::{Daemon, finished, runs};
use crate::support::{Device, PATIENCE, blueprint, script};

#[test]
fn a_daemon_checks_in_on_its_schedule_and_a_queued_daily_comes_right_after_the_check_in_that_took_it() {
    let device = Device::new();
    let tenant = Tenant::start(blueprint(vec![script("li-ok", "Succeed", "#!/bin/sh\nexit 0\n")]));
    enroll(&device, &tenant.url(), TOKEN);
    // The channel off: this is the check-in's path (the command channel's tests are in `daemon/command_channel.rs`).
    let settings = ["schedule.recurring_interval=1s", "schedule.daily_interval=1h", "tenant.command_channel=false"];
    let mut daemon = Daemon::start(&device, &settings);
    let known = |tenant: &Tenant| tenant.get("/api/v1/devices")["devices"].as_array().map_or(0, Vec::len);
    tenant.wait_for(PATIENCE, known, |count| *count == 1);
    tenant.wait_for(PATIENCE, Tenant::result_run_ids, |ids| ids.len() >= 2);

    let queued = tenant.queue_action(&tenant.device_id(), "dailycheckin");
    let is_daily = |checkin: &Value| checkin["kind"] == "daily";
    let checkins = tenant.wait_for(PATIENCE, Tenant::checkins, |checkins| {
        checkins.iter().filter(|checkin| is_daily(checkin)).count() >= 2
    });
    assert!(daemon.stop().success());

    let command = &tenant.commands()[0];
    assert_eq!(command["id"], queued["id"]);
    let taken = checkins
        .iter()
        .position(|checkin| checkin["received_at"] == command["delivered_at"])
        .unwrap_or_else(|| panic!("no check-in took the command: {command:#} {checkins:#?}"));
    let kinds: Vec<&str> = checkins.iter().map(|checkin| checkin["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "daily", "{kinds:?}");
    assert!(kinds[1..taken].iter().all(|kind| *kind == "recurring"), "no daily before the command: {kinds:?}");
    assert_eq!(kinds.get(taken + 1), Some(&"daily"), "the check-in after the command is daily: {kinds:?}");

    let history: Vec<String> = runs(&device).iter().filter(|run| finished(run)).map(run_id).collect();
    let arrived = tenant.result_run_ids();
    assert_eq!(arrived, history[..arrived.len()], "each run's results once, in order");
    assert!(arrived.len() + 1 >= history.len(), "at most the run the stop cut short is missing");
}

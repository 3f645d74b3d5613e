//! The daemon acting on the tenant's commands: `blankpush` runs a check-in with
//! trigger `tenant` right after the one that received it, `dailycheckin` runs the
//! daily one, and a tenant that asks on every check-in gets no loop.

use serde_json::{Value, json};

use super::harness::{Daemon, finished, runs, time, wait_for_runs};
use crate::support::{Device, PATIENCE, logged_records};
use crate::tenant::server::TestTenant;
use crate::tenant::{configure, counting_blueprint};

fn kind_and_trigger(run: &Value) -> (&str, &str) {
    (run["kind"].as_str().unwrap(), run["trigger"].as_str().unwrap())
}

/// How long after `before` ended `after` started.
fn gap(before: &Value, after: &Value) -> chrono::Duration {
    time(&after["started_at"]) - time(&before["finished_at"])
}

#[test]
fn a_blankpush_on_every_check_in_gives_one_tenant_check_in_after_each_scheduled_one_not_a_loop() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    tenant.change(|state| state.every_checkin = vec!["blankpush".to_string()]);
    let mut daemon = Daemon::start(&device, &["schedule.recurring_interval=3s", "schedule.daily_interval=1h"]);
    wait_for_runs(&device, PATIENCE, |runs| runs.iter().filter(|run| finished(run)).count() >= 5);
    assert!(daemon.stop().success());
    let runs = runs(&device);

    let triggers: Vec<&str> = runs.iter().map(|run| run["trigger"].as_str().unwrap()).collect();
    assert_eq!(&triggers[..4], ["schedule", "tenant", "schedule", "tenant"], "{runs:#?}");
    assert!(
        triggers.windows(2).all(|pair| pair != ["tenant", "tenant"]),
        "a tenant check-in never chains another: {triggers:?}"
    );
    for pair in runs.windows(2).filter(|pair| pair[1]["trigger"] == "tenant") {
        assert_eq!(kind_and_trigger(&pair[1]), ("recurring", "tenant"));
        assert!(
            gap(&pair[0], &pair[1]) < chrono::Duration::seconds(1),
            "right after the check-in that received it: {pair:#?}"
        );
    }
    let scheduled_after_tenant = &runs[2];
    assert!(
        time(&scheduled_after_tenant["started_at"]) - time(&runs[1]["started_at"])
            >= chrono::Duration::milliseconds(1500),
        "the blankpush received during the tenant check-in waited for the schedule: {runs:#?}"
    );
    let deferred = logged_records(
        &device,
        "The tenant asked for a check-in during one it asked for; not starting another at once, the next scheduled check-in serves it.",
    );
    assert!(!deferred.is_empty());
    assert!(!logged_records(&device, "This check-in is the one the tenant asked for.").is_empty());
    // One tenant check-in per run, plus perhaps one the stop called off before its run began.
    let checkins = tenant.seen_at("/api/v1/agent/checkin").len();
    assert!((runs.len()..=runs.len() + 1).contains(&checkins), "{checkins} tenant check-ins for {} runs", runs.len());
}

#[test]
fn a_dailycheckin_runs_the_daily_check_in_with_trigger_tenant_right_after() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    let mut daemon = Daemon::start(&device, &["schedule.recurring_interval=2s", "schedule.daily_interval=1h"]);
    wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));
    tenant.change(|state| state.commands = vec![json!({"id": "cmd-daily", "type": "dailycheckin"})]);
    let runs = wait_for_runs(&device, PATIENCE, |runs| {
        let daily_by_tenant = runs.iter().position(|run| kind_and_trigger(run) == ("daily", "tenant"));
        daily_by_tenant.is_some_and(|at| runs.len() > at + 1 && finished(&runs[at + 1]))
    });
    assert!(daemon.stop().success());

    assert_eq!(kind_and_trigger(&runs[0]), ("daily", "schedule"));
    let at = runs.iter().position(|run| kind_and_trigger(run) == ("daily", "tenant")).unwrap();
    assert_eq!(
        kind_and_trigger(&runs[at - 1]),
        ("recurring", "schedule"),
        "received during a recurring one: {runs:#?}"
    );
    assert!(gap(&runs[at - 1], &runs[at]) < chrono::Duration::seconds(1), "{runs:#?}");
    assert_eq!(kind_and_trigger(&runs[at + 1]), ("recurring", "schedule"), "the request was served once: {runs:#?}");
    assert_eq!(runs.iter().filter(|run| run["kind"] == "daily").count(), 2, "{runs:#?}");
    let daily_checkins: Vec<Value> = tenant
        .seen_at("/api/v1/agent/checkin")
        .iter()
        .map(|seen| serde_json::from_str::<Value>(&seen.body).unwrap()["kind"].clone())
        .collect();
    assert_eq!(daily_checkins.iter().filter(|kind| *kind == "daily").count(), 2, "{daily_checkins:?}");
}

#[test]
fn a_dailycheckin_received_during_a_tenant_check_in_makes_the_next_scheduled_one_daily_not_an_immediate_one() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    let mut daemon = Daemon::start(&device, &["schedule.recurring_interval=3s", "schedule.daily_interval=1h"]);
    wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));
    let push = json!({"id": "cmd-push", "type": "blankpush"});
    let daily = json!({"id": "cmd-daily", "type": "dailycheckin"});
    tenant.change(|state| state.next_checkins = [vec![push], vec![daily]].into());
    wait_for_runs(&device, PATIENCE, |runs| runs.len() >= 4 && runs.iter().all(finished));
    assert!(daemon.stop().success());
    let runs = runs(&device);

    let seen: Vec<(&str, &str)> = runs.iter().take(4).map(kind_and_trigger).collect();
    assert_eq!(
        seen,
        [("daily", "schedule"), ("recurring", "schedule"), ("recurring", "tenant"), ("daily", "schedule")],
        "{runs:#?}"
    );
    let waited = time(&runs[3]["started_at"]) - time(&runs[2]["started_at"]);
    assert!(waited >= chrono::Duration::milliseconds(1500), "the daily one waited for its slot: {runs:#?}");
    assert!(runs.iter().skip(4).all(|run| run["kind"] == "recurring"), "served once: {runs:#?}");
}

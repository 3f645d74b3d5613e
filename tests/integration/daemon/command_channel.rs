//! The command channel through the real daemon: a command an admin queues on the
//! reference tenant starts its check-in within seconds, with the scheduled
//! check-ins an hour apart so nothing else explains it, and runs once though the
//! next check-in's reply carries it again; with the channel off the check-in
//! still delivers it, once; a tenant that stops and starts again on the same port
//! is reached again after pauses within `tenant.command_retry_max`; a tenant
//! without the endpoint (`404`: the test tenant, or the reference tenant started
//! without it) is asked once until the next daily check-in, and its check-ins
//! still deliver; a refused poll (`401`) leaves the device token alone; a reply
//! that is garbage, nested too deep or too large is an error with a pause, never a command.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};

use super::harness::{Daemon, finished, runs, time};
use crate::end_to_end::harness::{ENROLLMENT_SECRET, TOKEN, Tenant, enroll};
use crate::support::{Device, PATIENCE, blueprint, check_in, logged, logged_records, script};
use crate::tenant::configure;
use crate::tenant::server::TestTenant;

const LISTENING: &str = "Listening for the tenant's commands.";
const RECEIVED: &str = "The tenant asked for a check-in through the command channel; running it next.";
const ALREADY_RECEIVED: &str = "The tenant sent a command already received; it is acted on once.";
const SERVED: &str = "This check-in is the one the tenant asked for.";
const CANNOT_REACH: &str = "The command channel cannot reach the tenant; trying again after a pause.";
const STILL_CANNOT_REACH: &str = "The command channel still cannot reach the tenant.";
const REACHED_AGAIN: &str = "The command channel reaches the tenant again.";
const NOT_OFFERED: &str =
    "The tenant does not offer the command channel (404); asking again after the next daily check-in.";
const OFF: &str = "The command channel is off (tenant.command_channel, or no tenant).";
const REFUSED: &str =
    "The tenant refused the device token on the command channel (401); listening again after the next check-in.";
const COMMANDS_PATH: &str = "/api/v1/agent/commands";
const TOKEN_FILE: &str = "Library/Application Support/EndpointAgent/state/device-token.json";

/// `tenant.command_retry_max` in these tests, and so the longest pause after an error.
const RETRY_MAX: Duration = Duration::from_secs(2);

/// No scheduled check-in for an hour (only the channel explains a prompt one), the
/// daily one a day apart, polls held 2 s and pauses after errors at most [`RETRY_MAX`].
const SETTINGS: [&str; 4] = [
    "schedule.recurring_interval=1h",
    "schedule.daily_interval=24h",
    "tenant.command_wait=2s",
    "tenant.command_retry_max=2s",
];

/// Reads with `read` until `done` holds; fails after [`PATIENCE`] showing the last
/// reading and the device's whole log, so a slow or stuck channel says where it was.
fn wait_until<T: std::fmt::Debug>(device: &Device, read: impl Fn() -> T, done: impl Fn(&T) -> bool) -> T {
    let start = Instant::now();
    loop {
        let value = read();
        if done(&value) {
            return value;
        }
        assert!(start.elapsed() < PATIENCE, "never got there: {value:#?}\nthe log:\n{}", logged(device));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The log records with `message` once there are at least `count`.
fn wait_for_log(device: &Device, message: &str, count: usize) -> Vec<Value> {
    wait_until(device, || (message, logged_records(device, message)), |(_, records)| records.len() >= count).1
}

/// The device's runs once `done` says so.
fn wait_for_runs(device: &Device, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    wait_until(device, || runs(device), |runs| done(runs))
}

/// A blueprint whose one item succeeds.
fn succeeding() -> Value {
    blueprint(vec![script("li-ok", "Succeed", "#!/bin/sh\nexit 0\n")])
}

/// Starts the daemon with [`SETTINGS`] and `extra`; returns once its first (daily)
/// check-in has ended.
fn start_daemon(device: &Device, extra: &[&str]) -> Daemon {
    let settings: Vec<&str> = SETTINGS.iter().chain(extra).copied().collect();
    let daemon = Daemon::start(device, &settings);
    wait_for_runs(device, |runs| runs.first().is_some_and(finished));
    daemon
}

/// A reference tenant with one item that succeeds, a device enrolled with it, and
/// the daemon listening on the channel (the tenant holds its poll).
fn listening() -> (Device, Tenant, Daemon) {
    let device = Device::new();
    let tenant = Tenant::start(succeeding());
    enroll(&device, &tenant.url(), TOKEN);
    let daemon = start_daemon(&device, &[]);
    wait_for_log(&device, LISTENING, 1);
    wait_until(&device, || tenant.held_command_requests(), |held| *held == 1);
    (device, tenant, daemon)
}

/// Each run's kind and trigger.
fn kinds_and_triggers(runs: &[Value]) -> Vec<(String, String)> {
    let text = |value: &Value| value.as_str().unwrap().to_string();
    runs.iter().map(|run| (text(&run["kind"]), text(&run["trigger"]))).collect()
}

/// `expected` as [`kinds_and_triggers`] gives it.
fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(kind, trigger)| (kind.to_string(), trigger.to_string())).collect()
}

/// The records of `message` about command `id`.
fn about(device: &Device, message: &str, id: &str) -> Vec<Value> {
    logged_records(device, message).into_iter().filter(|record| record["command_id"] == id).collect()
}

/// Queues `action` on the tenant; waits for a finished check-in with trigger
/// `tenant`, checks it came through the channel, and prints how long it took to start.
fn queue_and_wait_for_tenant_check_in(device: &Device, tenant: &Tenant, action: &str) -> (String, Value) {
    let queued_at = Utc::now();
    let queued = tenant.queue_action(&tenant.device_id(), action);
    let id = queued["id"].as_str().expect("a command id").to_string();
    let is_tenant = |run: &Value| run["trigger"] == "tenant";
    let runs = wait_for_runs(device, |runs| runs.iter().any(|run| is_tenant(run) && finished(run)));
    let run = runs.into_iter().find(is_tenant).unwrap();
    let latency = time(&run["started_at"]) - queued_at;
    eprintln!("{action}: queued to check-in start {} ms", latency.num_milliseconds());
    assert_eq!(about(device, RECEIVED, &id).len(), 1, "the channel brought {id}");
    (id, run)
}

/// The tenant's one command, offered by the channel and then delivered by the
/// check-in it started (whose reply carried it again, logged as already received).
fn assert_offered_then_delivered(device: &Device, tenant: &Tenant, id: &str) {
    wait_for_log(device, ALREADY_RECEIVED, 1);
    assert_eq!(about(device, ALREADY_RECEIVED, id).len(), 1);
    assert_eq!(about(device, SERVED, id).len(), 1, "one check-in served {id}");
    let commands = tenant.commands();
    assert_eq!(commands.len(), 1, "{commands:#?}");
    let command = &commands[0];
    assert_eq!(command["id"], id);
    assert!(command["offered_at"].is_string() && command["delivered_at"].is_string(), "{command:#}");
    assert!(time(&command["offered_at"]) <= time(&command["delivered_at"]), "{command:#}");
    let checkins = tenant.checkins();
    assert_eq!(command["delivered_at"], checkins[1]["received_at"], "the tenant check-in took it: {checkins:#?}");
}

#[test]
fn a_blankpush_through_the_channel_starts_a_tenant_check_in_within_seconds_and_runs_once() {
    let (device, tenant, mut daemon) = listening();
    let (id, run) = queue_and_wait_for_tenant_check_in(&device, &tenant, "blankpush");
    assert_eq!(run["kind"], "recurring");
    assert_offered_then_delivered(&device, &tenant, &id);

    let forced = check_in(&device, &[]);
    assert_eq!((&forced["kind"], &forced["trigger"]), (&json!("recurring"), &json!("cli")), "{forced:#}");
    assert!(daemon.stop().success());
    let runs = runs(&device);
    let expected = pairs(&[("daily", "schedule"), ("recurring", "tenant"), ("recurring", "cli")]);
    assert_eq!(kinds_and_triggers(&runs), expected, "one check-in for the command: {runs:#?}");
    assert_eq!(tenant.checkins().len(), 3);
}

#[test]
fn a_dailycheckin_through_the_channel_runs_the_daily_check_in_once_with_trigger_tenant() {
    let (device, tenant, mut daemon) = listening();
    let (id, run) = queue_and_wait_for_tenant_check_in(&device, &tenant, "dailycheckin");
    assert_eq!(run["kind"], "daily", "{run:#}");
    assert_offered_then_delivered(&device, &tenant, &id);

    let forced = check_in(&device, &[]);
    assert_eq!(forced["kind"], "recurring", "the daily request was served: {forced:#}");
    assert!(daemon.stop().success());
    let expected = pairs(&[("daily", "schedule"), ("daily", "tenant"), ("recurring", "cli")]);
    assert_eq!(kinds_and_triggers(&runs(&device)), expected);
    let kinds: Vec<Value> = tenant.checkins().iter().map(|checkin| checkin["kind"].clone()).collect();
    assert_eq!(kinds, [json!("daily"), json!("daily"), json!("recurring")]);
}

#[test]
fn an_updateinventory_through_the_channel_runs_a_tenant_check_in_that_sends_one_inventory_report() {
    let (device, tenant, mut daemon) = listening();
    let inventories = |tenant: &Tenant| tenant.reports("inventory").len();
    wait_until(&device, || inventories(&tenant), |count| *count == 1);
    let (id, run) = queue_and_wait_for_tenant_check_in(&device, &tenant, "updateinventory");
    assert_eq!(run["kind"], "recurring", "{run:#}");
    wait_until(&device, || inventories(&tenant), |count| *count == 2);
    assert_offered_then_delivered(&device, &tenant, &id);

    check_in(&device, &[]);
    assert!(daemon.stop().success());
    assert_eq!(inventories(&tenant), 2, "one report for the command, none for the forced check-in");
    let expected = pairs(&[("daily", "schedule"), ("recurring", "tenant"), ("recurring", "cli")]);
    assert_eq!(kinds_and_triggers(&runs(&device)), expected);
}

#[test]
fn with_the_channel_off_a_queued_blankpush_is_delivered_by_the_next_check_in_and_runs_once() {
    let device = Device::new();
    let tenant = Tenant::start(succeeding());
    enroll(&device, &tenant.url(), TOKEN);
    let mut daemon = start_daemon(&device, &["tenant.command_channel=false"]);
    wait_for_log(&device, OFF, 1);
    let queued = tenant.queue_action(&tenant.device_id(), "blankpush");
    let id = queued["id"].as_str().unwrap();

    let forced = check_in(&device, &[]);
    assert_eq!(forced["trigger"], "cli");
    let tenant_run = |runs: &[Value]| runs.iter().any(|run| run["trigger"] == "tenant" && finished(run));
    wait_for_runs(&device, tenant_run);
    check_in(&device, &[]);
    assert_eq!(tenant.held_command_requests(), 0);
    assert!(daemon.stop().success());

    let expected = pairs(&[("daily", "schedule"), ("recurring", "cli"), ("recurring", "tenant"), ("recurring", "cli")]);
    assert_eq!(kinds_and_triggers(&runs(&device)), expected);
    assert_eq!(about(&device, SERVED, id).len(), 1);
    let command = &tenant.commands()[0];
    assert_eq!(command["offered_at"], Value::Null, "no poll ever asked: {command:#}");
    assert_eq!(command["delivered_at"], tenant.checkins()[1]["received_at"], "the forced check-in took it");
    assert!(logged_records(&device, LISTENING).is_empty());
}

#[test]
fn with_the_channel_off_no_request_reaches_the_command_endpoint() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", succeeding());
    configure(&device, &tenant.url(), "tok-1");
    let mut daemon = start_daemon(&device, &["tenant.command_channel=false"]);
    wait_for_log(&device, OFF, 1);
    tenant.change(|state| state.commands = vec![json!({"id": "cmd-push", "type": "blankpush"})]);
    check_in(&device, &[]);
    wait_for_runs(&device, |runs| runs.iter().any(|run| run["trigger"] == "tenant" && finished(run)));
    assert!(daemon.stop().success());

    assert_eq!(tenant.seen_at(COMMANDS_PATH).len(), 0);
    assert_eq!(tenant.seen_at("/api/v1/agent/checkin").len(), 3, "daily, forced, and the one the tenant asked for");
}

/// The `retry_in` of a pause record, as a duration.
fn retry_in(record: &Value) -> Duration {
    humantime::parse_duration(record["retry_in"].as_str().expect("a retry_in")).unwrap()
}

/// Each pause lies in the second half of a window no longer than [`RETRY_MAX`], and
/// the next attempt came no sooner than it said.
fn assert_paused_within_the_window(records: &[Value]) {
    for record in records {
        let pause = retry_in(record);
        assert!(RETRY_MAX / 2 <= pause && pause <= RETRY_MAX, "{record:#}");
    }
    for pair in records.windows(2) {
        let waited = time(&pair[1]["timestamp"]) - time(&pair[0]["timestamp"]);
        let pause = chrono::Duration::from_std(retry_in(&pair[0])).unwrap();
        // A record is timed a moment after its pause was set; a tenth of a second
        // covers a busy machine and still tells a pause of a second from none.
        assert!(waited >= pause - chrono::Duration::milliseconds(100), "{waited} after {pair:#?}");
    }
}

/// The command channel as `agent status --json` shows it.
fn channel_status(device: &Device) -> Value {
    device.status()["command_channel"].clone()
}

#[test]
fn a_tenant_restart_is_retried_after_pauses_within_the_longest_and_a_command_after_it_runs() {
    let (device, mut tenant, mut daemon) = listening();
    tenant.stop();
    wait_for_log(&device, CANNOT_REACH, 1);
    wait_for_log(&device, STILL_CANNOT_REACH, 2);
    let down = channel_status(&device);
    assert_eq!(down["state"], "unreachable", "agent status while the tenant is down: {down:#}");
    // The message is the streak's first error: the tenant's 503 as it shut down, or a refused connection.
    assert!(down["message"].as_str().is_some_and(|message| message.contains("the tenant")), "{down:#}");
    tenant.restart(|_| {});
    let (id, _) = queue_and_wait_for_tenant_check_in(&device, &tenant, "blankpush");
    let again = wait_for_log(&device, REACHED_AGAIN, 1);
    wait_until(&device, || channel_status(&device), |status| status["state"] == "listening");
    assert!(daemon.stop().success());
    assert_eq!(channel_status(&device)["state"], "closed", "the daemon stopped");

    let mut failures = logged_records(&device, CANNOT_REACH);
    assert_eq!(failures.len(), 1, "{failures:#?}");
    let still = logged_records(&device, STILL_CANNOT_REACH);
    let counted: Vec<u64> = still.iter().map(|record| record["failures"].as_u64().unwrap()).collect();
    assert_eq!(counted, (2..2 + counted.len() as u64).collect::<Vec<_>>(), "{still:#?}");
    failures.extend(still);
    assert_paused_within_the_window(&failures);
    assert_eq!(again.len(), 1, "{again:#?}");
    assert_eq!(again[0]["failures"].as_u64(), Some(failures.len() as u64));
    assert_eq!(about(&device, SERVED, &id).len(), 1);
    let expected = pairs(&[("daily", "schedule"), ("recurring", "tenant")]);
    assert_eq!(kinds_and_triggers(&runs(&device)), expected);
}

#[test]
fn a_tenant_without_the_endpoint_is_asked_once_until_the_next_daily_check_in_ends() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", succeeding());
    configure(&device, &tenant.url(), "tok-1");
    let mut daemon = start_daemon(&device, &[]);
    wait_for_log(&device, NOT_OFFERED, 1);
    wait_until(&device, || channel_status(&device), |status| status["state"] == "not_offered");
    let asked = || {
        // Polls come at once after each answer and are held 2 s at most: a channel
        // asking again would have asked within this pause.
        std::thread::sleep(Duration::from_secs(3));
        let seen = tenant.seen_at(COMMANDS_PATH);
        assert!(seen.iter().all(|seen| seen.status == 404), "{seen:#?}");
        seen.len()
    };
    // The channel opens when the daemon starts (the device holds a token), so it
    // asked once, and once more if its 404 came before the daemon's first (daily)
    // check-in ended.
    let before = asked();
    assert!((1..=2).contains(&before), "{before} requests");
    let not_offered = logged_records(&device, NOT_OFFERED).len();
    assert_eq!(check_in(&device, &[])["kind"], "recurring");
    assert_eq!(asked(), before, "a recurring check-in does not reopen it");

    assert_eq!(check_in(&device, &["--reset-daily"])["kind"], "daily");
    wait_for_log(&device, NOT_OFFERED, not_offered + 1);
    assert_eq!(asked(), before + 1, "asked again once after the daily check-in");
    assert!(daemon.stop().success());
}

#[test]
fn a_reference_tenant_without_the_channel_is_asked_again_after_a_daily_check_in_and_its_check_ins_deliver() {
    let device = Device::new();
    let tenant = Tenant::start_without_command_channel(succeeding());
    enroll(&device, &tenant.url(), TOKEN);
    let mut daemon = start_daemon(&device, &[]);
    wait_for_log(&device, NOT_OFFERED, 1);
    let queued = tenant.queue_action(&tenant.device_id(), "blankpush");
    let id = queued["id"].as_str().unwrap();

    assert_eq!(check_in(&device, &[])["trigger"], "cli");
    wait_for_runs(&device, |runs| runs.iter().any(|run| run["trigger"] == "tenant" && finished(run)));
    assert_eq!(check_in(&device, &["--reset-daily"])["kind"], "daily");
    wait_for_log(&device, NOT_OFFERED, 2);
    assert!(daemon.stop().success());

    let expected = pairs(&[("daily", "schedule"), ("recurring", "cli"), ("recurring", "tenant"), ("daily", "cli")]);
    assert_eq!(kinds_and_triggers(&runs(&device)), expected);
    assert_eq!(about(&device, SERVED, id).len(), 1);
    assert!(logged_records(&device, RECEIVED).is_empty());
    let command = &tenant.commands()[0];
    assert_eq!(command["offered_at"], Value::Null, "{command:#}");
    assert_eq!(command["delivered_at"], tenant.checkins()[1]["received_at"], "the forced check-in took it");
}

#[test]
fn a_poll_refused_with_401_leaves_the_device_token_file_alone() {
    let device = Device::new();
    let tenant = Tenant::start(succeeding());
    let profile = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>\
         <key>tenant.url</key><string>{}</string>\
         <key>tenant.enrollment_secret</key><string>{ENROLLMENT_SECRET}</string></dict></plist>",
        tenant.url()
    );
    device.write_file("Library/Managed Preferences/io.endpointagent.agent.plist", &profile);
    let mut daemon = start_daemon(&device, &[]);
    wait_for_log(&device, LISTENING, 1);
    let token_file = device.root().join(TOKEN_FILE);
    let issued = std::fs::read_to_string(&token_file).expect("the check-in stored a device token");

    tenant.revoke_token(&tenant.device_id());
    wait_for_log(&device, REFUSED, 1);
    let kept = std::fs::read_to_string(&token_file).expect("the refused poll left the token file");
    assert_eq!(kept, issued, "the poll kept the token file as it was");
    assert_eq!(std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777, 0o600);

    let forced = check_in(&device, &[]);
    assert_eq!(forced["outcome"], "succeeded", "the check-in enrolled again: {forced:#}");
    assert_ne!(std::fs::read_to_string(&token_file).unwrap(), issued, "the check-in replaced the revoked token");
    wait_for_log(&device, LISTENING, 2);
    wait_until(&device, || tenant.held_command_requests(), |held| *held == 1);
    assert!(daemon.stop().success());
}

#[test]
fn a_daemon_started_between_check_ins_listens_at_once_without_waiting_for_one() {
    let device = Device::new();
    let tenant = Tenant::start(succeeding());
    enroll(&device, &tenant.url(), TOKEN);
    assert_eq!(check_in(&device, &[])["kind"], "daily", "a device that checked in before the daemon started");
    let mut daemon = Daemon::start(&device, &SETTINGS);
    wait_for_log(&device, LISTENING, 1);
    wait_until(&device, || tenant.held_command_requests(), |held| *held == 1);
    assert_eq!(runs(&device).len(), 1, "listening with no check-in of the daemon's own");
    let (id, _) = queue_and_wait_for_tenant_check_in(&device, &tenant, "blankpush");
    assert!(daemon.stop().success());
    assert_eq!(about(&device, SERVED, &id).len(), 1);
    assert_eq!(kinds_and_triggers(&runs(&device)), pairs(&[("daily", "cli"), ("recurring", "tenant")]));
}

#[test]
fn a_channel_reply_that_is_garbage_too_deep_or_too_large_is_an_error_with_backoff_never_a_command() {
    let hostile = [
        ("<html>not json at all".to_string(), "cannot read"),
        (format!("{{\"commands\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000)), "deeper than"),
        (format!("{{\"commands\": [], \"pad\": \"{}\"}}", "x".repeat(5 << 20)), "larger than"),
    ];
    for (body, expected) in hostile {
        let device = Device::new();
        let tenant = TestTenant::start("tok-1", succeeding());
        configure(&device, &tenant.url(), "tok-1");
        tenant.change(|state| state.files = vec![(COMMANDS_PATH.to_string(), body)]);
        let mut daemon = start_daemon(&device, &[]);
        let failed = wait_for_log(&device, CANNOT_REACH, 1);
        assert!(failed[0]["error"].as_str().unwrap().contains(expected), "{failed:#?}");
        wait_for_log(&device, STILL_CANNOT_REACH, 1);
        assert!(daemon.try_status().is_some(), "the daemon carries on");
        assert!(daemon.stop().success());
        assert!(runs(&device).iter().all(|run| run["trigger"] != "tenant"), "nothing ran for the tenant");
        assert!(logged_records(&device, RECEIVED).is_empty());
    }
}

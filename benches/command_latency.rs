//! The command channel's latency, end to end: how long after an admin's action
//! the device checks in.
//!
//! `cargo bench --bench command_latency` (or `scripts/bench.sh`) starts the
//! reference tenant in this process on 127.0.0.1 serving 10 scripts, enrolls a
//! scratch device (`AGENT_ROOT`) to it and starts the release `agent daemon` with
//! `schedule.recurring_interval=1h`, so no scheduled check-in comes during the
//! measurement. Once its first check-in has ended and its command-channel poll is
//! held, it queues 20 `blankpush` actions one after another
//! (`POST /api/v1/devices/{id}/action/blankpush`, admin token), each after the
//! previous one's check-in ended (its results report arrived).
//!
//! The latency of an action is from just before its `POST` to the moment the
//! tenant received the check-in it started (`received_at` in the devices API),
//! both read from this machine's clock; the time the agent's run started (its
//! `started_at`, a little earlier) and its results' arrival are printed beside
//! it. Targets: median ≤ 2 s, worst ≤ 5 s. The figures are also written to
//! `target/bench/command_latency.json`; exits 1 when one misses its target or
//! an action started no check-in.

#[path = "support/agent_log.rs"]
mod agent_log;
#[path = "support/figures.rs"]
mod figures;
#[path = "support/tenant.rs"]
mod tenant;

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use figures::{Figure, cores};
use serde_json::{Value, json};
use tenant::Tenant;

/// The agent measured: the release build `cargo bench` made.
const AGENT: &str = env!("CARGO_BIN_EXE_agent");

/// How many actions are timed.
const ACTIONS: usize = 20;

/// How long an action's check-in (or the daemon's first) may take to show up
/// before the benchmark gives up on it; far above the targets, so a slow
/// machine shows a slow figure rather than no figure.
const PATIENCE: Duration = Duration::from_secs(60);

/// How often the devices API is read while waiting. It does not change the
/// figures, which come from the tenant's and the agent's own clocks.
const READ_INTERVAL: Duration = Duration::from_millis(50);

/// The pause between one action's check-in ending and the next action.
const BETWEEN_ACTIONS: Duration = Duration::from_millis(500);

/// What one action led to, in seconds after its `POST`.
struct Timing {
    /// The tenant received the check-in.
    checkin_received: f64,
    /// The agent's run started.
    run_started: f64,
    /// The run's results report arrived.
    results_received: f64,
    /// Whether the tenant held the device's long-poll when the action was queued.
    poll_held: bool,
}

fn main() -> ExitCode {
    let scratch = tempfile::Builder::new().prefix("endpoint-agent-bench.").tempdir().expect("a scratch folder");
    let root = scratch.path().join("device");
    std::fs::create_dir_all(&root).expect("the device's folder");
    println!("Endpoint Agent command latency: {AGENT}");
    println!("machine: {} cores, {}\n", cores(), std::env::consts::OS);

    let tenant = Tenant::start(blueprint());
    tenant.enroll(agent(&root), &scratch.path().join("token"));
    let mut daemon = agent(&root)
        .args(["daemon", "--set", "schedule.recurring_interval=1h"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the daemon starts");
    let timings = first_checkin(&tenant).map(|device_id| {
        println!("latency from POST .../action/blankpush to the tenant receiving the check-in it started");
        println!("(the agent's run start and its results' arrival beside it; seconds on this machine's clock)\n");
        (1..=ACTIONS).map_while(|number| timed_action(&tenant, &device_id, number)).collect::<Vec<_>>()
    });
    let _ = Command::new("kill").arg(daemon.id().to_string()).status();
    let _ = daemon.wait();
    let through_channel = agent_log::logged(&root, agent_log::CHANNEL_COMMAND);
    drop(tenant);
    let timings = match timings {
        Ok(timings) => timings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut figures = latency_figures(&timings, through_channel);
    if timings.len() < ACTIONS {
        println!("\nFAIL  action {} started no check-in within {} s", timings.len() + 1, PATIENCE.as_secs());
        figures.push(missing_actions(timings.len()));
    }
    for figure in &figures {
        println!("{}", figure.line());
    }
    let context = json!({ "agent": AGENT, "measured_to": "the tenant's received_at of the check-in", "actions": details(&timings) });
    figures::finish("command_latency.json", &figures, context)
}

/// Waits for the daemon's first check-in to end and its command channel to hold a
/// poll; the device's id.
fn first_checkin(tenant: &Tenant) -> Result<String, String> {
    let device_id = tenant
        .wait_for(PATIENCE, READ_INTERVAL, |tenant| {
            let device_id = tenant.device_id()?;
            (!tenant.results(&device_id).is_empty()).then_some(device_id)
        })
        .ok_or("the daemon's first check-in never ended")?;
    tenant
        .wait_for(PATIENCE, READ_INTERVAL, |tenant| (tenant.held_command_requests() > 0).then_some(()))
        .ok_or("the daemon never held a command-channel poll after its first check-in")?;
    Ok(device_id)
}

/// Queues one `blankpush` and waits for the check-in it starts and that check-in's
/// results; prints and returns its timing, or `None` when none came in time.
fn timed_action(tenant: &Tenant, device_id: &str, number: usize) -> Option<Timing> {
    std::thread::sleep(BETWEEN_ACTIONS);
    let checkins_before = tenant.checkins(device_id).len();
    let results_before = tenant.results(device_id).len();
    let poll_held = tenant.held_command_requests() > 0;
    let posted_at = Utc::now();
    let (status, reply) =
        tenant.request(reqwest::Method::POST, &format!("/api/v1/devices/{device_id}/action/blankpush"));
    assert_eq!(status, 202, "the blankpush is queued: {reply}");
    let (checkin, run, results_at) = tenant.wait_for(PATIENCE, READ_INTERVAL, |tenant| {
        let results = tenant.results(device_id);
        let report = results.get(results_before)?;
        let checkin = tenant.checkins(device_id).get(checkins_before)?.clone();
        Some((checkin, report["body"]["run"].clone(), time(&report["received_at"])?))
    })?;
    assert_eq!(run["trigger"], "tenant", "the run was started by the tenant's command: {run}");
    assert_eq!(checkin["kind"], "recurring", "a blankpush starts a recurring check-in: {checkin}");
    let since_post = |at: DateTime<Utc>| (at - posted_at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
    let timing = Timing {
        checkin_received: since_post(time(&checkin["received_at"]).expect("the check-in's received_at")),
        run_started: since_post(time(&run["started_at"]).expect("the run's started_at")),
        results_received: since_post(results_at),
        poll_held,
    };
    println!(
        "action {number:>2}: check-in received {:>7.3} s  (run started {:>7.3} s, results {:>7.3} s; poll held: {})",
        timing.checkin_received,
        timing.run_started,
        timing.results_received,
        if poll_held { "yes" } else { "no" }
    );
    Some(timing)
}

/// The median and worst latency to the check-in's arrival, against their targets.
fn latency_figures(timings: &[Timing], through_channel: usize) -> Vec<Figure> {
    let mut received: Vec<f64> = timings.iter().map(|timing| timing.checkin_received).collect();
    let mut started: Vec<f64> = timings.iter().map(|timing| timing.run_started).collect();
    received.sort_by(f64::total_cmp);
    started.sort_by(f64::total_cmp);
    let held = timings.iter().filter(|timing| timing.poll_held).count();
    let count = timings.len();
    let median = |sorted: &[f64]| sorted.get(sorted.len() / 2).copied().unwrap_or(f64::INFINITY);
    let worst = |sorted: &[f64]| sorted.last().copied().unwrap_or(f64::INFINITY);
    println!();
    vec![
        Figure {
            name: "blankpush to check-in, median",
            value: median(&received),
            unit: "s",
            target: 2.0,
            detail: format!(
                "{count} actions, to the tenant receiving the check-in; run start {:.3} s; \
                 {through_channel} came through the channel, poll held at {held} POSTs",
                median(&started)
            ),
        },
        Figure {
            name: "blankpush to check-in, worst",
            value: worst(&received),
            unit: "s",
            target: 5.0,
            detail: format!("of {count}; run start {:.3} s", worst(&started)),
        },
    ]
}

/// A failing figure for the actions that started no check-in.
fn missing_actions(timed: usize) -> Figure {
    Figure {
        name: "blankpush actions without a check-in",
        value: (ACTIONS - timed) as f64,
        unit: "actions",
        target: 0.0,
        detail: format!("none within {} s", PATIENCE.as_secs()),
    }
}

/// Every action's timing, for the results file.
fn details(timings: &[Timing]) -> Value {
    timings
        .iter()
        .map(|timing| {
            json!({
                "checkin_received_s": timing.checkin_received, "run_started_s": timing.run_started,
                "results_received_s": timing.results_received, "poll_held": timing.poll_held,
            })
        })
        .collect()
}

/// 10 script items whose audit is `exit 0`, checked every 15 minutes.
fn blueprint() -> Value {
    let items: Vec<Value> = (0..10)
        .map(|number| {
            json!({
                "id": format!("script-{number:02}"), "name": format!("Script {number:02}"),
                "type": "custom_script", "frequency": "every_15_min", "audit": "#!/bin/sh\nexit 0\n",
            })
        })
        .collect();
    json!({ "id": "bp-bench", "name": "Benchmark", "library_items": items })
}

fn agent(root: &Path) -> Command {
    let mut command = Command::new(AGENT);
    command.env("AGENT_ROOT", root).env_remove("OTEL_EXPORTER_OTLP_ENDPOINT").stdin(Stdio::null());
    command
}

/// An RFC 3339 time in a JSON value.
fn time(value: &Value) -> Option<DateTime<Utc>> {
    Some(DateTime::parse_from_rfc3339(value.as_str()?).ok()?.with_timezone(&Utc))
}

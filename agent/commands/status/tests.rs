//! `agent status` as people and scripts read it: text snapshots, the JSON keys,
//! and what the store says about the schedule, the spool and pending work.

use chrono::TimeZone;

use super::*;
use crate::plan::CheckinKind;
use crate::state::{ItemRecord, ItemStatus, Trigger};

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, second).unwrap()
}

fn item(name: &str, status: ItemStatus, duration_ms: u64, message: &str) -> ItemRecord {
    ItemRecord {
        id: format!("li-{name}"),
        name: name.into(),
        item_type: "custom_script".into(),
        status,
        started_at: at(1),
        finished_at: at(2),
        duration_ms,
        exit_code: Some(0),
        message: message.into(),
        output: String::new(),
    }
}

fn report() -> StatusReport {
    StatusReport {
        agent_version: "0.1.0".into(),
        last_recurring_at: Some(at(0)),
        last_daily_at: Some(at(0)),
        next_recurring_at: Some(at(0) + chrono::Duration::minutes(15)),
        next_daily_at: Some(at(0) + chrono::Duration::hours(24)),
        drift: Drift { reapplied: 1, ..Drift::default() },
        running: None,
        spool: SpoolStatus { waiting: 2, parked: 1, next_attempt: Some(at(0) + chrono::Duration::minutes(4)) },
        store: StoreStatus::default(),
        last_run: Some(RunRecord {
            blueprint_id: Some("bp-eng".into()),
            items: vec![
                item("Login banner", ItemStatus::Succeeded, 130, "remediated: the audit passed after the remediation"),
                item(
                    "Disk\nspace",
                    ItemStatus::Failed,
                    2400,
                    "not compliant: the audit exited 1 and there is no remediation",
                ),
                item("Slow", ItemStatus::TimedOut, 3_600_000, "exceeded its 1h timeout: timed out during the audit"),
                item("Diagnostics", ItemStatus::Skipped, 0, "no enforcement: never run by schedule"),
                item("Later", ItemStatus::NotRun, 0, "the run's 12h budget ran out before this item"),
            ],
            ..RunRecord::begun("0193a4f2-run", CheckinKind::Daily, Trigger::Cli, at(0))
                .finished(at(5), RunOutcome::Failed)
        }),
        agent_update: None,
        pending_work: Vec::new(),
        command_channel: Some(ChannelStatus {
            state: ChannelState::Unreachable,
            since: at(3),
            message: Some("the tenant could not be reached: connection refused".into()),
            daemon_pid: 4242,
        }),
    }
}

#[test]
fn status_reads_well() {
    insta::assert_snapshot!(render(&report()));
}

#[test]
fn status_json_has_the_contract_keys() {
    insta::assert_json_snapshot!(report());
}

#[test]
fn the_next_check_ins_follow_the_device_schedule() {
    let (_folder, store) = Store::scratch();
    let quarter = std::time::Duration::from_secs(15 * 60);
    let cadence = Cadence { recurring_interval: quarter, daily_interval: std::time::Duration::from_secs(24 * 3600) };
    let now = at(0);
    let (recurring, daily) = next_check_ins(&store, &cadence, now).unwrap();
    assert_eq!(daily, None, "never ran: the daily check-in is due now");
    let recurring = recurring.unwrap();
    let splay = schedule::splay(&store.device_id().unwrap(), quarter).as_millis() as i64;
    assert_eq!(recurring.timestamp_millis().rem_euclid(quarter.as_millis() as i64), splay, "on the device's grid");
    let after_the_daily = recurring - now;
    assert!(after_the_daily >= chrono::Duration::seconds(450) && after_the_daily < chrono::Duration::seconds(1350));

    let mut run = report().last_run.unwrap();
    run.header.started_at = recurring;
    store.begin_run(&run, 1).unwrap();
    store.finish_run(&run.header.id, recurring, RunOutcome::Succeeded, &Drift::default()).unwrap();
    let soon = recurring + chrono::Duration::minutes(1);
    let (recurring_after, daily) = next_check_ins(&store, &cadence, soon).unwrap();
    assert_eq!(recurring_after, Some(recurring + chrono::Duration::minutes(15)));
    assert_eq!(daily, Some(recurring + chrono::Duration::hours(24)));
    store.request_daily().unwrap();
    assert_eq!(next_check_ins(&store, &cadence, soon).unwrap().1, None, "asked for: due now");
}

#[test]
fn the_last_agent_update_shows_in_text_and_json() {
    let mut report = report();
    report.agent_update = Some(AgentUpdate {
        id: 7,
        at: at(9),
        from: "0.1.0".into(),
        to: Some("0.2.0".into()),
        sha256: Some("ab".repeat(32)),
        outcome: crate::state::AgentUpdateOutcome::ChecksumMismatch,
        message: "sha256 mismatch for https://updates.example.com/agent-0.2.0.pkg: expected abab…".into(),
    });
    let text = render(&report);
    let line = text.lines().find(|line| line.starts_with("Agent update:")).unwrap();
    insta::assert_snapshot!(line);
    let json = serde_json::to_value(&report).unwrap();
    insta::assert_json_snapshot!(json["agent_update"]);
}

#[test]
fn a_damaged_or_rebuilt_store_shows_in_one_line_and_a_sound_one_in_none() {
    let line = |store: StoreStatus| {
        let text = render(&StatusReport { store, ..report() });
        text.lines().find(|line| line.starts_with("State store:")).map(str::to_string)
    };
    assert_eq!(line(StoreStatus::default()), None);
    let damaged =
        StoreStatus { damaged: Some("state store /s/agent.sqlite3 is damaged: \u{1b}[2J".into()), rebuilt: None };
    let rebuilt = StoreRebuilt { at: at(3), reason: "cut short".into(), moved_to: "/s/agent.sqlite3.damaged-x".into() };
    insta::assert_snapshot!(
        [line(damaged).unwrap(), line(StoreStatus { damaged: None, rebuilt: Some(rebuilt) }).unwrap()].join("\n")
    );
    let drift = Drift { store_rebuilt: true, ..Drift::default() };
    assert_eq!(drift_text(&drift), "store rebuilt");
}

#[test]
fn an_install_cut_short_shows_as_the_next_check_in_will_settle_it() {
    let (_folder, store) = Store::scratch();
    let installing = AgentUpdate {
        id: 0,
        at: at(9),
        from: "0.0.1".into(),
        to: Some(env!("CARGO_PKG_VERSION").into()),
        sha256: Some("ab".repeat(32)),
        outcome: crate::state::AgentUpdateOutcome::Installing,
        message: String::new(),
    };
    store.add_agent_update(&installing).unwrap();
    let outcome = |running| agent_update(&store, running).unwrap().unwrap().outcome.as_str();
    assert_eq!(outcome(true), "installing", "the check-in holding the lock is installing it");
    assert_eq!(outcome(false), "installed", "this agent runs the version it was installing");
}

#[test]
fn the_spool_shows_what_waits_until_when_and_what_is_parked() {
    let (_folder, store) = Store::scratch();
    assert_eq!(spool_status(&store).unwrap(), SpoolStatus::default());
    assert_eq!(spool_text(&SpoolStatus::default()), "empty");
    for id in ["r1", "r2", "r3"] {
        store.spool_add(id, "/api/v1/agent/results", "{}", at(0)).unwrap();
    }
    let spool = spool_status(&store).unwrap();
    assert_eq!((spool.waiting, spool.parked, spool.next_attempt), (3, 0, None), "due at the next check-in");
    store.spool_retry_later("r1", at(0) + chrono::Duration::minutes(1), "tenant down").unwrap();
    store.spool_park("r3", "422: malformed").unwrap();
    let spool = spool_status(&store).unwrap();
    assert_eq!(spool, SpoolStatus { waiting: 2, parked: 1, next_attempt: Some(at(0) + chrono::Duration::minutes(1)) });
    let json = serde_json::to_value(&spool).unwrap();
    assert_eq!(json, serde_json::json!({"waiting": 2, "parked": 1, "next_attempt": "2026-11-25T09:01:00Z"}));
}

#[test]
fn pending_work_and_the_items_that_wait_on_the_person_show_in_text_and_json() {
    let mut report = report();
    report.pending_work = pending_work::tests::examples();
    report.drift = Drift { deferred: 1, waiting_for_user: 1, ..Drift::default() };
    let run = report.last_run.as_mut().unwrap();
    run.header.outcome = Some(RunOutcome::Succeeded);
    run.items = vec![
        item("Foo", ItemStatus::Deferred, 850, "deferred: Foo is running (pid 123); it is installed once Foo quits"),
        item(
            "macOS updates",
            ItemStatus::WaitingForUser,
            1200,
            "waiting for the person: macOS Sonoma 14.7.1 can only be installed on this Apple silicon Mac by the person at it",
        ),
    ];
    insta::assert_snapshot!(render(&report));
    let json = serde_json::to_value(&report).unwrap();
    insta::assert_json_snapshot!(serde_json::json!({ "drift": json["drift"], "pending_work": json["pending_work"] }));
}

#[test]
fn a_store_without_pending_work_shows_an_empty_list() {
    let (_folder, store) = Store::scratch();
    assert_eq!(store.all_pending_work().unwrap(), []);
    let json = serde_json::to_value(report()).unwrap();
    assert_eq!(json["pending_work"], serde_json::json!([]));
    assert!(!render(&report()).contains("Pending disruptive work"));
}

#[test]
fn a_device_that_never_checked_in_says_so() {
    let mut report = report();
    report.last_run = None;
    report.last_daily_at = None;
    report.next_daily_at = None;
    report.running = Some(Holder { pid: 42, started_at: at(9) });
    report.spool = SpoolStatus::default();
    insta::assert_snapshot!(render(&report));
}

#[test]
fn the_command_channel_line_says_where_it_stands_and_when_it_asks_again() {
    let line = |state, message: Option<&str>| {
        channel_text(&ChannelStatus { state, since: at(0), message: message.map(str::to_string), daemon_pid: 1 })
    };
    assert_eq!(line(ChannelState::Listening, None), "listening since 2026-11-25T09:00:00Z");
    assert_eq!(line(ChannelState::Off, None), "off since 2026-11-25T09:00:00Z (tenant.command_channel, or no tenant)");
    assert!(line(ChannelState::NotEnrolled, None).ends_with("for the device to enroll (at the next check-in)"));
    assert!(
        line(ChannelState::NotOffered, None)
            .ends_with("(404) since 2026-11-25T09:00:00Z; asked again after the next daily check-in")
    );
    assert!(line(ChannelState::Unauthorized, None).ends_with("asked again after the next check-in"));
    assert_eq!(
        line(ChannelState::Unreachable, Some("timed out\u{1b}[2J")),
        "cannot reach the tenant since 2026-11-25T09:00:00Z (timed out\\u{1b}[2J); trying again after pauses"
    );
    assert_eq!(line(ChannelState::Closed, None), "closed (the daemon is not running)");
}

//! The records' JSON shapes (status, history, the results report) and the
//! drift's counts of items that wait on the person.

use chrono::TimeZone;

use super::*;

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, second).unwrap()
}

fn header(outcome: Option<RunOutcome>) -> RunHeader {
    RunHeader {
        finished_at: outcome.map(|_| at(9)),
        outcome,
        ..RunHeader::begun("run-1".into(), CheckinKind::Daily, Trigger::Cli, at(1))
    }
}

/// The shape `agent status --json`, the daemon's socket and the results report
/// to the tenant show: the header's fields at the top level, in this order.
#[test]
fn a_run_record_keeps_its_json_shape() {
    let item = ItemRecord { message: "remediated".into(), ..ItemRecord::ended("li-1", ItemStatus::Succeeded, at(2)) };
    let run = RunRecord {
        header: header(Some(RunOutcome::Failed)),
        blueprint_id: Some("bp".into()),
        drift: Drift { reapplied: 1, ..Drift::default() },
        message: Some("the record of this run is incomplete".into()),
        parameters: Vec::new(),
        items: vec![item],
    };
    let json = concat!(
        r#"{"id":"run-1","kind":"daily","trigger":"cli","started_at":"2026-12-06T10:00:01Z","#,
        r#""finished_at":"2026-12-06T10:00:09Z","outcome":"failed","blueprint_id":"bp","#,
        r#""drift":{"outdated_client":false,"missing_policy":false,"stale_token":false,"reapplied":1,"store_rebuilt":false,"deferred":0,"waiting_for_user":0},"#,
        r#""message":"the record of this run is incomplete","parameters":[],"#,
        r#""items":[{"id":"li-1","name":"li-1","type":"custom_script","status":"succeeded","#,
        r#""started_at":"2026-12-06T10:00:02Z","finished_at":"2026-12-06T10:00:02Z","duration_ms":5,"#,
        r#""exit_code":0,"message":"remediated","output":"out"}]}"#,
    );
    assert_eq!(serde_json::to_string(&run).unwrap(), json);
    assert_eq!(serde_json::from_str::<RunRecord>(json).unwrap(), run);

    let running = RunRecord { header: header(None), message: None, items: Vec::new(), ..run };
    let json = concat!(
        r#"{"id":"run-1","kind":"daily","trigger":"cli","started_at":"2026-12-06T10:00:01Z","#,
        r#""finished_at":null,"outcome":null,"blueprint_id":"bp","#,
        r#""drift":{"outdated_client":false,"missing_policy":false,"stale_token":false,"reapplied":1,"store_rebuilt":false,"deferred":0,"waiting_for_user":0},"#,
        r#""parameters":[],"items":[]}"#,
    );
    assert_eq!(serde_json::to_string(&running).unwrap(), json);
    assert_eq!(serde_json::from_str::<RunRecord>(json).unwrap(), running);
}

/// The shape of one line of `agent history --json`.
#[test]
fn a_run_summary_keeps_its_json_shape() {
    let counts = StatusCounts { succeeded: 3, failed: 1, ..StatusCounts::default() };
    let summary = RunSummary { header: header(Some(RunOutcome::Failed)), message: Some("incomplete".into()), counts };
    assert_eq!(
        serde_json::to_string(&summary).unwrap(),
        concat!(
            r#"{"id":"run-1","kind":"daily","trigger":"cli","started_at":"2026-12-06T10:00:01Z","#,
            r#""finished_at":"2026-12-06T10:00:09Z","outcome":"failed","message":"incomplete","#,
            r#""counts":{"succeeded":3,"failed":1,"timed_out":0,"skipped":0,"not_run":0,"deferred":0,"waiting_for_user":0}}"#,
        )
    );
    let running = RunSummary { header: header(None), message: None, ..summary };
    assert_eq!(
        serde_json::to_string(&running).unwrap(),
        concat!(
            r#"{"id":"run-1","kind":"daily","trigger":"cli","started_at":"2026-12-06T10:00:01Z","#,
            r#""finished_at":null,"outcome":null,"#,
            r#""counts":{"succeeded":3,"failed":1,"timed_out":0,"skipped":0,"not_run":0,"deferred":0,"waiting_for_user":0}}"#,
        )
    );
}

#[test]
fn drift_counts_the_items_that_wait_on_the_person_and_older_records_read_as_none() {
    let item = |status| ItemRecord::ended("li", status, at(2));
    let items = [
        item(ItemStatus::Deferred),
        item(ItemStatus::Succeeded),
        item(ItemStatus::WaitingForUser),
        item(ItemStatus::Deferred),
    ];
    let mut drift = Drift { deferred: 9, reapplied: 2, ..Drift::default() };
    drift.count_waiting(&items);
    assert_eq!((drift.deferred, drift.waiting_for_user, drift.reapplied), (2, 1, 2));
    let older = r#"{"outdated_client":false,"missing_policy":true,"stale_token":false,"reapplied":0}"#;
    let older: Drift = serde_json::from_str(older).unwrap();
    assert_eq!((older.deferred, older.waiting_for_user, older.missing_policy), (0, 0, true));
}

//! Tests of reading log files back: real files in temporary folders.

use std::ops::ControlFlow;
use std::path::Path;

use super::*;
use serde_json::json;

const RUN_A: &str = "0193aaaa-0000-7000-8000-000000000001";
const RUN_B: &str = "0193bbbb-0000-7000-8000-000000000002";

/// A stored line as the JSON formatter writes it, `timestamp` first.
fn stored(time: &str, level: &str, message: &str, fields: Value) -> String {
    let mut line = format!(r#"{{"timestamp":{},"level":{},"message":{}"#, json!(time), json!(level), json!(message));
    for (key, value) in fields.as_object().into_iter().flatten() {
        line.push_str(&format!(",{}:{value}", json!(key)));
    }
    line + r#","target":"endpoint_agent::checkin"}"#
}

/// The span list the formatter writes inside a `checkin` span.
fn in_checkin(run_id: &str) -> Value {
    let span = json!({ "run_id": run_id, "kind": "daily", "name": "checkin" });
    json!({ "span": span.clone(), "spans": [span] })
}

fn record(line: &str) -> LogRecord {
    parse_line(line.as_bytes()).0.expect("a whole record")
}

fn write_files(folder: &Path, files: &[(&str, Vec<String>)]) {
    for (name, lines) in files {
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        std::fs::write(folder.join(name), text).expect("fixture written");
    }
}

#[test]
fn file_names_say_whether_and_where_a_file_sorts() {
    let cases = [
        ("agent.2026-11-25.log", Some((Some("2026-11-25"), 0))),
        ("agent.2026-11-25.3.log", Some((Some("2026-11-25"), 3))),
        ("agent.2026-11-25.12.log", Some((Some("2026-11-25"), 12))),
        ("agent.2026-11-25-13.log", Some((Some("2026-11-25-13"), 0))),
        ("agent.log", Some((None, 0))),
        ("agent..log", None),
        ("agentlog", None),
        ("agent.2026-11-25.log.gz", None),
        ("other.2026-11-25.log", None),
        ("agent-2026-11-25.log", None),
    ];
    for (name, expected) in cases {
        let expected = expected.map(|(date, part)| (date.map(str::to_string), part));
        assert_eq!(file_order(name), expected, "{name}");
    }
}

#[test]
fn lines_parse_into_records_or_are_skipped() {
    let whole = stored("2026-11-25T16:53:54.123456Z", "INFO", "Run started.", json!({}));
    let torn = &whole[..whole.len() / 2];
    let cases: Vec<(&str, Vec<u8>, Option<&str>, usize)> = vec![
        ("whole", whole.clone().into_bytes(), Some("Run started."), 0),
        ("torn", torn.as_bytes().to_vec(), None, 1),
        ("torn, then a whole one", format!("{torn}{whole}").into_bytes(), Some("Run started."), 1),
        ("not json", b"panicked at src/main.rs".to_vec(), None, 1),
        ("not an object", b"[1,2]".to_vec(), None, 1),
        ("no level", br#"{"timestamp":"2026-11-25T16:53:54Z","message":"x"}"#.to_vec(), None, 1),
        ("bad time", br#"{"timestamp":"yesterday","level":"INFO"}"#.to_vec(), None, 1),
        ("bad level", br#"{"timestamp":"2026-11-25T16:53:54Z","level":"LOUD"}"#.to_vec(), None, 1),
        ("not utf-8", b"{\"timestamp\":\"\xff\"}".to_vec(), None, 1),
        ("no message", br#"{"timestamp":"2026-11-25T16:53:54Z","level":"INFO"}"#.to_vec(), Some(""), 0),
    ];
    for (name, line, message, skipped) in cases {
        let (record, skipped_lines) = parse_line(&line);
        assert_eq!(record.map(|record| record.message), message.map(str::to_string), "{name}");
        assert_eq!(skipped_lines, skipped, "{name}");
    }
}

#[test]
fn span_fields_merge_under_the_event_fields() {
    let mut fields = in_checkin(RUN_A);
    fields["spans"] = json!([
        { "run_id": RUN_A, "kind": "daily", "name": "checkin" },
        { "item_id": "li-1", "kind": "item", "name": "item" },
    ]);
    fields["span"] = json!({ "item_id": "li-1", "kind": "item", "name": "item" });
    fields["status"] = json!("succeeded");
    fields["item_id"] = json!("li-2");
    let record = record(&stored("2026-11-25T16:53:54Z", "INFO", "Item finished.", fields));
    let expected = json!({ "run_id": RUN_A, "kind": "item", "item_id": "li-2", "status": "succeeded" });
    assert_eq!(Value::Object(record.fields), expected);
    assert_eq!(record.level, LogLevel::Info);
}

#[test]
fn files_are_read_oldest_first_and_torn_lines_counted() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let line = |time: &str, message: &str| stored(time, "INFO", message, json!({}));
    let torn_last = line("2026-11-25T23:59:59Z", "lost")[..30].to_string();
    write_files(
        folder.path(),
        &[
            ("agent.2026-11-25.log", vec![line("2026-11-25T08:00:00Z", "third"), torn_last]),
            ("agent.2026-11-23.log", vec![line("2026-11-23T08:00:00Z", "first")]),
            ("agent.2026-11-24.log", vec![line("2026-11-24T08:00:00Z", "second"), String::new()]),
            ("agent.log", vec![line("2026-01-01T08:00:00Z", "oldest, from before rotation")]),
            ("notes.txt", vec![line("2026-11-26T08:00:00Z", "not a log file")]),
        ],
    );
    std::fs::create_dir(folder.path().join("agent.2026-11-26.log")).expect("a folder");
    write_files(folder.path(), &[("agent.2026-11-24.1.log", vec![line("2026-11-24T09:00:00Z", "second, part 1")])]);
    let mut messages = Vec::new();
    let read = for_each_record(folder.path(), &LogFilter::default(), |record| {
        messages.push(record.message);
        ControlFlow::Continue(())
    })
    .expect("readable");
    assert_eq!(messages, ["oldest, from before rotation", "first", "second", "second, part 1", "third"]);
    assert_eq!((read.skipped_lines, read.files_read), (1, 5));
}

#[test]
fn a_line_past_the_limit_is_skipped_and_counted_and_the_rest_read() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let line = |message: &str| stored("2026-11-25T08:00:00Z", "INFO", message, json!({}));
    let huge = line(&"x".repeat(MAX_LINE_BYTES));
    write_files(folder.path(), &[("agent.2026-11-25.log", vec![line("before"), huge, line("after")])]);
    let mut messages = Vec::new();
    let read = for_each_record(folder.path(), &LogFilter::default(), |record| {
        messages.push(record.message);
        ControlFlow::Continue(())
    })
    .expect("readable");
    assert_eq!(messages, ["before", "after"]);
    assert_eq!((read.overlong_lines, read.skipped_lines), (1, 0));
}

#[test]
fn a_missing_folder_holds_no_records() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let read = for_each_record(&folder.path().join("never-made"), &LogFilter::default(), |_| ControlFlow::Continue(()));
    assert_eq!(read.expect("not an error"), ReadSummary::default());
}

#[test]
fn a_file_where_the_folder_should_be_is_an_error() {
    let file = tempfile::NamedTempFile::new().expect("temporary file");
    let error = read_records(file.path(), &LogFilter::default()).expect_err("not a folder");
    assert!(matches!(error, LogReadError::ListFolder { .. }), "{error:?}");
}

fn by_run(run_id: &str) -> LogFilter {
    LogFilter { run_id: Some(run_id.into()), ..Default::default() }
}

fn by_item(item: &str) -> LogFilter {
    LogFilter { item: Some(item.into()), ..Default::default() }
}

fn by_level(minimum_level: LogLevel) -> LogFilter {
    LogFilter { minimum_level: Some(minimum_level), ..Default::default() }
}

fn since(time: &str) -> LogFilter {
    let time = DateTime::parse_from_rfc3339(time).expect("a time");
    LogFilter { since: Some(time.with_timezone(&Utc)), ..Default::default() }
}

/// Four records: a run's start (run on the span), one of its items, another run's
/// failure (run on the event, numeric item id), and a line outside any run.
fn four_records() -> [LogRecord; 4] {
    let mut item_fields = in_checkin(RUN_A);
    item_fields["item_id"] = json!("li-1");
    item_fields["item_name"] = json!("Set hostname");
    let other_run = json!({ "run_id": RUN_B, "item_id": 7 });
    [
        record(&stored("2026-11-25T10:00:00Z", "INFO", "0", in_checkin(RUN_A))),
        record(&stored("2026-11-25T10:00:01Z", "WARN", "1", item_fields)),
        record(&stored("2026-11-25T11:00:00Z", "ERROR", "2", other_run)),
        record(&stored("2026-11-25T12:00:00Z", "DEBUG", "3", json!({}))),
    ]
}

#[test]
fn each_filter_keeps_only_what_it_names() {
    let run_and_level = LogFilter { minimum_level: Some(LogLevel::Warn), ..by_run(RUN_A) };
    let cases = [
        ("nothing set", LogFilter::default(), "0123"),
        ("run on the span", by_run(RUN_A), "01"),
        ("run on the event", by_run(RUN_B), "2"),
        ("run prefix only", by_run("0193"), ""),
        ("item by name", by_item("Set hostname"), "1"),
        ("item by id", by_item("li-1"), "1"),
        ("item by numeric id", by_item("7"), "2"),
        ("item name in another case", by_item("set hostname"), ""),
        ("warn and worse", by_level(LogLevel::Warn), "12"),
        ("trace and worse", by_level(LogLevel::Trace), "0123"),
        ("since, inclusive", since("2026-11-25T11:00:00Z"), "23"),
        ("since, after all", since("2026-11-26T00:00:00Z"), ""),
        ("run and level together", run_and_level, "1"),
    ];
    let records = four_records();
    for (name, filter, expected) in cases {
        let kept: String =
            records.iter().filter(|record| filter.matches(record)).map(|record| record.message.as_str()).collect();
        assert_eq!(kept, expected, "{name}");
    }
}

#[test]
fn records_render_as_one_readable_line() {
    let mut item_fields = in_checkin(RUN_A);
    for (key, value) in [
        ("item_id", json!("li-1")),
        ("item_name", json!("Set hostname")),
        ("item_type", json!("custom_script")),
        ("status", json!("succeeded")),
        ("duration_ms", json!(12)),
    ] {
        item_fields[key] = value;
    }
    let cases = [
        (
            stored("2026-11-25T16:53:54.123456Z", "INFO", "Item finished.", item_fields),
            format!("2026-11-25T16:53:54.123Z  INFO run={RUN_A} item=\"Set hostname\" Item finished. duration_ms=12 item_id=li-1 item_type=custom_script kind=daily status=succeeded"),
        ),
        (
            stored("2026-11-25T16:53:54+01:00", "ERROR", "Audit failed.\nSee output.", json!({ "item_id": "li-9", "output": "", "exit": null, "tags": ["a b"], "path": "/tmp/x=y" })),
            "2026-11-25T15:53:54.000Z ERROR item=li-9 Audit failed.\\nSee output. exit=null output=\"\" path=\"/tmp/x=y\" tags=[\"a b\"]".to_string(),
        ),
        (
            r#"{"timestamp":"2026-11-25T16:53:54Z","level":"DEBUG","threadId":"ThreadId(2)","filename":"a.rs","line_number":3}"#.to_string(),
            "2026-11-25T16:53:54.000Z DEBUG".to_string(),
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(render_line(&record(&line)), expected);
    }
}

#[test]
fn check_in_events_come_back_with_their_run_and_item() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let crate::logging::LogFiles { writer, guard, .. } = crate::logging::open_log_files(
        folder.path(),
        folder.path(),
        crate::logging::budget::Limits { retention_days: 3, max_size: 1 << 20 },
    )
    .expect("log files");
    let layer = crate::logging::json_file_layer(writer, tracing::Level::DEBUG);
    let subscriber = tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
    let before_item = tracing::subscriber::with_default(subscriber, emit_a_check_in);
    drop(guard);

    let all = read_records(folder.path(), &LogFilter::default()).expect("readable");
    let messages: Vec<&str> = all.iter().map(|record| record.message.as_str()).collect();
    assert_eq!(messages, ["Run started.", "Item finished.", "Item failed.", "Socket idle."]);
    let finished = &all[1];
    let expected = json!({ "run_id": RUN_A, "kind": "daily", "item_id": "li-1", "item_name": "Set hostname",
        "item_type": "custom_script", "status": "succeeded", "duration_ms": 12 });
    assert_eq!(Value::Object(finished.fields.clone()), expected);

    let cases = [
        (by_run(RUN_A), vec!["Run started.", "Item finished.", "Item failed."]),
        (by_item("Set hostname"), vec!["Item finished."]),
        (by_item("li-2"), vec!["Item failed."]),
        (by_level(LogLevel::Warn), vec!["Item failed."]),
        (
            LogFilter { since: Some(before_item), ..Default::default() },
            vec!["Item finished.", "Item failed.", "Socket idle."],
        ),
    ];
    for (filter, expected) in cases {
        let kept = read_records(folder.path(), &filter).expect("readable");
        let kept: Vec<&str> = kept.iter().map(|record| record.message.as_str()).collect();
        assert_eq!(kept, expected, "{filter:?}");
    }
}

/// Emits what the check-in engine emits for one run; returns a time between the
/// first line and the second.
fn emit_a_check_in() -> DateTime<Utc> {
    let span = tracing::info_span!("checkin", run_id = %RUN_A, kind = "daily");
    let before_item = span.in_scope(|| {
        tracing::info!("Run started.");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let before_item = Utc::now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        tracing::info!(run_id = %RUN_A, item_id = "li-1", item_name = "Set hostname", item_type = "custom_script",
            status = "succeeded", duration_ms = 12, "Item finished.");
        tracing::warn!(item_id = "li-2", item_name = "Install printer", status = "failed", "Item failed.");
        before_item
    });
    tracing::debug!("Socket idle.");
    tracing::trace!("Not written: below the file level.");
    before_item
}

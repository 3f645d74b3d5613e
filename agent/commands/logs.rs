//! `agent logs`: what the agent did, read back from its own log files.
//!
//! An admin asks "what happened in that run?" or "why does this item keep failing?";
//! the filters answer that without `grep` over JSON. Each matching record prints as
//! one line for a person (see [`crate::log_records::render_line`]), or with `--json`
//! as the stored JSON object, one per line, for scripts and `jq`.
//!
//! Bad `--level` or `--since` values are a [`BadArgument`], which the
//! caller finds with `anyhow::Error::downcast_ref` to exit with the bad-input code.
//! No log folder yet is not an error: there is simply nothing to show.
//!
//! Records print as they are read, a line at a time (lines past
//! [`MAX_LINE_BYTES`] are skipped with a note), so memory stays small however
//! large the log has grown.
//!
//! `--follow` keeps going like `tail -f`: the last matching lines among the
//! newest file's last [`FOLLOW_TAIL_BYTES`] (never the whole file), then each new
//! one as the agent (typically the daemon) writes it, until Ctrl-C.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cli::BadArgument;
use crate::log_level::LogLevel;
use crate::log_records::follow::LogFollower;
use crate::log_records::{LogFilter, LogRecord, MAX_LINE_BYTES, for_each_record, render_line};
use crate::terminal;

/// How many matching lines `--follow` shows before the new ones, as `tail -f` does.
const FOLLOW_BACKLOG: usize = 10;

/// How much of the newest file's end `--follow` reads for its first lines: a
/// check-in writes some 600 bytes an item, so this holds the last items of any
/// run without reading a large file whole.
const FOLLOW_TAIL_BYTES: u64 = 1 << 20;

/// How often `--follow` looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// What `agent logs` was asked for, as plain values from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsRequest {
    /// The folder holding the agent's log files.
    pub log_dir: PathBuf,
    /// Only records of this check-in (`--run`).
    pub run_id: Option<String>,
    /// Only records about this library item, by name or id (`--item`).
    pub item: Option<String>,
    /// Only records of this level or more severe (`--level`), e.g. `warn`.
    pub level: Option<String>,
    /// Only records newer than this (`--since`): a duration back from now such as
    /// `2h` or `3days`, or an RFC 3339 time such as `2026-11-25T08:00:00Z`.
    pub since: Option<String>,
    /// Print the stored JSON objects instead of readable lines (`--json`).
    pub json: bool,
}

/// Prints the matching records to `out`, oldest first, each as soon as it is read:
/// memory does not grow with the log's size.
///
/// Returns a [`BadArgument`] inside the `anyhow::Error` for a bad flag value. A reader
/// that goes away early (`agent logs | head`) is not an error.
pub fn logs(request: &LogsRequest, out: &mut dyn Write) -> anyhow::Result<()> {
    logs_at(request, out, Utc::now())
}

/// [`logs`] with the current time given, so `--since` can be tested.
fn logs_at(request: &LogsRequest, out: &mut dyn Write, now: DateTime<Utc>) -> anyhow::Result<()> {
    let filter = filter_from(request, now)?;
    let mut printer = Printer { out, json: request.json, failed: None };
    let read = for_each_record(&request.log_dir, &filter, |record| printer.print(&record))?;
    printer.settle()?;
    let folder = request.log_dir.display();
    if read.files_read == 0 {
        terminal::print_error(&format!("note: no logs yet in {folder}"));
    }
    for link in &read.links_skipped {
        let link = link.display();
        terminal::print_error(&format!("warning: skipped {link}: a symbolic link or not a plain file; never followed"));
    }
    if read.skipped_lines > 0 {
        terminal::print_error(&format!("note: skipped {} unreadable line(s) in {folder}", read.skipped_lines));
    }
    if read.overlong_lines > 0 {
        let limit = MAX_LINE_BYTES >> 20;
        let count = read.overlong_lines;
        terminal::print_error(&format!("note: skipped {count} line(s) longer than {limit} MiB in {folder}"));
    }
    Ok(())
}

/// Prints the last matching records (every one since `--since` when given), then
/// each new one as it is written, across the daily rotation and the day's parts,
/// until `stop` resolves or the reader goes away. Without `--since` only the
/// newest file's last [`FOLLOW_TAIL_BYTES`] are read for the first lines.
pub async fn follow(request: &LogsRequest, out: &mut dyn Write, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
    let filter = filter_from(request, Utc::now())?;
    let mut printer = Printer { out, json: request.json, failed: None };
    let mut follower = if request.since.is_some() {
        let mut follower = LogFollower::from_start(&request.log_dir);
        follower.read_new(&mut |record| printer.print_if(&filter, &record))?;
        follower
    } else {
        let mut follower = LogFollower::near_end(&request.log_dir, FOLLOW_TAIL_BYTES)?;
        let mut backlog = VecDeque::with_capacity(FOLLOW_BACKLOG);
        follower.read_new(&mut |record| {
            if filter.matches(&record) {
                if backlog.len() == FOLLOW_BACKLOG {
                    backlog.pop_front();
                }
                backlog.push_back(record);
            }
            ControlFlow::Continue(())
        })?;
        let _ = backlog.iter().try_for_each(|record| printer.print(record));
        follower
    };
    tokio::pin!(stop);
    loop {
        if printer.settle()? == Reader::Gone {
            return Ok(());
        }
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(FOLLOW_POLL) => {}
        }
        follower.read_new(&mut |record| printer.print_if(&filter, &record))?;
    }
}

/// Whether the reader of `agent logs` is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// Still reading.
    There,
    /// Went away (`agent logs | head`): not an error, but nothing more to print.
    Gone,
}

/// Prints records as they are read, keeping the first write error for the end.
struct Printer<'out> {
    out: &'out mut dyn Write,
    json: bool,
    /// The write that failed; nothing more is printed after it.
    failed: Option<std::io::Error>,
}

impl Printer<'_> {
    /// Prints `record` as a readable line, or as its stored JSON object; says stop
    /// once a write has failed.
    fn print(&mut self, record: &LogRecord) -> ControlFlow<()> {
        if self.failed.is_some() {
            return ControlFlow::Break(());
        }
        match write_record(record, self.json, self.out) {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => {
                self.failed = Some(error);
                ControlFlow::Break(())
            }
        }
    }

    /// [`Printer::print`] for a record `filter` keeps; others are passed over.
    fn print_if(&mut self, filter: &LogFilter, record: &LogRecord) -> ControlFlow<()> {
        if filter.matches(record) { self.print(record) } else { ControlFlow::Continue(()) }
    }

    /// Writes out what is printed so far: whether the reader is still there, or why
    /// printing failed.
    fn settle(&mut self) -> anyhow::Result<Reader> {
        let result = match self.failed.take() {
            Some(error) => Err(error),
            None => self.out.flush(),
        };
        match result {
            Ok(()) => Ok(Reader::There),
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(Reader::Gone),
            Err(error) => Err(anyhow::Error::from(error).context("cannot print the log records")),
        }
    }
}

/// The filter the flags describe, or the first flag whose value is unusable.
fn filter_from(request: &LogsRequest, now: DateTime<Utc>) -> Result<LogFilter, BadArgument> {
    let minimum_level = request.level.as_deref().map(parse_level).transpose()?;
    let since = request.since.as_deref().map(|value| parse_since(value, now)).transpose()?;
    Ok(LogFilter { run_id: request.run_id.clone(), item: request.item.clone(), minimum_level, since })
}

/// `--level`: one of the five level names, in any case.
fn parse_level(value: &str) -> Result<LogLevel, BadArgument> {
    value.parse().map_err(|_| BadArgument {
        flag: "--level",
        value: value.to_string(),
        reason: "expected one of error, warn, info, debug, trace".to_string(),
    })
}

/// `--since`: a duration back from `now` (`90m`, `2h`, `3days`) or an RFC 3339 time.
fn parse_since(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, BadArgument> {
    let bad = |reason: &str| BadArgument { flag: "--since", value: value.to_string(), reason: reason.to_string() };
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(time.with_timezone(&Utc));
    }
    let duration = humantime::parse_duration(value)
        .map_err(|_| bad("expected a duration such as \"2h\" or a time such as \"2026-11-25T08:00:00Z\""))?;
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|duration| now.checked_sub_signed(duration))
        .ok_or_else(|| bad("the duration reaches too far back"))
}

/// Prints one record as a readable line, or as its stored JSON object.
fn write_record(record: &LogRecord, json: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let mut line =
        if json { terminal::json_printable(&serde_json::to_string(&record.raw)?) } else { render_line(record) };
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// `agent logs` as typed on the command line: reads this device's log folder.
pub fn run(settings: &crate::commands::Settings, arguments: &crate::cli::LogsArgs) -> anyhow::Result<u8> {
    let request = LogsRequest {
        log_dir: settings.paths.log_dir.clone(),
        run_id: arguments.run.clone(),
        item: arguments.item.clone(),
        level: arguments.level.clone(),
        since: arguments.since.clone(),
        json: arguments.json,
    };
    if arguments.follow {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let stop = {
            let _inside = runtime.enter();
            super::interrupt::stop_requested()
        };
        runtime.block_on(follow(&request, &mut BufWriter::new(std::io::stdout().lock()), stop))?;
    } else {
        logs(&request, &mut BufWriter::new(std::io::stdout().lock()))?;
    }
    Ok(crate::exit_code::SUCCESS)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const RUN_A: &str = "0193aaaa-0000-7000-8000-000000000001";

    /// Two days of a device's log, in the stored format, with a torn last line.
    fn write_fixture(folder: &Path) {
        let span = format!(r#""spans":[{{"run_id":"{RUN_A}","kind":"daily","name":"checkin"}}]"#);
        let older = [
            r#"{"timestamp":"2026-11-24T09:00:00.000001Z","level":"INFO","message":"Daemon started.","target":"endpoint_agent::daemon"}"#.to_string(),
        ];
        let newer = [
            format!(
                r#"{{"timestamp":"2026-11-25T16:53:54.123456Z","level":"INFO","message":"Run started.","target":"endpoint_agent::checkin",{span}}}"#
            ),
            format!(
                r#"{{"timestamp":"2026-11-25T16:53:54.135Z","level":"INFO","message":"Item finished.","item_id":"li-1","item_name":"Set hostname","item_type":"custom_script","status":"succeeded","duration_ms":12,"target":"endpoint_agent::checkin",{span}}}"#
            ),
            format!(
                r#"{{"timestamp":"2026-11-25T16:54:10Z","level":"WARN","message":"Item failed.","item_id":"li-2","item_name":"Add printer","exit_code":1,"target":"endpoint_agent::checkin",{span}}}"#
            ),
            r#"{"timestamp":"2026-11-25T17:00:00Z","level":"ERR"#.to_string(),
        ];
        std::fs::write(folder.join("agent.2026-11-24.log"), older.join("\n") + "\n").expect("fixture");
        std::fs::write(folder.join("agent.2026-11-25.log"), newer.join("\n")).expect("fixture");
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T17:00:00Z").expect("a time").with_timezone(&Utc)
    }

    /// What `agent logs` prints for `request` against the fixture.
    fn printed(request: LogsRequest) -> String {
        let folder = tempfile::tempdir().expect("temporary folder");
        write_fixture(folder.path());
        let request = LogsRequest { log_dir: folder.path().to_path_buf(), ..request };
        let mut out = Vec::new();
        logs_at(&request, &mut out, now()).expect("printed");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn every_record_prints_as_one_readable_line() {
        insta::assert_snapshot!(printed(LogsRequest::default()), @r#"
        2026-11-24T09:00:00.000Z  INFO Daemon started.
        2026-11-25T16:53:54.123Z  INFO run=0193aaaa-0000-7000-8000-000000000001 Run started. kind=daily
        2026-11-25T16:53:54.135Z  INFO run=0193aaaa-0000-7000-8000-000000000001 item="Set hostname" Item finished. duration_ms=12 item_id=li-1 item_type=custom_script kind=daily status=succeeded
        2026-11-25T16:54:10.000Z  WARN run=0193aaaa-0000-7000-8000-000000000001 item="Add printer" Item failed. exit_code=1 item_id=li-2 kind=daily
        "#);
    }

    #[test]
    fn flags_narrow_what_is_printed() {
        let cases = [
            (LogsRequest { run_id: Some(RUN_A.into()), ..Default::default() }, 3),
            (LogsRequest { item: Some("li-2".into()), ..Default::default() }, 1),
            (LogsRequest { item: Some("Set hostname".into()), ..Default::default() }, 1),
            (LogsRequest { level: Some("WARN".into()), ..Default::default() }, 1),
            (LogsRequest { since: Some("1h".into()), ..Default::default() }, 3),
            (LogsRequest { since: Some("2026-11-25T16:54:00Z".into()), ..Default::default() }, 1),
            (LogsRequest { run_id: Some("another".into()), ..Default::default() }, 0),
        ];
        for (request, expected) in cases {
            let described = format!("{request:?}");
            assert_eq!(printed(request).lines().count(), expected, "{described}");
        }
    }

    #[test]
    fn json_prints_the_stored_objects_one_a_line() {
        let output = printed(LogsRequest { json: true, item: Some("li-1".into()), ..Default::default() });
        let lines: Vec<serde_json::Value> =
            output.lines().map(|line| serde_json::from_str(line).expect("one JSON object a line")).collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["message"], "Item finished.");
        assert_eq!(lines[0]["spans"][0]["run_id"], RUN_A);
        assert_eq!(lines[0]["duration_ms"], 12);
    }

    #[test]
    fn bad_values_name_their_flag() {
        let cases = [
            (LogsRequest { level: Some("loud".into()), ..Default::default() }, "--level", "loud"),
            (LogsRequest { since: Some("yesterday".into()), ..Default::default() }, "--since", "yesterday"),
            (LogsRequest { since: Some("-2h".into()), ..Default::default() }, "--since", "-2h"),
            (LogsRequest { since: Some("9999999999years".into()), ..Default::default() }, "--since", "9999999999years"),
        ];
        for (request, expected_flag, expected_value) in cases {
            let error = logs(&request, &mut Vec::new()).expect_err("rejected");
            let Some(BadArgument { flag, value, .. }) = error.downcast_ref::<BadArgument>() else {
                panic!("not a bad argument: {error:#}");
            };
            assert_eq!((*flag, value.as_str()), (expected_flag, expected_value));
            assert!(format!("{error:#}").contains(expected_flag), "{error:#}");
        }
    }

    #[test]
    fn since_counts_back_from_now_or_takes_a_time() {
        let hours_ago = |hours| now() - chrono::Duration::hours(hours);
        let cases = [
            ("2h", hours_ago(2)),
            ("90m", now() - chrono::Duration::minutes(90)),
            ("3days", hours_ago(72)),
            ("2026-11-25T08:00:00Z", hours_ago(9)),
            ("2026-11-25T09:00:00+01:00", hours_ago(9)),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_since(value, now()), Ok(expected), "{value}");
        }
    }

    #[test]
    fn no_log_folder_prints_nothing_and_succeeds() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let request = LogsRequest { log_dir: folder.path().join("not-yet"), ..Default::default() };
        let mut out = Vec::new();
        logs(&request, &mut out).expect("not an error");
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn follow_shows_the_last_lines_then_new_ones_until_stopped() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let file = folder.path().join("agent.2026-11-25.log");
        let line = |number: usize| {
            format!(
                "{{\"timestamp\":\"2026-11-25T16:00:{number:02}Z\",\"level\":\"INFO\",\"message\":\"Line {number}.\"}}\n"
            )
        };
        std::fs::write(&file, (1..=12).map(line).collect::<String>()).expect("fixture");
        let request = LogsRequest { log_dir: folder.path().to_path_buf(), ..Default::default() };
        let writer = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut appended = std::fs::OpenOptions::new().append(true).open(&file).expect("log file");
            appended.write_all(line(13).as_bytes()).expect("appended");
            tokio::time::sleep(FOLLOW_POLL * 3).await;
        };
        let mut out = Vec::new();
        follow(&request, &mut out, writer).await.expect("followed");
        let printed = String::from_utf8(out).expect("utf-8");
        let messages: Vec<&str> = printed.lines().map(|line| line.split("INFO ").nth(1).unwrap_or(line)).collect();
        let expected: Vec<String> = (3..=13).map(|number| format!("Line {number}.")).collect();
        assert_eq!(messages, expected, "{printed}");
    }

    /// A reader that has gone away, like `head` after its lines.
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn a_reader_that_stops_early_is_not_an_error() {
        let folder = tempfile::tempdir().expect("temporary folder");
        write_fixture(folder.path());
        let request = LogsRequest { log_dir: folder.path().to_path_buf(), ..Default::default() };
        logs_at(&request, &mut ClosedPipe, now()).expect("quietly stopped");
    }
}

//! The agent's footprint on a device, measured on this machine.
//!
//! `cargo bench --bench footprint` (or `scripts/bench.sh`) builds the release
//! agent and measures, each on its own scratch device (`AGENT_ROOT`):
//! - the resident memory of `agent daemon` idle after its first check-in, and its
//!   CPU time and wakeups (context switches of all its threads) over an idle
//!   minute (`BENCH_IDLE_SECONDS` shortens it), from `/proc` on Linux, `ps` on macOS,
//!   enrolled to the reference tenant (started in this process) with the command
//!   channel on, so one long-poll is held open all along;
//! - `agent status --json` wall time with 1,000 runs of 10 items in the history;
//! - a recurring check-in of 500 trivial script items against 500 plain
//!   `sh -c 'exit 0'` spawns in a loop, as a ratio measured in the same run;
//! - planning and recording a check-in of 10,000 items that start no process
//!   (the run's own start-to-end time as recorded, plus the whole command's);
//! - `agent inventory --json` wall time;
//! - the size of the stripped release binary.
//!
//! One line per figure, with its target and PASS or FAIL, and the same figures in
//! `target/bench/results.json`. Exits 1 when a figure misses its target. Names
//! after `--` (`daemon`, `status`, `scripts`, `plan`, `inventory`, `size`) measure
//! only those.

#[path = "support/agent_log.rs"]
mod agent_log;
#[path = "support/figures.rs"]
mod figures;
#[path = "support/tenant.rs"]
mod tenant;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as TimeSpan, Utc};
use endpoint_agent::paths::AgentPaths;
use endpoint_agent::plan::CheckinKind;
use endpoint_agent::state::{Drift, ItemRecord, ItemStatus, RunHeader, RunOutcome, RunRecord, Store, Trigger};
use figures::{Figure, MIB, cores, millis, setting};
use serde_json::{Value, json};
use tenant::Tenant;

/// The agent the benchmarks measure: the release build `cargo bench` made.
const AGENT: &str = env!("CARGO_BIN_EXE_agent");

fn main() -> ExitCode {
    let scratch = tempfile::Builder::new().prefix("endpoint-agent-bench.").tempdir().expect("a scratch folder");
    let idle = Duration::from_secs(setting("BENCH_IDLE_SECONDS").unwrap_or(60).max(1));
    println!("Endpoint Agent footprint: {AGENT}");
    println!("machine: {} cores, {}\n", cores(), std::env::consts::OS);

    let mut figures = Vec::new();
    let mut report = |figure: Figure| {
        println!("{}", figure.line());
        figures.push(figure);
    };
    let chosen = chosen_groups();
    let wanted = |group: &str| chosen.is_empty() || chosen.iter().any(|name| name == group);
    if wanted("daemon") {
        let (memory, cpu, wakeups) = daemon_idle(&scratch.path().join("daemon"), idle);
        report(memory);
        report(cpu);
        if let Some(wakeups) = wakeups {
            report(wakeups);
        }
    }
    if wanted("status") {
        report(status_time(&scratch.path().join("status")));
    }
    if wanted("scripts") {
        report(script_overhead(&scratch.path().join("scripts")));
    }
    if wanted("plan") {
        report(plan_and_record(&scratch.path().join("plan")));
    }
    if wanted("inventory") {
        report(inventory_time(&scratch.path().join("inventory")));
    }
    if wanted("size") {
        report(binary_size());
    }

    figures::finish("results.json", &figures, json!({ "agent": AGENT }))
}

/// `agent daemon` enrolled to the reference tenant (in this process, serving 10
/// scripts), after its first check-in, with the command channel on and its
/// default `tenant.command_wait`: resident memory, then CPU and wakeups over
/// `idle`, while one long-poll is held open. Panics when the channel holds no
/// poll before or after the idle period, since the figures would then not be
/// the channel's.
fn daemon_idle(root: &Path, idle: Duration) -> (Figure, Figure, Option<Figure>) {
    fs::create_dir_all(root).expect("the device's folder");
    let tenant =
        Tenant::start(json!({ "id": "bp-bench", "name": "Benchmark", "library_items": scripts(10, "every_15_min") }));
    tenant.enroll(agent(root), &root.with_extension("token"));
    let mut daemon = agent(root)
        .args(["daemon", "--set", "schedule.recurring_interval=6h", "--set", "schedule.daily_interval=24h"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the daemon starts");
    let pid = daemon.id();
    let waited = Instant::now();
    while last_run(root).and_then(|run| run.get("finished_at").cloned()).is_none_or(|at| at.is_null()) {
        assert!(waited.elapsed() < Duration::from_secs(60), "the daemon's first check-in never finished");
        std::thread::sleep(Duration::from_millis(100));
    }
    let listening = tenant.wait_for(Duration::from_secs(30), Duration::from_millis(100), |tenant| {
        (tenant.held_command_requests() > 0 && agent_log::logged(root, agent_log::CHANNEL_LISTENING) > 0).then_some(())
    });
    assert!(listening.is_some(), "the daemon holds no command-channel poll: the idle figures would be without it");
    std::thread::sleep(Duration::from_secs(2));
    let before = process_usage(pid);
    let held_before = tenant.held_command_requests();
    std::thread::sleep(idle);
    let after = process_usage(pid);
    let held_after = tenant.held_command_requests();
    let lost = agent_log::logged(root, agent_log::CHANNEL_UNREACHABLE);
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = daemon.wait();
    drop(tenant);
    assert!(
        held_before == 1 && held_after == 1 && lost == 0,
        "the command channel was not held throughout: {held_before} polls before, {held_after} after, {lost} losses"
    );
    idle_figures(&before, &after, idle)
}

/// The idle daemon's three figures from its usage before and after `idle`.
fn idle_figures(before: &Usage, after: &Usage, idle: Duration) -> (Figure, Figure, Option<Figure>) {
    let seconds = idle.as_secs_f64();
    let channel = "command channel on, 1 long-poll held throughout";
    let memory = Figure {
        name: "daemon resident memory, idle",
        value: after.resident_bytes as f64 / MIB,
        unit: "MiB",
        target: 10.0,
        detail: format!("after a check-in of 10 scripts from the tenant; {channel}; {} threads", after.threads),
    };
    let cpu = Figure {
        name: "daemon CPU while idle",
        value: (after.cpu_seconds - before.cpu_seconds) / seconds * 100.0,
        unit: "%",
        target: 0.1,
        detail: format!("of one core, over {seconds:.0} s; {channel}"),
    };
    let wakeups = after.context_switches.zip(before.context_switches).map(|(after, before)| Figure {
        name: "daemon wakeups while idle",
        value: after.saturating_sub(before) as f64 / seconds,
        unit: "per s",
        target: 1.0,
        detail: format!("context switches of all threads over {seconds:.0} s; {channel}"),
    });
    (memory, cpu, wakeups)
}

/// `agent status --json` with a full history (1,000 runs of 10 items), median of 21.
fn status_time(root: &Path) -> Figure {
    let paths = AgentPaths::under(root);
    fs::create_dir_all(&paths.state_dir).expect("the state folder");
    let store = Store::open(&paths.store_file).expect("the store");
    let start = Utc::now() - TimeSpan::days(11);
    for number in 0..1000 {
        let started_at = start + TimeSpan::minutes(15 * number);
        let kind = if number % 96 == 0 { CheckinKind::Daily } else { CheckinKind::Recurring };
        let run = run_record(&format!("run-{number:04}"), kind, started_at);
        store.begin_run(&run, 1).expect("a run");
        let items: Vec<ItemRecord> =
            (0..10).map(|position| item_record(&format!("item-{position}"), started_at)).collect();
        let positioned: Vec<(usize, &ItemRecord)> = items.iter().enumerate().collect();
        store.items_finished(&run.header.id, &positioned).expect("its items");
        store
            .finish_run(&run.header.id, started_at + TimeSpan::seconds(3), RunOutcome::Succeeded, &Drift::default())
            .expect("its end");
    }
    drop(store);
    let history = output(agent(root).args(["history", "--json", "--limit", "1000"]));
    let runs = serde_json::from_str::<Value>(&history).ok().and_then(|value| value.as_array().map(Vec::len));
    assert_eq!(runs, Some(1000), "the history holds 1,000 runs");
    let _ = output(agent(root).args(["status", "--json"]));
    let times = (0..21).map(|_| timed(|| drop(output(agent(root).args(["status", "--json"]))))).collect();
    let median = median(times);
    Figure {
        name: "agent status --json, 1,000 runs in history",
        value: millis(median),
        unit: "ms",
        target: 20.0,
        detail: "median of 21, whole command".into(),
    }
}

/// A recurring check-in of 500 `exit 0` script items against 500 `sh -c 'exit 0'`
/// spawns, nine of each, alternated. The figure is the least check-in against the
/// least spawns: as with Python's `timeit`, the least of repeated timings is the
/// cost of the work itself, and what the others add comes from other processes
/// on the machine, which hits the agent (three threads and a child at once) harder
/// than a single loop. The median of the nine adjacent pairs is shown beside it.
fn script_overhead(root: &Path) -> Figure {
    const PAIRS: usize = 9;
    let blueprint = write_blueprint(root, &scripts(500, "every_15_min"));
    let check_in = || check_in(root, &blueprint, "the check-in of 500 scripts");
    let spawns = || {
        for _ in 0..500 {
            let status = Command::new("sh").args(["-c", "exit 0"]).status().expect("sh");
            assert!(status.success());
        }
    };
    // The first check-in of a device is the daily one; the figure is the recurring.
    check_in();
    let mut pairs = Vec::new();
    for pair in 0..PAIRS {
        let (agent, shell) = if pair % 2 == 0 {
            (timed(check_in), timed(spawns))
        } else {
            let shell = timed(spawns);
            (timed(check_in), shell)
        };
        pairs.push((agent.as_secs_f64() / shell.as_secs_f64(), agent, shell));
    }
    let least_agent = pairs.iter().map(|pair| pair.1).min().unwrap_or_default();
    let least_shell = pairs.iter().map(|pair| pair.2).min().unwrap_or(Duration::MAX);
    pairs.sort_by(|one, other| one.0.total_cmp(&other.0));
    let (median_ratio, median_agent, median_shell) = pairs[PAIRS / 2];
    Figure {
        name: "check-in of 500 scripts / 500 sh spawns",
        value: least_agent.as_secs_f64() / least_shell.as_secs_f64(),
        unit: "x",
        target: 1.5,
        detail: format!(
            "least of {PAIRS}: {:.0} ms / {:.0} ms; median pair {median_ratio:.2} ({:.0} ms / {:.0} ms)",
            millis(least_agent),
            millis(least_shell),
            millis(median_agent),
            millis(median_shell)
        ),
    }
}

/// Planning and recording a check-in of 10,000 items that start no process: a
/// recurring check-in whose items are all daily or never enforced. The figure is
/// the run's own start-to-end time as it recorded it (median of 3); the whole
/// command, which also reads the 10,000-item blueprint, is shown beside it.
fn plan_and_record(root: &Path) -> Figure {
    let warm_up = write_blueprint(&root.join("warm-up"), &scripts(1, "every_15_min"));
    check_in(root, &warm_up, "the first (daily) check-in");
    let mut items = scripts(5000, "daily");
    items.extend(scripts(5000, "no_enforcement").into_iter().map(|mut item| {
        item["id"] = json!(format!("never-{}", item["id"].as_str().unwrap_or_default()));
        item
    }));
    let blueprint = write_blueprint(root, &items);
    let mut run_times = Vec::new();
    let mut command_times = Vec::new();
    for _ in 0..3 {
        command_times.push(timed(|| check_in(root, &blueprint, "the check-in of 10,000 items")));
        let run = last_run(root).expect("the run is recorded");
        assert_eq!(run["items"].as_array().map(Vec::len), Some(10_000), "every item is recorded");
        assert_eq!(run["kind"], "recurring");
        let time = |key: &str| run[key].as_str().and_then(|text| DateTime::parse_from_rfc3339(text).ok());
        let (Some(started), Some(finished)) = (time("started_at"), time("finished_at")) else {
            panic!("the run has no start or end: {run}");
        };
        run_times.push((finished - started).to_std().unwrap_or_default());
    }
    Figure {
        name: "plan + record a check-in of 10,000 items",
        value: millis(median(run_times)),
        unit: "ms",
        target: 100.0,
        detail: format!("no processes; whole `agent run` {:.0} ms", millis(median(command_times))),
    }
}

/// `agent inventory --json`, median of 5 after one warm-up.
fn inventory_time(root: &Path) -> Figure {
    let _ = output(agent(root).args(["inventory", "--json"]));
    let times = (0..5).map(|_| timed(|| drop(output(agent(root).args(["inventory", "--json"]))))).collect();
    Figure {
        name: "agent inventory --json",
        value: millis(median(times)),
        unit: "ms",
        target: 300.0,
        detail: "median of 5, whole command".into(),
    }
}

fn binary_size() -> Figure {
    let bytes = fs::metadata(AGENT).expect("the agent binary").len();
    Figure {
        name: "release binary, stripped",
        value: bytes as f64 / MIB,
        unit: "MiB",
        target: 15.0,
        detail: format!("{bytes} bytes"),
    }
}

/// What the system says about a process at one moment.
struct Usage {
    resident_bytes: u64,
    cpu_seconds: f64,
    threads: usize,
    /// Voluntary and involuntary context switches of all its threads (Linux only).
    context_switches: Option<u64>,
}

#[cfg(target_os = "linux")]
fn process_usage(pid: u32) -> Usage {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("the daemon is running");
    let field = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.split_whitespace().next()?.parse().ok())
            .unwrap_or_default()
    };
    // utime and stime are fields 14 and 15, counted after the command name's ')'.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("the daemon is running");
    let after_name: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default().split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&index| after_name.get(index)?.parse::<u64>().ok()).sum();
    let ticks_per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as f64;
    let mut switches = 0;
    let mut threads = 0;
    for task in fs::read_dir(format!("/proc/{pid}/task")).expect("the daemon's threads") {
        let Ok(text) = fs::read_to_string(task.expect("a thread").path().join("status")) else { continue };
        threads += 1;
        switches += field(&text, "voluntary_ctxt_switches:") + field(&text, "nonvoluntary_ctxt_switches:");
    }
    Usage {
        resident_bytes: field(&status, "VmRSS:") * 1024,
        cpu_seconds: ticks as f64 / ticks_per_second,
        threads,
        context_switches: Some(switches),
    }
}

#[cfg(not(target_os = "linux"))]
fn process_usage(pid: u32) -> Usage {
    let text = output(Command::new("ps").args(["-o", "rss=,time=", "-p", &pid.to_string()]));
    let mut fields = text.split_whitespace();
    let resident_kib: u64 = fields.next().and_then(|rss| rss.parse().ok()).expect("ps shows the daemon's memory");
    let cpu_seconds = fields.next().map(cpu_time_seconds).expect("ps shows the daemon's CPU time");
    let threads = output(Command::new("ps").args(["-M", "-p", &pid.to_string()])).lines().count().saturating_sub(1);
    Usage { resident_bytes: resident_kib * 1024, cpu_seconds, threads, context_switches: None }
}

/// `ps`'s cumulative CPU time, `[[dd-]hh:]mm:ss.cc`, in seconds.
#[cfg(not(target_os = "linux"))]
fn cpu_time_seconds(text: &str) -> f64 {
    let (days, clock) = text.split_once('-').map_or((0.0, text), |(days, rest)| (days.parse().unwrap_or(0.0), rest));
    clock.split(':').fold(0.0, |total, part| total * 60.0 + part.parse::<f64>().unwrap_or(0.0)) + days * 86_400.0
}

fn agent(root: &Path) -> Command {
    let mut command = Command::new(AGENT);
    command.env("AGENT_ROOT", root).env_remove("OTEL_EXPORTER_OTLP_ENDPOINT").stdin(Stdio::null());
    command
}

/// `agent run --blueprint BLUEPRINT`, its output discarded; `what` must succeed.
fn check_in(root: &Path, blueprint: &Path, what: &str) {
    let status =
        agent(root).arg("run").arg("--blueprint").arg(blueprint).stdout(Stdio::null()).stderr(Stdio::null()).status();
    assert!(status.expect("agent run").success(), "{what} succeeds");
}

/// Runs `command` and returns its standard output; it must succeed.
fn output(command: &mut Command) -> String {
    let output = command.stderr(Stdio::piped()).output().expect("the command starts");
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The device's newest run, as `agent status --json` shows it.
fn last_run(root: &Path) -> Option<Value> {
    let output = agent(root).args(["status", "--json"]).stderr(Stdio::null()).output().ok()?;
    let status: Value = serde_json::from_slice(&output.stdout).ok()?;
    status.get("last_run").filter(|run| !run.is_null()).cloned()
}

/// `count` script items whose audit is `exit 0`.
fn scripts(count: usize, frequency: &str) -> Vec<Value> {
    (0..count)
        .map(|number| {
            json!({
                "id": format!("script-{number:05}"), "name": format!("Script {number:05}"),
                "type": "custom_script", "frequency": frequency, "audit": "#!/bin/sh\nexit 0\n",
            })
        })
        .collect()
}

fn write_blueprint(folder: &Path, items: &[Value]) -> PathBuf {
    fs::create_dir_all(folder).expect("the blueprint's folder");
    let path = folder.join("blueprint.json");
    let blueprint = json!({ "id": "bp-bench", "name": "Benchmark", "library_items": items });
    fs::write(&path, serde_json::to_vec(&blueprint).expect("json")).expect("the blueprint");
    path
}

fn run_record(id: &str, kind: CheckinKind, started_at: DateTime<Utc>) -> RunRecord {
    RunRecord {
        header: RunHeader::begun(id.into(), kind, Trigger::Schedule, started_at),
        blueprint_id: Some("bp-bench".into()),
        drift: Drift::default(),
        message: None,
        parameters: Vec::new(),
        items: Vec::new(),
    }
}

fn item_record(id: &str, at: DateTime<Utc>) -> ItemRecord {
    ItemRecord {
        id: id.into(),
        name: id.into(),
        item_type: "custom_script".into(),
        status: ItemStatus::Succeeded,
        started_at: at,
        finished_at: at + TimeSpan::milliseconds(12),
        duration_ms: 12,
        exit_code: Some(0),
        message: "compliant".into(),
        output: "checked\n".into(),
    }
}

fn timed(work: impl FnOnce()) -> Duration {
    let clock = Instant::now();
    work();
    clock.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The figure groups named on the command line (`daemon`, `status`, `scripts`,
/// `plan`, `inventory`, `size`); none means all. Flags cargo adds are ignored.
fn chosen_groups() -> Vec<String> {
    std::env::args().skip(1).filter(|argument| !argument.starts_with('-')).collect()
}

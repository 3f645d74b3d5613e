//! One check-in at a time: a second `agent run` waits, or gives up with `--no-wait`.

use crate::support::{Device, PATIENCE, blueprint, code, script, text};

/// Each run appends `start end` (nanoseconds) of its only item.
fn timed_blueprint(device: &Device) -> std::path::PathBuf {
    let audit = "#!/bin/sh\nstart=$(date +%s%N)\ntouch \"$AGENT_ROOT/started\"\nsleep 1\necho \"$start $(date +%s%N)\" >> \"$AGENT_ROOT/intervals\"\n";
    device.write_blueprint(&blueprint(vec![script("timed", "Timed", audit)]))
}

#[test]
fn two_concurrent_runs_never_overlap_and_the_second_says_whom_it_waits_for() {
    let device = Device::new();
    let path = timed_blueprint(&device);
    let path = path.to_str().unwrap();
    let first = device.spawn(&["run", "--blueprint", path]);
    let first_pid = first.id();
    device.wait_for_file("started", PATIENCE);
    let second = device.spawn(&["run", "--blueprint", path]);
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();
    assert_eq!(code(&first), 0, "{}", text(&first.stderr));
    assert_eq!(code(&second), 0, "{}", text(&second.stderr));
    let waiting = text(&second.stdout);
    assert!(waiting.contains("Waiting for the check-in started at"), "{waiting}");
    assert!(waiting.contains(&format!("(pid {first_pid})")), "{waiting}");

    let intervals: Vec<(u128, u128)> = std::fs::read_to_string(device.root().join("intervals"))
        .unwrap()
        .lines()
        .map(|line| {
            let (start, end) = line.split_once(' ').unwrap();
            (start.parse().unwrap(), end.parse().unwrap())
        })
        .collect();
    assert_eq!(intervals.len(), 2);
    let (earlier, later) =
        if intervals[0].0 < intervals[1].0 { (intervals[0], intervals[1]) } else { (intervals[1], intervals[0]) };
    assert!(earlier.1 <= later.0, "the runs overlapped: {intervals:?}");
}

#[test]
fn no_wait_gives_up_with_exit_3_while_a_check_in_runs() {
    let device = Device::new();
    let path = timed_blueprint(&device);
    let path = path.to_str().unwrap();
    let first = device.spawn(&["run", "--blueprint", path]);
    device.wait_for_file("started", PATIENCE);
    let refused = device.run(&["run", "--no-wait", "--blueprint", path]);
    assert_eq!(code(&refused), 3, "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("another check-in is running"), "{}", text(&refused.stderr));
    let status = device.status();
    assert!(status["running"]["pid"].is_number(), "status shows the running check-in: {status}");
    assert_eq!(code(&first.wait_with_output().unwrap()), 0);
}

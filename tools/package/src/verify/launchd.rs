//! The launchd job as the package installs it: it parses, starts `agent daemon` at
//! boot, keeps it alive, gives it time to stop, and leaves logging to the agent.

use plist::{Dictionary, Value};

use super::Problems;
use crate::product::IDENTIFIER;

/// The daemon's own shutdown deadline by default (`daemon.shutdown_timeout`);
/// launchd's `ExitTimeOut` must be longer.
const SHUTDOWN_DEADLINE_SECONDS: u64 = 20;

/// Checks the job in `bytes`; returns the program it starts (`ProgramArguments[0]`).
pub(crate) fn check_job(bytes: &[u8], problems: &mut Problems) -> Option<String> {
    let job = match Value::from_reader(std::io::Cursor::new(bytes)) {
        Ok(Value::Dictionary(job)) => job,
        Ok(_) => {
            problems.add("launchd job: the top level is not a dictionary".to_string());
            return None;
        }
        Err(error) => {
            problems.add(format!("launchd job: does not parse: {error}"));
            return None;
        }
    };
    let mut complain = |message: String| problems.add(format!("launchd job: {message}"));
    if job.get("Label").and_then(Value::as_string) != Some(IDENTIFIER) {
        complain(format!("Label is not {IDENTIFIER}"));
    }
    let arguments: Vec<&str> = job
        .get("ProgramArguments")
        .and_then(Value::as_array)
        .map(|arguments| arguments.iter().filter_map(Value::as_string).collect())
        .unwrap_or_default();
    if arguments.len() != 2 || arguments[1] != "daemon" {
        complain(format!("ProgramArguments are {arguments:?}, expected [<agent>, \"daemon\"]"));
    }
    for key in ["RunAtLoad", "KeepAlive"] {
        if job.get(key).and_then(Value::as_boolean) != Some(true) {
            complain(format!("{key} is not true"));
        }
    }
    check_timing_and_logging(&job, &mut complain);
    arguments.first().map(|program| program.to_string())
}

/// `ExitTimeOut` beyond the daemon's deadline, a `ProcessType`, and no output paths.
fn check_timing_and_logging(job: &Dictionary, complain: &mut impl FnMut(String)) {
    match job.get("ExitTimeOut").and_then(Value::as_unsigned_integer) {
        Some(seconds) if seconds > SHUTDOWN_DEADLINE_SECONDS => {}
        other => complain(format!("ExitTimeOut is {other:?}, expected more than {SHUTDOWN_DEADLINE_SECONDS} s")),
    }
    let process_types = ["Standard", "Background", "Adaptive", "Interactive"];
    if !job.get("ProcessType").and_then(Value::as_string).is_some_and(|kind| process_types.contains(&kind)) {
        complain("ProcessType is missing or not one launchd knows".to_string());
    }
    for key in ["StandardOutPath", "StandardErrorPath"] {
        if job.contains_key(key) {
            complain(format!("{key} is set, but the agent rotates its own logs"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>Label</key><string>io.endpointagent.agent</string>
<key>ProgramArguments</key><array><string>/usr/local/bin/agent</string><string>daemon</string></array>
<key>RunAtLoad</key><true/><key>KeepAlive</key><true/>
<key>ExitTimeOut</key><integer>30</integer><key>ProcessType</key><string>Standard</string>
</dict></plist>"#;

    #[test]
    fn the_shipped_shape_passes() {
        let mut problems = Problems::default();
        assert_eq!(check_job(JOB.as_bytes(), &mut problems).as_deref(), Some("/usr/local/bin/agent"));
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn each_departure_is_reported() {
        let broken = JOB
            .replace("<integer>30</integer>", "<integer>10</integer>")
            .replace("<key>KeepAlive</key><true/>", "<key>StandardOutPath</key><string>/tmp/x</string>");
        let mut problems = Problems::default();
        check_job(broken.as_bytes(), &mut problems);
        let text = format!("{problems:?}");
        for expected in ["ExitTimeOut", "KeepAlive", "StandardOutPath"] {
            assert!(text.contains(expected), "{expected} not in {text}");
        }
        let mut problems = Problems::default();
        assert_eq!(check_job(b"<plist><dict>", &mut problems), None);
        assert!(!problems.is_empty());
    }
}

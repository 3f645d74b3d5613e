//! Reading `launchctl print system/io.endpointagent.agent`.
//!
//! launchctl prints the service as a block, `system/<label> = {`, with one
//! `key = value` per line indented by one tab; nested blocks (`arguments = {`,
//! `environment = {`) are indented further and are not read. Only the keys the
//! doctor needs are kept: `state` (`running`, `not running`, `spawn scheduled`,
//! `waiting`), `pid` (only while running), `runs` and `last exit code` (`(never
//! exited)`, `78: EX_CONFIG`). A service launchd does not know makes it exit 113
//! with `Could not find service "…" in domain for system`.

/// What `launchctl print` says about the job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LaunchdService {
    /// `running`, `not running`, `spawn scheduled`, …
    pub(crate) state: Option<String>,
    /// The daemon's process id while it runs.
    pub(crate) pid: Option<u32>,
    /// How many times launchd started it.
    pub(crate) runs: Option<u64>,
    /// How it last exited, as launchctl words it.
    pub(crate) last_exit_code: Option<String>,
}

impl LaunchdService {
    /// Whether the daemon runs now.
    pub(crate) fn is_running(&self) -> bool {
        self.state.as_deref() == Some("running")
    }
}

/// Reads the output of `launchctl print system/<label>`.
pub(crate) fn parse_launchctl_print(output: &str) -> LaunchdService {
    let mut service = LaunchdService::default();
    for line in output.lines() {
        let Some(entry) = line.strip_prefix('\t').filter(|entry| !entry.starts_with('\t')) else { continue };
        let Some((key, value)) = entry.split_once(" = ") else { continue };
        let value = value.trim();
        match key.trim() {
            "state" => service.state = Some(value.to_string()),
            "pid" => service.pid = value.parse().ok(),
            "runs" => service.runs = value.parse().ok(),
            "last exit code" => service.last_exit_code = Some(value.to_string()),
            _ => {}
        }
    }
    service
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../tests/fixtures/launchctl/", $name))
        };
    }

    #[test]
    fn the_service_block_reads_to_its_state() {
        let cases = [
            (
                fixture!("print-running.txt"),
                LaunchdService {
                    state: Some("running".into()),
                    pid: Some(412),
                    runs: Some(1),
                    last_exit_code: Some("(never exited)".into()),
                },
            ),
            (
                fixture!("print-not-running.txt"),
                LaunchdService {
                    state: Some("spawn scheduled".into()),
                    pid: None,
                    runs: Some(14),
                    last_exit_code: Some("78: EX_CONFIG".into()),
                },
            ),
            (fixture!("print-not-found.txt"), LaunchdService::default()),
        ];
        for (output, expected) in cases {
            assert_eq!(parse_launchctl_print(output), expected);
        }
        assert!(parse_launchctl_print(fixture!("print-running.txt")).is_running());
        assert!(!parse_launchctl_print(fixture!("print-not-running.txt")).is_running());
    }

    #[test]
    fn nested_blocks_do_not_leak_into_the_service() {
        let output = "system/x = {\n\tenvironment = {\n\t\tstate => spoofed\n\t\tpid = 1\n\t}\n\tstate = waiting\n}\n";
        assert_eq!(
            parse_launchctl_print(output),
            LaunchdService { state: Some("waiting".into()), ..LaunchdService::default() }
        );
    }
}

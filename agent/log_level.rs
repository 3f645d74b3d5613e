//! How severe a log line is: the one level that `logs.level`, the log files and
//! `agent logs --level` share.
//!
//! Levels order by severity, least severe first, so `>=` means "at least as severe"
//! (`Error > Warn > Info > Debug > Trace`). `tracing::Level` orders the other way
//! (more verbose is greater): convert with `From` rather than comparing across.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// How severe a log line is, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Step-by-step detail, only for chasing a bug.
    Trace,
    /// Detail an engineer wants when something looks wrong.
    Debug,
    /// What happened, in the admin's words: runs started, items finished; the
    /// default file level.
    Info,
    /// Something went wrong but the agent carried on.
    Warn,
    /// Something failed.
    Error,
}

impl LogLevel {
    /// Every level, least severe first.
    pub const ALL: [LogLevel; 5] = [LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error];

    /// The name admins write (`logs.level`, `--level`) and `agent config` shows:
    /// `info`.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    /// The name the JSON log files hold and log lines show: `INFO`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }
}

/// As a log line shows it (`INFO`); `pad` so that `{:>5}` lines the levels up.
impl fmt::Display for LogLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.pad(self.as_str())
    }
}

/// As admins write it, so `agent config --json` shows `"level": "info"`.
impl Serialize for LogLevel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A level name that is none of `error`, `warn`, `info`, `debug`, `trace`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level {0:?}, expected one of error, warn, info, debug, trace")]
pub struct UnknownLevel(
    /// The name as given.
    pub String,
);

impl FromStr for LogLevel {
    type Err = UnknownLevel;

    /// Accepts the five names in any case, as admins type them and as the files hold them.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        LogLevel::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownLevel(name.to_string()))
    }
}

impl From<LogLevel> for tracing::Level {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Error => tracing::Level::ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_by_severity_least_severe_first() {
        let mut shuffled = [LogLevel::Warn, LogLevel::Trace, LogLevel::Error, LogLevel::Info, LogLevel::Debug];
        shuffled.sort();
        assert_eq!(shuffled, LogLevel::ALL);
        assert!(LogLevel::Error > LogLevel::Warn && LogLevel::Warn > LogLevel::Info);
        assert!(LogLevel::Info > LogLevel::Debug && LogLevel::Debug > LogLevel::Trace);
    }

    #[test]
    fn tracing_levels_keep_the_same_meaning_though_they_sort_the_other_way() {
        for pair in LogLevel::ALL.windows(2) {
            let (less_severe, more_severe) = (tracing::Level::from(pair[0]), tracing::Level::from(pair[1]));
            assert!(less_severe > more_severe, "{less_severe} {more_severe}");
            assert_eq!(less_severe.as_str(), pair[0].as_str());
        }
    }

    #[test]
    fn names_parse_back_in_any_case() {
        for level in LogLevel::ALL {
            assert_eq!(level.name().parse::<LogLevel>(), Ok(level));
            assert_eq!(level.as_str().parse::<LogLevel>(), Ok(level));
        }
        assert_eq!(serde_json::to_value(LogLevel::Warn).unwrap(), "warn");
        assert_eq!(format!("[{:>5}]", LogLevel::Info), "[ INFO]");
    }

    #[test]
    fn level_names_parse_in_any_case_and_order_by_severity() {
        let cases = [
            ("error", Ok(LogLevel::Error)),
            ("WARN", Ok(LogLevel::Warn)),
            ("Info", Ok(LogLevel::Info)),
            ("debug", Ok(LogLevel::Debug)),
            ("trace", Ok(LogLevel::Trace)),
            ("warning", Err(UnknownLevel("warning".to_string()))),
            ("3", Err(UnknownLevel("3".to_string()))),
            ("", Err(UnknownLevel(String::new()))),
        ];
        for (name, expected) in cases {
            assert_eq!(name.parse::<LogLevel>(), expected, "{name:?}");
        }
        assert!(LogLevel::Error > LogLevel::Warn && LogLevel::Warn > LogLevel::Info);
        assert!(LogLevel::Info > LogLevel::Debug && LogLevel::Debug > LogLevel::Trace);
        assert_eq!(format!("[{:>5}]", LogLevel::Warn), "[ WARN]");
    }
}

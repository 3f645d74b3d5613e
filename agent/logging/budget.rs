//! What the log folder keeps: the newest `logs.retention_days` days of files, and
//! no more than `logs.max_size` bytes in all.
//!
//! A day's lines go into parts of at most an eighth of the budget
//! ([`Limits::part_size`]), so the oldest part can go while the day goes on: a busy
//! day (a 100,000-item check-in logs some 60 MB) never has to be kept or dropped
//! whole. Files are removed oldest first, by the day and part in their names, until
//! what is left plus a full current part fits the budget; the file being written
//! is never removed. This module only decides; `daily_files` lists and removes.

use chrono::NaiveDate;

/// How many parts the budget holds: the folder keeps the newest seven-eighths of
/// the budget in closed parts, and the part being written fills the last eighth.
const PARTS_IN_BUDGET: u64 = 8;

/// How much of the log the folder keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// How many days of files to keep; `0` keeps every day.
    pub(crate) retention_days: u32,
    /// The most bytes all the files may hold together.
    pub(crate) max_size: u64,
}

impl Limits {
    /// The size at which a day's file is closed and the next part begun: an
    /// eighth of the budget (at least one byte, so each line of a tiny budget is
    /// a part of its own).
    pub(crate) fn part_size(&self) -> u64 {
        (self.max_size / PARTS_IN_BUDGET).max(1)
    }
}

/// One log file in the folder, as its name and size tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogFile {
    /// The day in its name.
    pub(crate) day: NaiveDate,
    /// Its part of the day: `0` for `agent.YYYY-MM-DD.log`, `n` for `agent.YYYY-MM-DD.n.log`.
    pub(crate) part: u32,
    /// Its size in bytes.
    pub(crate) bytes: u64,
}

impl LogFile {
    /// Where it sorts: by day, then part.
    pub(crate) fn order(&self) -> (NaiveDate, u32) {
        (self.day, self.part)
    }
}

/// The files to remove so that the folder keeps `limits` while `current` is
/// written, oldest first: every file of a day past the newest `retention_days`,
/// then the oldest others until they and a full current part fit `max_size`.
/// `current` itself is never among them.
pub(crate) fn files_to_remove(files: &[LogFile], current: (NaiveDate, u32), limits: &Limits) -> Vec<LogFile> {
    let mut others: Vec<&LogFile> = files.iter().filter(|file| file.order() != current).collect();
    others.sort_by_key(|file| file.order());
    let mut days: Vec<NaiveDate> = files.iter().map(|file| file.day).chain([current.0]).collect();
    days.sort_unstable();
    days.dedup();
    let keep_days = usize::try_from(limits.retention_days).unwrap_or(usize::MAX);
    let oldest_kept_day = match limits.retention_days {
        0 => None,
        _ => days.len().checked_sub(keep_days).map(|first_kept| days[first_kept]),
    };
    let current_bytes = files.iter().find(|file| file.order() == current).map_or(0, |file| file.bytes);
    let reserved = limits.part_size().max(current_bytes);
    let mut kept_bytes: u64 = others.iter().map(|file| file.bytes).sum();
    let mut removed = Vec::new();
    for file in others {
        let too_old = oldest_kept_day.is_some_and(|oldest| file.day < oldest);
        let too_big = kept_bytes.saturating_add(reserved) > limits.max_size;
        if !too_old && !too_big {
            break;
        }
        kept_bytes -= file.bytes;
        removed.push(file.clone());
    }
    removed
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;

    use super::*;

    fn day(number: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, number).unwrap()
    }

    fn file(day_number: u32, part: u32, bytes: u64) -> LogFile {
        LogFile { day: day(day_number), part, bytes }
    }

    fn removed(files: &[LogFile], current: (NaiveDate, u32), limits: Limits) -> Vec<(u32, u32)> {
        let removed = files_to_remove(files, current, &limits);
        removed.iter().map(|file| (file.day.day0() + 1, file.part)).collect()
    }

    #[test]
    fn a_part_is_an_eighth_of_the_budget_and_never_empty() {
        assert_eq!(Limits { retention_days: 14, max_size: 256 << 20 }.part_size(), 32 << 20);
        assert_eq!(Limits { retention_days: 14, max_size: 3 }.part_size(), 1);
    }

    #[test]
    fn the_oldest_parts_go_first_until_a_full_current_part_fits() {
        let limits = Limits { retention_days: 0, max_size: 800 };
        // Parts sort by number, not by name: part 10 is after part 9.
        let files =
            [file(2, 10, 100), file(1, 0, 100), file(2, 9, 100), file(1, 1, 300), file(2, 0, 100), file(2, 11, 0)];
        // 700 bytes closed + 100 reserved for the current part: 800 fits.
        assert_eq!(removed(&files, (day(2), 11), limits), Vec::<(u32, u32)>::new());
        let limits = Limits { retention_days: 0, max_size: 500 };
        assert_eq!(removed(&files, (day(2), 11), limits), [(1, 0), (1, 1)]);
        let limits = Limits { retention_days: 0, max_size: 100 };
        assert_eq!(removed(&files, (day(2), 11), limits), [(1, 0), (1, 1), (2, 0), (2, 9), (2, 10)]);
    }

    #[test]
    fn a_current_file_larger_than_a_part_is_counted_whole_and_kept() {
        let limits = Limits { retention_days: 0, max_size: 800 };
        let files = [file(1, 0, 300), file(1, 1, 600)];
        assert_eq!(removed(&files, (day(1), 1), limits), [(1, 0)]);
    }

    #[test]
    fn days_past_the_retention_go_whatever_their_size() {
        let limits = Limits { retention_days: 2, max_size: 1 << 30 };
        let files = [file(1, 0, 1), file(1, 1, 1), file(2, 0, 1), file(3, 0, 1)];
        assert_eq!(removed(&files, (day(3), 0), limits), [(1, 0), (1, 1)]);
        let keep_all = Limits { retention_days: 0, max_size: 1 << 30 };
        assert!(removed(&files, (day(3), 0), keep_all).is_empty());
    }
}

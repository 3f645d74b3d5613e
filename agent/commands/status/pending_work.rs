//! The "Pending disruptive work" section of `agent status`: each item's install
//! or restart that waits on the person at the Mac or on a deadline, one line
//! each, nearest deadline first (the store's order).

use std::fmt::Write;

use crate::render;
use crate::state::PendingWork;

/// The section, or nothing when no work is pending.
pub(super) fn render_section(pending: &[PendingWork]) -> String {
    let mut text = String::new();
    if pending.is_empty() {
        return text;
    }
    text.push_str("\nPending disruptive work:\n");
    for work in pending {
        let _ = writeln!(text, "  {}", line(work));
    }
    text
}

/// `Name: action, deadline TIME (or no deadline); state; N deferral(s) used`,
/// then `; countdown ends TIME` once a countdown started. Every text comes from
/// the blueprint or the person's answers: escaped.
fn line(work: &PendingWork) -> String {
    let deadline =
        work.deadline.map_or_else(|| "no deadline".to_string(), |at| format!("deadline {}", render::time(at)));
    let mut line = format!(
        "{}: {}, {deadline}; {}; {} deferral(s) used",
        render::printable(&work.item_name),
        render::printable(&work.action),
        render::printable(&work.state),
        work.deferrals_used
    );
    if let Some(ends) = work.countdown_ends_at {
        line.push_str(&format!("; countdown ends {}", render::time(ends)));
    }
    line
}

#[cfg(test)]
pub(super) mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 10, hour, 0, 0).unwrap()
    }

    /// Work as the managed OS and app items save it.
    pub(in crate::commands::status) fn examples() -> Vec<PendingWork> {
        vec![
            PendingWork {
                item_id: "li-os".into(),
                item_name: "macOS updates".into(),
                action: "install macOS Sonoma 14.7.1 and restart".into(),
                subject: "macOS Sonoma 14.7.1-23H222".into(),
                deadline: Some(at(17)),
                state: "restart at 2026-12-10T17:45:00Z".into(),
                notice_shown_at: Some(at(16)),
                deferrals_used: 3,
                countdown_ends_at: Some(at(17) + chrono::Duration::minutes(45)),
                updated_at: at(16),
            },
            PendingWork {
                item_id: "li-foo".into(),
                item_name: "Foo".into(),
                action: "replace Foo.app (Foo 2.1)".into(),
                subject: "2.1".into(),
                deadline: None,
                state: "waiting for Foo to quit".into(),
                notice_shown_at: Some(at(9)),
                deferrals_used: 0,
                countdown_ends_at: None,
                updated_at: at(9),
            },
        ]
    }

    #[test]
    fn pending_work_reads_well_and_none_says_nothing() {
        insta::assert_snapshot!(render_section(&examples()));
        assert_eq!(render_section(&[]), "");
    }

    #[test]
    fn hostile_names_and_states_are_escaped() {
        let mut work = examples().remove(1);
        work.item_name = "Foo\n\u{1b}[2J".into();
        work.state = "waiting\rfor".into();
        let text = render_section(&[work]);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text}");
    }
}

//! Which library items a check-in runs, in which order, under which timeout.
//!
//! Pure: the same blueprint, kind and device markers always give the same plan,
//! so the ordering rule is tested without running anything. Order is by type
//! priority (custom scripts first, managed OS last), then by name in byte order
//! (uppercase before lowercase, `_` between them, non-ASCII last), then by id.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::blueprint::{Blueprint, Frequency, ItemType, LibraryItem};

/// The two kinds of check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckinKind {
    /// Every 15 minutes: every item but the daily ones.
    Recurring,
    /// Every 24 hours: every item that is due, daily ones included.
    Daily,
}

impl CheckinKind {
    /// The name used in status, history and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckinKind::Recurring => "recurring",
            CheckinKind::Daily => "daily",
        }
    }

    /// The kind named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "recurring" => Some(CheckinKind::Recurring),
            "daily" => Some(CheckinKind::Daily),
            _ => None,
        }
    }
}

impl fmt::Display for CheckinKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The per-item time limits, by type; `None` means bounded only by the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemTimeouts {
    /// Each custom script item (audit, remediation and re-audit together).
    pub custom_script: Duration,
    /// Each custom printer item.
    pub custom_printer: Duration,
    /// Each auto app item.
    pub auto_app: Duration,
}

impl ItemTimeouts {
    /// The limit for one item of `item_type`; custom apps and managed OS have none
    /// of their own.
    pub fn for_type(&self, item_type: ItemType) -> Option<Duration> {
        match item_type {
            ItemType::CustomScript => Some(self.custom_script),
            ItemType::CustomPrinter => Some(self.custom_printer),
            ItemType::AutoApp => Some(self.auto_app),
            ItemType::CustomApp | ItemType::ManagedOs => None,
        }
    }
}

/// What the check-in does with one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run it, within this limit (besides the run's own budget).
    Run {
        /// The item's own time limit, if its type has one.
        timeout: Option<Duration>,
    },
    /// Leave it alone, for this reason (shown to admins).
    Skip {
        /// Why the item is rightly skipped.
        reason: String,
    },
}

/// One item in the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedItem {
    /// The library item.
    pub item: LibraryItem,
    /// Whether and how it runs.
    pub decision: Decision,
}

/// The items of one check-in in execution order.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Which check-in this is.
    pub kind: CheckinKind,
    /// Every library item of the blueprint, in execution order.
    pub items: Vec<PlannedItem>,
}

/// Plans a check-in of `kind` over `blueprint`.
///
/// `succeeded_once` holds the ids of `once` items that already succeeded on this
/// device. Every item appears in the plan, skipped ones with their reason, so the
/// run record shows the whole blueprint.
pub fn plan(
    blueprint: &Blueprint,
    kind: CheckinKind,
    succeeded_once: &HashSet<String>,
    timeouts: &ItemTimeouts,
) -> Plan {
    let mut ordered: Vec<&LibraryItem> = blueprint.library_items.iter().collect();
    ordered.sort_by(|left, right| run_order(left).cmp(&run_order(right)));
    let items = ordered
        .into_iter()
        .map(|item| PlannedItem { decision: decide(item, kind, succeeded_once, timeouts), item: item.clone() })
        .collect();
    Plan { kind, items }
}

/// The sort key: type priority, then name bytes, then id bytes.
fn run_order(item: &LibraryItem) -> (u8, &[u8], &[u8]) {
    (item.item_type.priority(), item.name.as_bytes(), item.id.as_bytes())
}

fn decide(
    item: &LibraryItem,
    kind: CheckinKind,
    succeeded_once: &HashSet<String>,
    timeouts: &ItemTimeouts,
) -> Decision {
    let skip = |reason: &str| Decision::Skip { reason: reason.to_string() };
    match item.frequency {
        Frequency::Daily if kind == CheckinKind::Recurring => skip("daily item: runs in the daily check-in"),
        Frequency::Once if succeeded_once.contains(&item.id) => skip("once item: already succeeded on this device"),
        Frequency::NoEnforcement => skip("no enforcement: never run by schedule"),
        _ => Decision::Run { timeout: timeouts.for_type(item.item_type) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::{CustomScript, ItemDetails};

    const HOUR: Duration = Duration::from_secs(3600);
    const TIMEOUTS: ItemTimeouts = ItemTimeouts {
        custom_script: HOUR,
        custom_printer: Duration::from_secs(3 * 3600),
        auto_app: Duration::from_secs(6 * 3600),
    };

    fn item(id: &str, name: &str, item_type: ItemType, frequency: Frequency) -> LibraryItem {
        // The planner never looks inside the details.
        let details = ItemDetails::CustomScript(CustomScript { audit: "#!/bin/sh\n".into(), remediation: None });
        LibraryItem { id: id.into(), name: name.into(), item_type, frequency, details }
    }

    fn blueprint(library_items: Vec<LibraryItem>) -> Blueprint {
        Blueprint {
            id: "bp".into(),
            name: "bp".into(),
            team_id: None,
            minimum_agent_version: None,
            parameters: Default::default(),
            library_items,
        }
    }

    #[test]
    fn order_is_type_priority_then_name_bytes_then_id() {
        let every = Frequency::Every15Minutes;
        let items = vec![
            item("os", "A", ItemType::ManagedOs, every),
            item("auto", "A", ItemType::AutoApp, every),
            item("app", "A", ItemType::CustomApp, every),
            item("printer", "A", ItemType::CustomPrinter, every),
            item("7", "b", ItemType::CustomScript, every),
            item("6", "ä", ItemType::CustomScript, every),
            item("5", "a", ItemType::CustomScript, every),
            item("4", "_x", ItemType::CustomScript, every),
            item("3", "Z9", ItemType::CustomScript, every),
            item("2", "B", ItemType::CustomScript, every),
            item("1b", "A", ItemType::CustomScript, every),
            item("1a", "A", ItemType::CustomScript, every),
        ];
        let plan = plan(&blueprint(items), CheckinKind::Daily, &HashSet::new(), &TIMEOUTS);
        let order: Vec<&str> = plan.items.iter().map(|planned| planned.item.id.as_str()).collect();
        assert_eq!(order, ["1a", "1b", "2", "3", "4", "5", "7", "6", "printer", "app", "auto", "os"]);
    }

    #[test]
    fn each_type_gets_its_own_timeout_or_none() {
        let cases = [
            (ItemType::CustomScript, Some(HOUR)),
            (ItemType::CustomPrinter, Some(Duration::from_secs(3 * 3600))),
            (ItemType::CustomApp, None),
            (ItemType::AutoApp, Some(Duration::from_secs(6 * 3600))),
            (ItemType::ManagedOs, None),
        ];
        for (item_type, timeout) in cases {
            let plan = plan(
                &blueprint(vec![item("x", "x", item_type, Frequency::Every15Minutes)]),
                CheckinKind::Recurring,
                &HashSet::new(),
                &TIMEOUTS,
            );
            assert_eq!(plan.items[0].decision, Decision::Run { timeout }, "{item_type}");
        }
    }

    #[test]
    fn frequency_decides_what_each_kind_runs() {
        let done: HashSet<String> = ["once-done".to_string()].into();
        let cases = [
            (Frequency::Every15Minutes, "x", CheckinKind::Recurring, true),
            (Frequency::Every15Minutes, "x", CheckinKind::Daily, true),
            (Frequency::Daily, "x", CheckinKind::Recurring, false),
            (Frequency::Daily, "x", CheckinKind::Daily, true),
            (Frequency::Once, "x", CheckinKind::Recurring, true),
            (Frequency::Once, "once-done", CheckinKind::Daily, false),
            (Frequency::NoEnforcement, "x", CheckinKind::Daily, false),
            (Frequency::NoEnforcement, "x", CheckinKind::Recurring, false),
        ];
        for (frequency, id, kind, runs) in cases {
            let plan = plan(&blueprint(vec![item(id, id, ItemType::CustomScript, frequency)]), kind, &done, &TIMEOUTS);
            let ran = matches!(plan.items[0].decision, Decision::Run { .. });
            assert_eq!(ran, runs, "{frequency:?} {id} in a {kind} check-in");
        }
    }
}

//! Keeping the agent itself up to date, from what the tenant's check-in reply says
//! (`minimum_agent_version`, `latest_agent: {version, url, sha256}`).
//!
//! ```text
//! check-in: tenant::begin (reply kept) ─ items ─ results reported
//!     └─► update_agent: decision::decide ── Nothing | CannotComply (logged, recorded)
//!                          └─ Update ─► decision::gate (an offer tried before waits for a daily check-in)
//!                               └─► a team pinned in self_update.team_id? (else signature_mismatch)
//!                               └─► downloads (root-only cache, sha256)
//!                               └─► signature: pkgutil + spctl, signed and notarized by that team (else signature_mismatch)
//!                               └─► installer -pkg … -target <root>
//!                                     └─► verify: the installed agent's `--version` is the offered one
//!                                     └─► state: agent_updates (status `agent_update`, next results report)
//! ```
//!
//! It runs after the check-in's results were reported, still under the check-in
//! lock, so the check-in is complete before the daemon restarts. While the
//! installer runs, a marker ([`marker`]) tells the package's scripts to leave the
//! running daemon alone (stopping it would cut the install short); once the
//! check-in is over, the daemon exits by itself and launchd starts the new binary.
//! The agent never installs a version equal to or older than its own.

mod apply;
mod decision;
mod marker;
mod signature;
mod verify;

pub(crate) use apply::{UpdateContext, settle_unfinished, update_agent};
pub(crate) use decision::{Advice, running_version, settle};

//! Whether the tenant keeps refusing the token: three check-ins in a row that end
//! in `401` show as drift `stale_token` until a request succeeds.

use crate::state::{Store, StoreError};

const UNAUTHORIZED_STREAK_KEY: &str = "tenant_unauthorized_streak";

/// How many check-ins in a row must end in `401` before the token counts as stale.
const STALE_TOKEN_STREAK: u32 = 3;

/// How a stretch of requests went, for the count of refused tokens.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct TokenOutcome {
    /// A request ended in `401` even after the configuration was read again.
    pub(super) unauthorized: bool,
    /// A request succeeded.
    pub(super) succeeded: bool,
}

/// Whether the token counts as stale now (drift `stale_token`): enough check-ins in
/// a row ended in `401` and no request has succeeded since. It holds even when no
/// check-in could run, e.g. on a device enrolled with a wrong token that never got
/// a blueprint.
pub(crate) fn token_is_stale(store: &Store) -> Result<bool, StoreError> {
    Ok(refusal_streak(store)? >= STALE_TOKEN_STREAK)
}

/// How many check-ins in a row ended in `401`.
fn refusal_streak(store: &Store) -> Result<u32, StoreError> {
    Ok(store.tenant_value(UNAUTHORIZED_STREAK_KEY)?.and_then(|text| text.parse().ok()).unwrap_or(0))
}

/// Counts check-ins ending in `401` (when `count_refusal`); any success resets the
/// count. Says whether the token is stale now.
pub(super) fn record_token_outcome(
    store: &Store,
    outcome: TokenOutcome,
    count_refusal: bool,
) -> Result<bool, StoreError> {
    let streak = refusal_streak(store)?;
    let streak = if outcome.succeeded {
        0
    } else if outcome.unauthorized && count_refusal {
        streak + 1
    } else {
        streak
    };
    store.set_tenant_value(UNAUTHORIZED_STREAK_KEY, Some(&streak.to_string()))?;
    if streak >= STALE_TOKEN_STREAK {
        tracing::error!(streak, "The tenant has refused the token in {streak} check-ins in a row: drift stale_token.");
    }
    Ok(streak >= STALE_TOKEN_STREAK)
}

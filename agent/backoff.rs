//! How long to wait before trying again after failures in a row: a window that
//! starts at `first` and doubles per failure up to `longest`, and a pause at a
//! random point of its second half, so a fleet that lost its tenant at the same
//! moment does not come back at the same moment. The spooled reports and the
//! daemon's command channel both wait this way.

use std::time::Duration;

/// The pause after `failures` failures in a row (1 = the first): `first` doubled
/// for each failure after the first, at most `longest`, less up to half of it by
/// `jitter` (0 to 1).
pub(crate) fn pause_after(failures: u32, first: Duration, longest: Duration, jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1);
    let window = first.saturating_mul(1u32.checked_shl(doublings).unwrap_or(u32::MAX)).min(longest);
    window.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
}

/// A random number from 0 to 1, from the OS's random source (0.5 without one).
pub(crate) fn jitter() -> f64 {
    getrandom::u64().map_or(0.5, |bits| (bits >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_double_from_the_first_up_to_the_longest_and_jitter_takes_off_at_most_half() {
        let (first, longest) = (Duration::from_secs(5), Duration::from_secs(300));
        let windows: Vec<u64> = (1..=9).map(|failures| pause_after(failures, first, longest, 0.0).as_secs()).collect();
        assert_eq!(windows, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(pause_after(u32::MAX, first, longest, 0.0), longest, "no overflow");
        assert_eq!(pause_after(0, first, longest, 0.0), first, "no failure counts as the first");
        assert_eq!(pause_after(1, first, Duration::from_secs(2), 0.0), Duration::from_secs(2), "a short longest wins");
        assert_eq!(pause_after(2, first, longest, 1.0), first, "half of the second window");
        assert_eq!(pause_after(2, first, longest, 7.0), first, "clamped");
    }

    #[test]
    fn jitter_lies_between_zero_and_one_and_differs() {
        let drawn: Vec<f64> = (0..32).map(|_| jitter()).collect();
        assert!(drawn.iter().all(|fraction| (0.0..1.0).contains(fraction)));
        assert!(drawn.windows(2).any(|pair| pair[0] != pair[1]));
    }
}

//! Sizes in bytes, as admins write them: a whole number of bytes, or text such as
//! `"20 GiB"` or `"512KiB"` (units `B`, `KiB`, `MiB`, `GiB`, `TiB`, powers of 1024).

use serde::Serializer;

use super::values::{RawValue, ValueProblem};

/// The units a size may be written in, largest first, with their byte counts.
const UNITS: [(&str, u64); 5] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)];

/// The largest size any key accepts: 1024 TiB, far past any disk or download.
pub(crate) const LARGEST_SIZE: u64 = 1 << 50;

/// A size from 1 byte to [`LARGEST_SIZE`]: an integer number of bytes, or a whole
/// number and a unit.
pub(crate) fn parse_size(raw: &RawValue) -> Result<u64, ValueProblem> {
    let bytes = match raw {
        RawValue::Integer(number) => u64::try_from(*number).ok(),
        RawValue::Text(text) => size_from_text(text.trim()),
        _ => None,
    };
    bytes
        .filter(|bytes| (1..=LARGEST_SIZE).contains(bytes))
        .ok_or_else(|| ValueProblem::NotASize { found: raw.to_string() })
}

/// `"20 GiB"`, `"20GiB"` or `"1024"` in bytes; `None` when it is none of these.
fn size_from_text(text: &str) -> Option<u64> {
    let digits = text.find(|character: char| !character.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let unit = unit.trim();
    if unit.is_empty() {
        return Some(number);
    }
    let (_, scale) = UNITS.iter().find(|(name, _)| name.eq_ignore_ascii_case(unit))?;
    number.checked_mul(*scale)
}

/// `bytes` in the largest unit that holds it whole: `"20 GiB"`, `"1500 B"`. The
/// text parses back to the same size.
pub(crate) fn size_text(bytes: u64) -> String {
    let (name, scale) = UNITS.iter().find(|(_, scale)| bytes % scale == 0 && bytes >= *scale).unwrap_or(&("B", 1));
    format!("{} {name}", bytes / scale)
}

/// A size as admins write it: `"20 GiB"`.
pub(super) fn as_size_text<S: Serializer>(bytes: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&size_text(*bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_in_bytes_and_binary_units() {
        let text = |value: &str| parse_size(&RawValue::Text(value.to_string()));
        assert_eq!(parse_size(&RawValue::Integer(1500)), Ok(1500));
        assert_eq!(text("20 GiB"), Ok(20 << 30));
        assert_eq!(text(" 512kib "), Ok(512 << 10));
        assert_eq!(text("7"), Ok(7));
        assert_eq!(text("1024 TiB"), Ok(LARGEST_SIZE));
        for bad in ["0", "1025 TiB", "20 GB", "1.5 GiB", "GiB", "-1", ""] {
            assert!(text(bad).is_err(), "{bad:?}");
        }
        assert!(parse_size(&RawValue::Integer(-1)).is_err());
        assert!(parse_size(&RawValue::Boolean(true)).is_err());
    }

    #[test]
    fn sizes_show_in_the_largest_whole_unit_and_read_back() {
        for (bytes, shown) in [(20 << 30, "20 GiB"), (1500, "1500 B"), (1 << 10, "1 KiB"), (3 << 20, "3 MiB")] {
            assert_eq!(size_text(bytes), shown);
            assert_eq!(parse_size(&RawValue::Text(shown.to_string())), Ok(bytes));
        }
    }
}

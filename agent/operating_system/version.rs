//! Dotted numeric OS versions: `15.1`, `14.7.2`, `22.04`.
//!
//! Apple's versions are numbers separated by dots and are compared number by
//! number, a missing part counting as zero, so `14.7` equals `14.7.0` and `14.10`
//! is newer than `14.9`. Semantic versioning does not fit: it needs three parts
//! and would read `22.04` as invalid.

use std::cmp::Ordering;
use std::fmt;

/// The most parts a version may have (`10.15.7.1` is the longest Apple used).
const MAXIMUM_PARTS: usize = 4;

/// An operating system version, compared number by number.
#[derive(Debug, Clone)]
pub struct OsVersion {
    /// The numbers between the dots.
    parts: Vec<u32>,
    /// The version as written, shown back to people unchanged.
    text: String,
}

/// Why a text is not a version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Nothing was given.
    #[error("is empty")]
    Empty,
    /// A part between dots is missing or is not a whole number.
    #[error("part {part:?} is not a whole number")]
    NotANumber {
        /// The offending part.
        part: String,
    },
    /// More parts than any OS version has.
    #[error("has more than {MAXIMUM_PARTS} parts")]
    TooManyParts,
}

impl OsVersion {
    /// Reads a version made only of numbers and dots, such as `14.7.2`.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        let mut parts = Vec::new();
        for part in text.split('.') {
            // `u32::from_str` alone would accept a leading `+`.
            let number = part.bytes().all(|byte| byte.is_ascii_digit()).then(|| part.parse::<u32>().ok()).flatten();
            match number {
                Some(number) => parts.push(number),
                None => return Err(VersionError::NotANumber { part: part.to_string() }),
            }
        }
        if parts.len() > MAXIMUM_PARTS {
            return Err(VersionError::TooManyParts);
        }
        Ok(Self { parts, text: text.to_string() })
    }

    /// The version at the start of a tool's text, such as `13.4.1` in `13.4.1 (a)`;
    /// `None` when the text does not start with one.
    pub fn leading(text: &str) -> Option<Self> {
        let text = text.trim_start();
        let end = text.find(|character: char| !(character.is_ascii_digit() || character == '.')).unwrap_or(text.len());
        Self::parse(text[..end].trim_end_matches('.')).ok()
    }

    /// The first number: `14` for `14.7.2`, which changes with a major upgrade.
    pub fn major(&self) -> u32 {
        self.parts.first().copied().unwrap_or_default()
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The part at `index`, zero past the end.
    fn part(&self, index: usize) -> u32 {
        self.parts.get(index).copied().unwrap_or_default()
    }
}

impl Ord for OsVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let longest = self.parts.len().max(other.parts.len());
        (0..longest)
            .map(|index| self.part(index).cmp(&other.part(index)))
            .find(|order| order.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for OsVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for OsVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for OsVersion {}

impl fmt::Display for OsVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> OsVersion {
        OsVersion::parse(text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
    }

    #[test]
    fn versions_compare_number_by_number_with_missing_parts_as_zero() {
        let cases = [
            ("14.7", "14.7.0", Ordering::Equal),
            ("14.7.0.0", "14.7", Ordering::Equal),
            ("14.10", "14.9", Ordering::Greater),
            ("14.7.1", "14.7", Ordering::Greater),
            ("13.6.9", "14", Ordering::Less),
            ("15", "14.99.99", Ordering::Greater),
            ("22.04", "22.4", Ordering::Equal),
            ("10.15.7", "11.0.1", Ordering::Less),
        ];
        for (left, right, expected) in cases {
            assert_eq!(version(left).cmp(&version(right)), expected, "{left} vs {right}");
            assert_eq!(version(right).cmp(&version(left)), expected.reverse(), "{right} vs {left}");
        }
    }

    #[test]
    fn only_numbers_and_dots_are_versions() {
        let cases = [
            ("", VersionError::Empty),
            ("   ", VersionError::Empty),
            ("v15", VersionError::NotANumber { part: "v15".into() }),
            ("15.", VersionError::NotANumber { part: String::new() }),
            ("15..1", VersionError::NotANumber { part: String::new() }),
            ("14.7.1 (a)", VersionError::NotANumber { part: "1 (a)".into() }),
            ("-1", VersionError::NotANumber { part: "-1".into() }),
            ("+14", VersionError::NotANumber { part: "+14".into() }),
            ("sonoma", VersionError::NotANumber { part: "sonoma".into() }),
            ("99999999999", VersionError::NotANumber { part: "99999999999".into() }),
            ("1.2.3.4.5", VersionError::TooManyParts),
        ];
        for (text, expected) in cases {
            assert_eq!(OsVersion::parse(text).unwrap_err(), expected, "{text:?}");
        }
        assert_eq!(version(" 15.1 ").as_str(), "15.1");
        assert_eq!(version("10.15.7.1").major(), 10);
    }

    #[test]
    fn the_leading_version_of_a_tool_text_is_found() {
        let cases = [
            ("13.4.1 (a)", Some("13.4.1")),
            ("14.7.1", Some("14.7.1")),
            ("12.7.1-21G920", Some("12.7.1")),
            ("15.", Some("15")),
            ("Sonoma", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(
                OsVersion::leading(text).map(|found| found.as_str().to_string()).as_deref(),
                expected,
                "{text:?}"
            );
        }
    }
}

//! App versions as Mac apps write them, compared the way an admin reads them.
//!
//! `CFBundleShortVersionString` is free text: `1.2`, `1.10.0`, `2024.05`,
//! `3.0b2`, `5.1 (1234)`. Strict semver refuses most of these, and comparing
//! text gets `1.9` vs `1.10` wrong, so a version is read as a list of tokens:
//! runs of digits become numbers, runs of letters become words, and everything
//! else (`.`, `-`, `_`, `+`, spaces, brackets) only separates. Two versions are
//! compared token by token:
//!
//! - numbers compare as numbers (`1.9` < `1.10`, `2024.05` = `2024.5`);
//! - missing trailing zeros are equal (`1.2` = `1.2.0.0`);
//! - a pre-release word (`dev`, `alpha`/`a`, `beta`/`b`, `preview`/`pre`, `rc`,
//!   in that order) sorts before the release it leads to (`3.0b2` < `3.0`), and
//!   a number beats a word at the same place (`1.0.1` > `1.0b1`);
//! - any other trailing word or number is a later build (`5.1 (1234)` > `5.1`).
//!
//! The order is the one Munki's loose versions give for the usual cases, without
//! its surprises for two-digit parts.

use std::cmp::Ordering;
use std::fmt;

/// A version read from a blueprint or an app's `Info.plist`.
#[derive(Debug, Clone)]
pub struct AppVersion {
    text: String,
    tokens: Vec<Token>,
}

/// One part of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Number(u64),
    Word(String),
}

/// Pre-release words, earliest first; a word's place here is its rank.
const PRE_RELEASE_WORDS: [&[&str]; 5] = [&["dev"], &["alpha", "a"], &["beta", "b"], &["preview", "pre"], &["rc"]];

/// Why a text is not a version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Empty, or not starting with a number (after an optional `v`).
    #[error("{0:?} is not a version such as \"1.2.3\" (it must start with a number)")]
    NotAVersion(String),
    /// A number too large to compare.
    #[error("{0:?} has a number too large to compare")]
    TooLarge(String),
}

impl AppVersion {
    /// Reads `text`; it must start with a number, optionally after a `v`.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let trimmed = text.trim();
        let body = trimmed.strip_prefix(['v', 'V']).filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
        let body = body.unwrap_or(trimmed);
        if !body.starts_with(|character: char| character.is_ascii_digit()) {
            return Err(VersionError::NotAVersion(text.to_string()));
        }
        let tokens = tokenize(body).ok_or_else(|| VersionError::TooLarge(text.to_string()))?;
        Ok(Self { text: trimmed.to_string(), tokens })
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Splits into numbers and lowercase words; `None` when a number overflows.
fn tokenize(text: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut characters = text.chars().peekable();
    while let Some(&first) = characters.peek() {
        if first.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(digit) = characters.next_if(char::is_ascii_digit) {
                digits.push(digit);
            }
            tokens.push(Token::Number(digits.parse().ok()?));
        } else if first.is_alphabetic() {
            let mut word = String::new();
            while let Some(letter) = characters.next_if(|character| character.is_alphabetic()) {
                word.extend(letter.to_lowercase());
            }
            tokens.push(Token::Word(word));
        } else {
            characters.next();
        }
    }
    Some(tokens)
}

/// The rank of a pre-release word, `None` for any other word.
fn pre_release_rank(word: &str) -> Option<usize> {
    PRE_RELEASE_WORDS.iter().position(|words| words.contains(&word))
}

fn compare_tokens(left: &Token, right: &Token) -> Ordering {
    match (left, right) {
        (Token::Number(left), Token::Number(right)) => left.cmp(right),
        (Token::Number(_), Token::Word(_)) => Ordering::Greater,
        (Token::Word(_), Token::Number(_)) => Ordering::Less,
        (Token::Word(left), Token::Word(right)) => match (pre_release_rank(left), pre_release_rank(right)) {
            (Some(left), Some(right)) => left.cmp(&right),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => left.cmp(right),
        },
    }
}

/// How the tokens left over on the longer side compare with nothing at all.
fn compare_rest(rest: &[Token]) -> Ordering {
    match rest.iter().find(|token| **token != Token::Number(0)) {
        None => Ordering::Equal,
        Some(Token::Word(word)) if pre_release_rank(word).is_some() => Ordering::Less,
        Some(_) => Ordering::Greater,
    }
}

impl Ord for AppVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        for (left, right) in self.tokens.iter().zip(&other.tokens) {
            let order = compare_tokens(left, right);
            if order != Ordering::Equal {
                return order;
            }
        }
        let shared = self.tokens.len().min(other.tokens.len());
        if self.tokens.len() >= other.tokens.len() {
            compare_rest(&self.tokens[shared..])
        } else {
            compare_rest(&other.tokens[shared..]).reverse()
        }
    }
}

impl PartialOrd for AppVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for AppVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for AppVersion {}

impl fmt::Display for AppVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> AppVersion {
        AppVersion::parse(text).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn versions_compare_as_admins_read_them() {
        let cases = [
            ("1.9", "1.10", Ordering::Less),
            ("1.2", "1.10.0", Ordering::Less),
            ("1.10", "1.10.0", Ordering::Equal),
            ("1.2", "1.2.0.0", Ordering::Equal),
            ("2024.05", "2024.5", Ordering::Equal),
            ("2024.05", "2024.10", Ordering::Less),
            ("2023.12.1", "2024.01", Ordering::Less),
            ("3.0b2", "3.0", Ordering::Less),
            ("3.0b2", "3.0b10", Ordering::Less),
            ("3.0-beta.2", "3.0-rc.1", Ordering::Less),
            ("3.0 alpha", "3.0 beta", Ordering::Less),
            ("1.0.0b1", "1.0", Ordering::Less),
            ("1.0.1", "1.0b1", Ordering::Greater),
            ("5.1 (1234)", "5.1", Ordering::Greater),
            ("5.1 (1234)", "5.1 (1300)", Ordering::Less),
            ("5.1 (1234)", "5.2", Ordering::Less),
            ("v2.0", "2", Ordering::Equal),
            ("10.0", "9.99.99", Ordering::Greater),
            ("1.0-hotfix", "1.0", Ordering::Greater),
            ("1.0.0", "1", Ordering::Equal),
        ];
        for (left, right, expected) in cases {
            assert_eq!(version(left).cmp(&version(right)), expected, "{left} vs {right}");
            assert_eq!(version(right).cmp(&version(left)), expected.reverse(), "{right} vs {left}");
        }
    }

    #[test]
    fn text_that_is_not_a_version_is_refused() {
        for text in ["", "  ", "latest", "beta 2", "v", "vx1", ".1"] {
            assert!(matches!(AppVersion::parse(text), Err(VersionError::NotAVersion(_))), "{text:?}");
        }
        assert!(matches!(AppVersion::parse("1.99999999999999999999999"), Err(VersionError::TooLarge(_))));
    }

    #[test]
    fn a_version_prints_as_written() {
        assert_eq!(version(" 1.10.0 ").to_string(), "1.10.0");
        assert_eq!(version("2024.05").as_str(), "2024.05");
    }

    /// Versions as apps write them: numbers with dots, pre-release words and builds.
    const VERSION_TEXT: &str = "[0-9]{1,4}([. -]([0-9]{1,5}|a|b|beta|rc|dev|pre|build|\\([0-9]{1,4}\\))){0,5}";

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,40}") {
            let _ = AppVersion::parse(&text);
        }

        #[test]
        fn the_order_is_total(left in VERSION_TEXT, middle in VERSION_TEXT, right in VERSION_TEXT) {
            let (left, middle, right) = (version(&left), version(&middle), version(&right));
            proptest::prop_assert_eq!(left.cmp(&left), Ordering::Equal);
            proptest::prop_assert_eq!(left.cmp(&right), right.cmp(&left).reverse(), "{} vs {}", left, right);
            if left <= middle && middle <= right {
                proptest::prop_assert!(left <= right, "{} <= {} <= {}", left, middle, right);
            }
        }

        #[test]
        fn trailing_zeros_change_nothing_and_a_larger_number_is_later(
            text in VERSION_TEXT,
            zeros in 1_usize..4,
            smaller in 0_u64..100_000,
            step in 1_u64..1_000,
        ) {
            let padded = format!("{text}{}", ".0".repeat(zeros));
            proptest::prop_assert_eq!(version(&text).cmp(&version(&padded)), Ordering::Equal, "{} vs {}", text, padded);
            let (before, after) = (version(&format!("{text}.{smaller}")), version(&format!("{text}.{}", smaller + step)));
            proptest::prop_assert!(before < after, "{} < {}", before, after);
        }
    }
}

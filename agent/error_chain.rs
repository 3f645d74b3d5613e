//! An error and its causes on one line, the way `{:#}` prints an anyhow chain:
//! for log fields and reports that hold a plain error rather than an
//! `anyhow::Error` (a download's reason, `doctor`'s findings, the store's damage).

use std::error::Error;

/// `error` and its causes, joined by `: `.
pub(crate) fn with_causes(error: &dyn Error) -> String {
    causes_after(error.to_string(), error.source())
}

/// `text`, then `cause` and each of its causes, joined by `: `. A cause whose text
/// the line already holds is left out (some libraries print their cause in their
/// own message as well).
pub(crate) fn causes_after(mut text: String, mut cause: Option<&dyn Error>) -> String {
    while let Some(inner) = cause {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot save the report")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot write /state/report: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn each_cause_is_said_once() {
        let error = Outer(Middle(std::io::Error::other("disk full")));
        assert_eq!(with_causes(&error), "cannot save the report: cannot write /state/report: disk full");
        assert_eq!(with_causes(&std::io::Error::other("disk full")), "disk full");
    }
}

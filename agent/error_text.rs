//! An error and its causes as one line, the way `{:#}` prints an anyhow chain:
//! for messages that keep a library error's whole story (a store that could not be
//! opened, a tenant that could not be reached).

use std::error::Error;

/// `error`'s message followed by each of its causes, joined by `: `.
pub(crate) fn with_causes(error: &dyn Error) -> String {
    causes_after(error.to_string(), error)
}

/// `text` followed by each cause of `error`, joined by `: `. A cause whose message
/// the text already holds (an error that prints its source and also marks it as
/// its source) is not repeated.
pub(crate) fn causes_after(mut text: String, error: &dyn Error) -> String {
    let mut cause = error.source();
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
    enum Outer {
        #[error("cannot open the store")]
        Plain(#[source] std::io::Error),
        #[error("cannot open the store: {0}")]
        Repeating(#[source] std::io::Error),
    }

    fn denied() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied")
    }

    #[test]
    fn each_cause_is_shown_once() {
        assert_eq!(with_causes(&Outer::Plain(denied())), "cannot open the store: permission denied");
        assert_eq!(with_causes(&Outer::Repeating(denied())), "cannot open the store: permission denied");
        assert_eq!(causes_after("timed out".into(), &Outer::Plain(denied())), "timed out: permission denied");
    }
}

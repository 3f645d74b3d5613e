//! Filling `pkg/Distribution` and `pkg/PackageInfo`: every `{{NAME}}` is replaced by
//! its value, XML-escaped. A placeholder without a value, or a value nobody asked
//! for, is an error, so a template and the tool cannot drift apart silently.

use std::collections::BTreeSet;

use crate::xar::escape;

/// Why a template could not be filled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// `{{NAME}}` with no value given.
    #[error("{template}: no value for {{{{{name}}}}}")]
    Unknown { template: String, name: String },
    /// `{{` without a closing `}}`.
    #[error("{template}: unclosed {{{{ at byte {offset}")]
    Unclosed { template: String, offset: usize },
    /// A value the template never uses.
    #[error("{template}: never uses {{{{{name}}}}}")]
    Unused { template: String, name: String },
}

/// `text` (from the file named `template`) with its placeholders replaced.
pub fn fill(template: &str, text: &str, values: &[(&str, &str)]) -> Result<String, TemplateError> {
    let mut output = String::with_capacity(text.len() + 256);
    let mut used = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        output.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            let offset = text.len() - rest.len() + start;
            return Err(TemplateError::Unclosed { template: template.to_string(), offset });
        };
        let name = &after[..end];
        let Some((_, value)) = values.iter().find(|(known, _)| *known == name) else {
            return Err(TemplateError::Unknown { template: template.to_string(), name: name.to_string() });
        };
        output.push_str(&escape(value));
        used.insert(name);
        rest = &after[end + 2..];
    }
    output.push_str(rest);
    if let Some((name, _)) = values.iter().find(|(name, _)| !used.contains(name)) {
        return Err(TemplateError::Unused { template: template.to_string(), name: name.to_string() });
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_escaped() {
        let filled = fill("T", r#"<a v="{{V}}">{{N}} {{V}}</a>"#, &[("V", "1.0"), ("N", "a<b")]).unwrap();
        assert_eq!(filled, r#"<a v="1.0">a&lt;b 1.0</a>"#);
    }

    #[test]
    fn missing_unclosed_and_unused_placeholders_are_errors() {
        assert_eq!(fill("T", "{{X}}", &[]).unwrap_err().to_string(), "T: no value for {{X}}");
        assert_eq!(fill("T", "ab {{X", &[("X", "1")]).unwrap_err().to_string(), "T: unclosed {{ at byte 3");
        assert_eq!(fill("T", "plain", &[("X", "1")]).unwrap_err().to_string(), "T: never uses {{X}}");
    }
}

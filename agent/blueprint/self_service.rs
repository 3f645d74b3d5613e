//! An item's Self Service offer: the `self_service` object any library item may
//! carry, which puts it in the catalog people at the Mac see.
//!
//! ```json
//! "self_service": { "category": "Browsers", "description": "The Firefox web browser.",
//!                   "recommended": true }
//! ```
//! `category` is required (the catalog is grouped by it); `description` (default
//! empty) and `recommended` (default `false`) are optional. Both texts are shown
//! to people, so they are bounded in length and may not hold control characters
//! (a description may hold line breaks).

use serde_json::{Map, Value};

use super::document::{Problems, join_key};

/// How an item is offered in Self Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfServiceOffer {
    /// The catalog section the item is listed under ("Browsers").
    pub category: String,
    /// What the item does, in the admin's words; may be empty.
    pub description: String,
    /// Listed first, under Recommended.
    pub recommended: bool,
}

/// The longest category, in characters: a heading, not a paragraph.
pub const CATEGORY_MAX_CHARACTERS: usize = 64;
/// The longest description, in characters: a few paragraphs at most.
pub const DESCRIPTION_MAX_CHARACTERS: usize = 2000;

const KEYS: [&str; 3] = ["category", "description", "recommended"];

/// Reads the `self_service` key of the item at `key`, if present.
/// `Err(())` when it is present but wrong (the problems are recorded).
pub(crate) fn resolve(
    item: &Map<String, Value>,
    key: &str,
    problems: &mut Problems,
) -> Result<Option<SelfServiceOffer>, ()> {
    let offer_key = join_key(key, "self_service");
    let object = match item.get("self_service") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(object)) => object,
        Some(other) => {
            problems.wrong_type(&offer_key, "an object", other);
            return Err(());
        }
    };
    problems.warn_unknown_keys(&offer_key, object, &[&KEYS]);
    let category = problems
        .required_text(object, &offer_key, "category")
        .filter(|text| is_printable(text, false, CATEGORY_MAX_CHARACTERS, &join_key(&offer_key, "category"), problems));
    let description_key = join_key(&offer_key, "description");
    let description = match object.get("description") {
        None | Some(Value::Null) => Some(String::new()),
        Some(_) => problems.optional_text(object, &offer_key, "description"),
    }
    .filter(|text| is_printable(text, true, DESCRIPTION_MAX_CHARACTERS, &description_key, problems));
    let recommended = match object.get("recommended") {
        None | Some(Value::Null) => Some(false),
        Some(Value::Bool(flag)) => Some(*flag),
        Some(other) => {
            problems.wrong_type(&join_key(&offer_key, "recommended"), "true or false", other);
            None
        }
    };
    match (category, description, recommended) {
        (Some(category), Some(description), Some(recommended)) => {
            Ok(Some(SelfServiceOffer { category, description, recommended }))
        }
        _ => Err(()),
    }
}

/// `text` is at most `limit` characters and holds no control character (but
/// line breaks and tabs when `multiline`); else an error at `key`.
fn is_printable(text: &str, multiline: bool, limit: usize, key: &str, problems: &mut Problems) -> bool {
    let allowed = |character: char| multiline && (character == '\n' || character == '\t');
    if text.chars().count() > limit {
        problems.error(key, &format!("is longer than {limit} characters"));
        false
    } else if text.chars().any(|character| character.is_control() && !allowed(character)) {
        problems.error(key, "must not contain control characters");
        false
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;

    fn check(offer: Value) -> (Result<Option<SelfServiceOffer>, ()>, Vec<String>) {
        let item = json!({ "self_service": offer });
        let mut problems = Problems::new(Path::new("/bp.json"));
        let resolved = resolve(item.as_object().unwrap(), "library_items[2]", &mut problems);
        match problems.finish(()) {
            Ok(((), warnings)) => (resolved, warnings),
            Err(errors) => {
                (resolved, errors.0.iter().map(|error| format!("{}: {}", error.key, error.message)).collect())
            }
        }
    }

    #[test]
    fn a_complete_offer_resolves_and_unknown_keys_are_warned() {
        let (offer, warnings) = check(json!({ "category": "Browsers", "description": "A browser.\nFast.",
                                              "recommended": true, "icon": "x" }));
        let expected = SelfServiceOffer {
            category: "Browsers".into(),
            description: "A browser.\nFast.".into(),
            recommended: true,
        };
        assert_eq!(offer, Ok(Some(expected)));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("library_items[2].self_service.icon"), "{warnings:?}");
    }

    #[test]
    fn description_and_recommended_have_defaults() {
        let (offer, warnings) = check(json!({ "category": "Tools" }));
        let expected = SelfServiceOffer { category: "Tools".into(), description: String::new(), recommended: false };
        assert_eq!((offer, warnings), (Ok(Some(expected)), vec![]));
        assert_eq!(check(Value::Null), (Ok(None), vec![]), "no offer");
    }

    #[test]
    fn every_bad_field_is_named_by_its_key() {
        let long_category = "c".repeat(CATEGORY_MAX_CHARACTERS + 1);
        let long_description = "d".repeat(DESCRIPTION_MAX_CHARACTERS + 1);
        let cases = [
            (json!("Browsers"), vec!["library_items[2].self_service: expected an object, found the string"]),
            (json!({}), vec!["library_items[2].self_service.category: is required"]),
            (
                json!({ "category": 3, "description": ["x"], "recommended": "yes" }),
                vec![
                    "library_items[2].self_service.category: expected a string",
                    "library_items[2].self_service.description: expected a string",
                    "library_items[2].self_service.recommended: expected true or false",
                ],
            ),
            (
                json!({ "category": long_category, "description": long_description }),
                vec![
                    "library_items[2].self_service.category: is longer than 64 characters",
                    "library_items[2].self_service.description: is longer than 2000 characters",
                ],
            ),
            (
                json!({ "category": "A\nB", "description": "bell\u{7}" }),
                vec![
                    "library_items[2].self_service.category: must not contain control characters",
                    "library_items[2].self_service.description: must not contain control characters",
                ],
            ),
        ];
        for (offer, expected) in cases {
            let (resolved, errors) = check(offer.clone());
            assert_eq!(resolved, Err(()), "{offer}");
            for fragment in &expected {
                assert!(errors.iter().any(|error| error.starts_with(fragment)), "{fragment:?} not in {errors:#?}");
            }
            assert_eq!(errors.len(), expected.len(), "{errors:#?} for {offer}");
        }
    }
}

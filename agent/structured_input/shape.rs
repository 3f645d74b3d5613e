//! The first pass over a document: its shape, without keeping any of it.
//!
//! The parsers (serde_json, plist) drive a visitor that keeps nothing but the
//! key path it is at, counts values and nesting, and stops at the first limit
//! crossed. Only a document that passes is parsed again into a value tree, so a
//! tree is never built deeper than [`MAX_DEPTH`] (building, and dropping, a deep
//! tree is what overflows the stack). The parsers only take a type, not a value,
//! so the walk's state lives in a thread-local for the length of one synchronous
//! parse.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt::{self, Write};

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{InputProblem, KeyPath, MAX_DEPTH};

/// Why the first pass stopped.
pub(super) enum Refused<E> {
    /// A limit was crossed.
    Limit(InputProblem),
    /// The parser's own error: not JSON, not a plist.
    Syntax(E),
}

impl<E> Refused<E> {
    /// The problem, turning a parser error into one with `describe`.
    pub(super) fn into_problem(self, describe: impl FnOnce(E) -> InputProblem) -> InputProblem {
        match self {
            Refused::Limit(problem) => problem,
            Refused::Syntax(error) => describe(error),
        }
    }
}

/// The document as the first pass sees it: nothing kept.
pub(super) struct Document;

/// Walks the document `parse` reads (of `bytes` bytes) and says whether it stays
/// within the limits.
pub(super) fn check<E>(
    bytes: usize,
    refuse_repeated_keys: bool,
    parse: impl FnOnce() -> Result<Document, E>,
) -> Result<(), Refused<E>> {
    let walk = Walk { values_left: bytes.max(1), bytes, refuse_repeated_keys, path: Vec::new(), failure: None };
    WALK.with(|current| *current.borrow_mut() = Some(walk));
    let outcome = parse();
    let walk = WALK.with(|current| current.borrow_mut().take()).expect("the walk set above");
    match (outcome, walk.failure) {
        (_, Some(problem)) => Err(Refused::Limit(problem)),
        (Err(error), None) => Err(Refused::Syntax(error)),
        (Ok(Document), None) => Ok(()),
    }
}

thread_local! {
    static WALK: RefCell<Option<Walk>> = const { RefCell::new(None) };
}

/// Where the walk is and what it has seen.
struct Walk {
    /// How many more values may come: no more than the document has bytes.
    values_left: usize,
    bytes: usize,
    refuse_repeated_keys: bool,
    /// The keys and indexes from the top level to the value being read.
    path: Vec<Segment>,
    /// The first limit crossed.
    failure: Option<InputProblem>,
}

enum Segment {
    Key(String),
    Index(usize),
}

impl Walk {
    /// Records `problem` and gives the parser an error that stops it.
    fn fail<E: de::Error>(&mut self, problem: InputProblem) -> E {
        self.failure.get_or_insert(problem);
        E::custom("a structured input limit was crossed")
    }

    /// The current path, with `last` after it when given.
    fn key_path(&self, last: Option<&str>) -> KeyPath {
        let mut text = String::new();
        for segment in &self.path {
            match segment {
                Segment::Key(name) => push_key(&mut text, name),
                Segment::Index(index) => {
                    let _ = write!(text, "[{index}]");
                }
            }
        }
        if let Some(name) = last {
            push_key(&mut text, name);
        }
        KeyPath(text)
    }
}

fn push_key(text: &mut String, name: &str) {
    if !text.is_empty() {
        text.push('.');
    }
    text.push_str(name);
}

fn with_walk<T>(work: impl FnOnce(&mut Walk) -> T) -> T {
    WALK.with(|current| work(current.borrow_mut().as_mut().expect("a walk is under way")))
}

/// Counts one value against the budget.
fn count<E: de::Error>() -> Result<(), E> {
    with_walk(|walk| match walk.values_left.checked_sub(1) {
        Some(left) => {
            walk.values_left = left;
            Ok(())
        }
        None => Err(walk.fail(InputProblem::TooManyValues { bytes: walk.bytes })),
    })
}

/// Counts a collection opening below `depth`; its own depth, unless too deep.
fn enter<E: de::Error>(depth: usize) -> Result<usize, E> {
    count::<E>()?;
    if depth >= MAX_DEPTH {
        return Err(with_walk(|walk| {
            let key = walk.key_path(None);
            walk.fail(InputProblem::TooDeep { key })
        }));
    }
    Ok(depth + 1)
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Node { depth: 0 })?;
        Ok(Document)
    }
}

/// One value, `depth` collections below the top level.
struct Node {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Node {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON or property list value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        count()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        count()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        count()
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        count()
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        count()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        count()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        count()
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<(), E> {
        count()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        count()
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        count()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<(), A::Error> {
        let depth = enter(self.depth)?;
        for index in 0.. {
            with_walk(|walk| walk.path.push(Segment::Index(index)));
            let more = sequence.next_element_seed(Node { depth })?.is_some();
            with_walk(|walk| walk.path.pop());
            if !more {
                break;
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let depth = enter(self.depth)?;
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            count()?;
            let repeated = with_walk(|walk| walk.refuse_repeated_keys && !seen.insert(key.clone()));
            if repeated {
                return Err(with_walk(|walk| {
                    let key = walk.key_path(Some(&key));
                    walk.fail(InputProblem::RepeatedKey { key })
                }));
            }
            with_walk(|walk| walk.path.push(Segment::Key(key)));
            map.next_value_seed(Node { depth })?;
            with_walk(|walk| walk.path.pop());
        }
        Ok(())
    }
}

//! Distribution and PackageInfo read back with an XML parser and checked for what
//! Installer relies on.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::Problems;
use crate::product::IDENTIFIER;

/// One element: where it is, its attributes and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    /// Slash-separated names from the root, such as `pkg-info/payload`.
    pub(crate) path: String,
    /// Attributes in document order, unescaped.
    pub(crate) attributes: Vec<(String, String)>,
    /// The element's own text, unescaped and trimmed.
    pub(crate) text: String,
}

impl Element {
    /// The value of attribute `name`.
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// An element's name and unescaped attributes.
fn start(event: &BytesStart, parent: Option<&str>) -> Result<Element, String> {
    let name = String::from_utf8_lossy(event.name().as_ref()).into_owned();
    let mut attributes = Vec::new();
    for attribute in event.attributes() {
        let attribute = attribute.map_err(|error| error.to_string())?;
        let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
        let value = attribute.unescape_value().map_err(|error| error.to_string())?.into_owned();
        attributes.push((key, value));
    }
    let path = parent.map_or_else(|| name.clone(), |parent| format!("{parent}/{name}"));
    Ok(Element { path, attributes, text: String::new() })
}

/// The text an entity reference (`&amp;`, `&#38;`) stands for.
fn reference(name: &str) -> Option<Cow<'static, str>> {
    let text = match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => {
            let number = name.strip_prefix("#x").map_or_else(
                || name.strip_prefix('#').and_then(|digits| digits.parse().ok()),
                |hex| u32::from_str_radix(hex, 16).ok(),
            )?;
            return char::from_u32(number).map(|character| Cow::Owned(character.to_string()));
        }
    };
    Some(Cow::Borrowed(text))
}

/// Every element of `xml` in document order; an error for anything not well formed.
pub(crate) fn parse(xml: &str) -> Result<Vec<Element>, String> {
    let mut reader = Reader::from_str(xml);
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|error| format!("at byte {}: {error}", reader.error_position()))?;
        let parent = open.last().map(|&index| elements[index].path.clone());
        match event {
            Event::Start(event) => {
                elements.push(start(&event, parent.as_deref())?);
                open.push(elements.len() - 1);
            }
            Event::Empty(event) => elements.push(start(&event, parent.as_deref())?),
            Event::End(_) => {
                if let Some(index) = open.pop() {
                    let trimmed = elements[index].text.trim().to_string();
                    elements[index].text = trimmed;
                }
            }
            Event::Text(text) => {
                let text = text.decode().map_err(|error| error.to_string())?;
                if let Some(&index) = open.last() {
                    elements[index].text.push_str(&text);
                }
            }
            Event::GeneralRef(entity) => {
                let name = entity.decode().map_err(|error| error.to_string())?;
                let text = reference(&name).ok_or_else(|| format!("unknown entity &{name};"))?;
                if let Some(&index) = open.last() {
                    elements[index].text.push_str(&text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !open.is_empty() || elements.is_empty() {
        return Err("the document ends before its root element does".to_string());
    }
    Ok(elements)
}

/// The first element at `path`.
pub(crate) fn find<'a>(elements: &'a [Element], path: &str) -> Option<&'a Element> {
    elements.iter().find(|element| element.path == path)
}

/// What the checks of the Distribution found that the rest of the check needs.
#[derive(Debug, Default)]
pub(crate) struct DistributionFacts {
    /// The component package's folder, from `<pkg-ref>`'s `#name`.
    pub(crate) component: Option<String>,
    /// The version `<pkg-ref>` states.
    pub(crate) version: Option<String>,
}

/// Checks the Distribution: root element, system-wide domain, the pkg-ref of our
/// identifier with its version and component, and choices that exist.
pub(crate) fn check_distribution(elements: &[Element], problems: &mut Problems) -> DistributionFacts {
    const ROOT: &str = "installer-gui-script";
    let mut facts = DistributionFacts::default();
    if elements[0].path != ROOT {
        problems.add(format!("Distribution: the root element is <{}>, not <{ROOT}>", elements[0].path));
        return facts;
    }
    match find(elements, "installer-gui-script/domains") {
        Some(domains) if domains.attribute("enable_localSystem") == Some("true") => {}
        _ => problems.add("Distribution: <domains enable_localSystem=\"true\"> is missing".to_string()),
    }
    let reference =
        elements.iter().find(|element| element.path == "installer-gui-script/pkg-ref" && element.text.starts_with('#'));
    match reference {
        Some(reference) if reference.attribute("id") == Some(IDENTIFIER) => {
            facts.component = Some(reference.text[1..].to_string());
            facts.version = reference.attribute("version").map(str::to_string);
            if reference.attribute("installKBytes").and_then(|value| value.parse::<u64>().ok()).is_none() {
                problems.add("Distribution: <pkg-ref> has no whole-number installKBytes".to_string());
            }
        }
        _ => problems.add(format!("Distribution: no <pkg-ref id=\"{IDENTIFIER}\"> naming the component")),
    }
    for line in elements.iter().filter(|element| element.path.ends_with("/line")) {
        let choice = line.attribute("choice").unwrap_or_default();
        let defined = elements
            .iter()
            .any(|element| element.path == "installer-gui-script/choice" && element.attribute("id") == Some(choice));
        if !defined {
            problems.add(format!("Distribution: choices-outline names the undefined choice {choice:?}"));
        }
    }
    facts
}

/// What PackageInfo states about the payload and scripts.
#[derive(Debug, Default)]
pub(crate) struct PackageInfoFacts {
    /// `<payload numberOfFiles>`.
    pub(crate) number_of_files: Option<u64>,
    /// `<payload installKBytes>`.
    pub(crate) install_kilobytes: Option<u64>,
    /// The script files named under `<scripts>`, such as `./postinstall`.
    pub(crate) scripts: Vec<String>,
    /// The version.
    pub(crate) version: Option<String>,
}

/// Checks PackageInfo's identity and install location, that it lets Installer move
/// no bundle (the Self Service app stays in /Applications), and collects what it
/// says about the payload and scripts.
pub(crate) fn check_package_info(elements: &[Element], problems: &mut Problems) -> PackageInfoFacts {
    let mut facts = PackageInfoFacts::default();
    let root = &elements[0];
    if root.path != "pkg-info" {
        problems.add(format!("PackageInfo: the root element is <{}>, not <pkg-info>", root.path));
        return facts;
    }
    let expected = [("identifier", IDENTIFIER), ("install-location", "/"), ("auth", "root"), ("format-version", "2")];
    for (name, value) in expected {
        if root.attribute(name) != Some(value) {
            problems.add(format!("PackageInfo: {name} is {:?}, expected {value:?}", root.attribute(name)));
        }
    }
    facts.version = root.attribute("version").map(str::to_string);
    if let Some(payload) = find(elements, "pkg-info/payload") {
        let number = |name: &str| payload.attribute(name).and_then(|value| value.parse().ok());
        facts.number_of_files = number("numberOfFiles");
        facts.install_kilobytes = number("installKBytes");
    }
    if facts.number_of_files.is_none() || facts.install_kilobytes.is_none() {
        problems.add("PackageInfo: <payload> lacks numberOfFiles or installKBytes".to_string());
    }
    if let Some(bundle) = elements.iter().find(|element| element.path.starts_with("pkg-info/relocate/")) {
        problems.add(format!(
            "PackageInfo: <relocate> names {:?}; Installer would update a copy found elsewhere, not /Applications",
            bundle.attribute("id").unwrap_or_default()
        ));
    }
    for script in ["preinstall", "postinstall"] {
        match find(elements, &format!("pkg-info/scripts/{script}")).and_then(|element| element.attribute("file")) {
            Some(file) => facts.scripts.push(file.to_string()),
            None => problems.add(format!("PackageInfo: no <scripts><{script} file=…>")),
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_carry_their_path_attributes_and_text() {
        let elements = parse(r#"<?xml version="1.0"?><!-- c --><a x="1 &amp; 2"><b/><c>t &lt; u</c></a>"#).unwrap();
        assert_eq!(elements.len(), 3);
        assert_eq!(elements[0].attribute("x"), Some("1 & 2"));
        assert_eq!(elements[1].path, "a/b");
        assert_eq!(find(&elements, "a/c").unwrap().text, "t < u");
    }

    #[test]
    fn broken_documents_are_errors() {
        for xml in ["<a><b></a>", "<a>", "", "<a>&bogus;</a>"] {
            assert!(parse(xml).is_err(), "{xml}");
        }
    }
}

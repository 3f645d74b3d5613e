//! Reading `ioreg -rd1 -c IOPlatformExpertDevice`.
//!
//! The tool prints the platform device as `+-o NAME  <class …>` and then its
//! properties between braces, one `"key" = value` per line. Values come as
//! `"text"`, as data holding C strings (`<"MacBookPro18,3">`, or several:
//! `<"J316sAP","MacBookPro18,3">`), as raw data in hex (`<4332…00>`), or as
//! numbers, `Yes`/`No`, lists and dictionaries, which are not needed here.
//! `IOPlatformSerialNumber` and `IOPlatformUUID` are plain strings; the
//! `serial-number` data stands in when the former is missing (it is only
//! meaningful on Apple silicon, where it holds the serial and NUL padding).

use std::collections::HashMap;

use super::parse_error::ParseError;

const TOOL: &str = "ioreg -rd1 -c IOPlatformExpertDevice";

/// What the platform device says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IoregFacts {
    /// `IOPlatformSerialNumber`.
    pub(crate) serial_number: Option<String>,
    /// `IOPlatformUUID`: the hardware UUID.
    pub(crate) platform_uuid: Option<String>,
    /// `model`: `MacBookPro18,3`.
    pub(crate) model_identifier: Option<String>,
    /// `manufacturer`: `Apple Inc.`.
    pub(crate) manufacturer: Option<String>,
}

/// One property value, as far as the inventory reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Property {
    /// A string, or the first C string of a data value.
    Text(String),
    /// Raw data.
    Data(Vec<u8>),
    /// Anything else, as printed.
    Other,
}

/// Reads the output of `ioreg -rd1 -c IOPlatformExpertDevice`.
pub(crate) fn parse_ioreg(output: &str) -> Result<IoregFacts, ParseError> {
    if !output.contains("IOPlatformExpertDevice") {
        return Err(ParseError::Layout { tool: TOOL, problem: "no IOPlatformExpertDevice".into() });
    }
    let properties = properties(output);
    let text = |key: &str| match properties.get(key) {
        Some(Property::Text(text)) => Some(text.clone()).filter(|text| !text.is_empty()),
        _ => None,
    };
    let serial_from_data = || match properties.get("serial-number") {
        Some(Property::Data(bytes)) => c_string(bytes),
        _ => None,
    };
    Ok(IoregFacts {
        serial_number: text("IOPlatformSerialNumber").or_else(serial_from_data),
        platform_uuid: text("IOPlatformUUID"),
        model_identifier: text("model"),
        manufacturer: text("manufacturer"),
    })
}

/// Every `"key" = value` line; the first of a key wins (deeper objects, should
/// the tool print any, come later).
fn properties(output: &str) -> HashMap<String, Property> {
    let mut found = HashMap::new();
    for line in output.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix('"') else { continue };
        let Some((key, value)) = rest.split_once("\" = ") else { continue };
        found.entry(key.to_string()).or_insert_with(|| property(value.trim()));
    }
    found
}

fn property(value: &str) -> Property {
    if let Some(inner) = value.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) {
        return Property::Text(inner.to_string());
    }
    let Some(inner) = value.strip_prefix('<').and_then(|rest| rest.strip_suffix('>')) else {
        return Property::Other;
    };
    if let Some(strings) = inner.strip_prefix('"') {
        let first = strings.split("\",\"").next().unwrap_or_default();
        return Property::Text(first.trim_end_matches('"').to_string());
    }
    hex(inner).map_or(Property::Other, Property::Data)
}

/// Hex digits as bytes; `None` when they are not.
fn hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok()).collect()
}

/// The printable text before the first NUL.
fn c_string(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|byte| *byte == 0).unwrap_or(bytes.len());
    let text = std::str::from_utf8(&bytes[..end]).ok()?.trim();
    (!text.is_empty() && text.chars().all(|character| character.is_ascii_graphic())).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPLE_SILICON: &str = include_str!("../../tests/fixtures/inventory/ioreg-apple-silicon.txt");
    const INTEL: &str = include_str!("../../tests/fixtures/inventory/ioreg-intel.txt");

    fn facts(serial: &str, uuid: &str, model: &str) -> IoregFacts {
        IoregFacts {
            serial_number: Some(serial.into()),
            platform_uuid: Some(uuid.into()),
            model_identifier: Some(model.into()),
            manufacturer: Some("Apple Inc.".into()),
        }
    }

    #[test]
    fn apple_silicon_and_intel_read_alike() {
        let cases = [
            (APPLE_SILICON, facts("C02FK3ZXQ6L4", "5E4D3C2B-1A09-5F8E-9D7C-6B5A4F3E2D1C", "MacBookPro18,3")),
            (INTEL, facts("C02ZJ0XXMD6M", "3F1C9A0E-7B2D-5C4E-8A6F-0D9E8C7B6A51", "MacBookPro16,1")),
        ];
        for (output, expected) in cases {
            assert_eq!(parse_ioreg(output).unwrap(), expected);
        }
    }

    #[test]
    fn the_serial_number_data_stands_in_for_a_missing_string() {
        let without = APPLE_SILICON.replace("\"IOPlatformSerialNumber\"", "\"IOPlatformSerialNumberX\"");
        assert_eq!(parse_ioreg(&without).unwrap().serial_number.as_deref(), Some("C02FK3ZXQ6L4"));
        let intel_without = INTEL.replace("\"IOPlatformSerialNumber\"", "\"Other\"");
        assert_eq!(parse_ioreg(&intel_without).unwrap().serial_number.as_deref(), Some("MD6M"), "Intel data is odd");
        let nothing = "+-o Mac  <class IOPlatformExpertDevice, id 0x1>\n    {\n    }\n";
        assert_eq!(parse_ioreg(nothing).unwrap(), IoregFacts::default());
    }

    #[test]
    fn output_of_another_tool_is_an_error_and_values_read_by_their_form() {
        let error = parse_ioreg("ioreg: command not found\n").unwrap_err();
        assert_eq!(error.to_string(), "ioreg -rd1 -c IOPlatformExpertDevice printed no IOPlatformExpertDevice");
        assert_eq!(property("<\"J316sAP\",\"MacBookPro18,3\">"), Property::Text("J316sAP".into()));
        assert_eq!(property("<00366e01>"), Property::Data(vec![0, 0x36, 0x6e, 1]));
        assert_eq!(property("<0>"), Property::Other);
        assert_eq!(property("Yes"), Property::Other);
        assert_eq!(property("(<0900000005000000>)"), Property::Other);
    }
}

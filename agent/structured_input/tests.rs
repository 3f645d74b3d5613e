use super::*;

const DEEP: usize = 100_000;

fn deep_json(depth: usize) -> Vec<u8> {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

fn deep_xml_plist(depth: usize) -> Vec<u8> {
    let mut text = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><plist version="1.0">"#);
    text.push_str(&"<array>".repeat(depth));
    text.push_str(&"</array>".repeat(depth));
    text.push_str("</plist>");
    text.into_bytes()
}

/// A binary plist whose object `i` is an array holding `children(i)` references;
/// object 0 is the root. Written by hand: the crate's writer recurses.
fn binary_plist(objects: usize, children: impl Fn(usize) -> Vec<usize>) -> Vec<u8> {
    let mut bytes = b"bplist00".to_vec();
    let mut offsets = Vec::with_capacity(objects);
    for index in 0..objects {
        offsets.push(bytes.len() as u32);
        let references = children(index);
        assert!(references.len() < 15);
        bytes.push(0xA0 | references.len() as u8);
        for reference in references {
            bytes.extend_from_slice(&(reference as u32).to_be_bytes());
        }
    }
    let table = bytes.len() as u64;
    for offset in offsets {
        bytes.extend_from_slice(&offset.to_be_bytes());
    }
    bytes.extend_from_slice(&[0; 6]);
    bytes.extend_from_slice(&[4, 4]);
    bytes.extend_from_slice(&(objects as u64).to_be_bytes());
    bytes.extend_from_slice(&0u64.to_be_bytes());
    bytes.extend_from_slice(&table.to_be_bytes());
    bytes
}

fn nested_binary_plist(depth: usize) -> Vec<u8> {
    binary_plist(depth, |index| if index + 1 < depth { vec![index + 1] } else { vec![] })
}

fn problem_of<T: std::fmt::Debug>(result: Result<T, StructuredInputError>) -> InputProblem {
    result.expect_err("the input is refused").problem
}

#[test]
fn documents_nested_100_000_deep_are_refused_without_overflowing_the_stack() {
    let json = problem_of(parse_json::<serde_json::Value>(&deep_json(DEEP), "deep.json", InputKind::Blueprint));
    let xml = problem_of(parse_plist(&deep_xml_plist(DEEP), "deep.plist", InputKind::Configuration));
    let binary = problem_of(parse_plist(&nested_binary_plist(DEEP), "deep.bplist", InputKind::InfoPlist));
    for problem in [json, xml, binary] {
        assert!(matches!(problem, InputProblem::TooDeep { .. }), "{problem}");
        let path = "[0]".repeat(MAX_DEPTH);
        assert_eq!(problem.to_string(), format!("nests arrays and dictionaries deeper than 64 levels (at {path:?})"));
    }
}

#[test]
fn the_depth_limit_is_exactly_max_depth() {
    assert!(parse_json::<serde_json::Value>(&deep_json(MAX_DEPTH), "ok.json", InputKind::Blueprint).is_ok());
    assert!(parse_plist(&deep_xml_plist(MAX_DEPTH), "ok.plist", InputKind::Blueprint).is_ok());
    assert!(parse_plist(&nested_binary_plist(MAX_DEPTH), "ok.plist", InputKind::Blueprint).is_ok());
    for bytes in [deep_json(MAX_DEPTH + 1), deep_xml_plist(MAX_DEPTH + 1), nested_binary_plist(MAX_DEPTH + 1)] {
        let problem = if bytes.starts_with(b"[") {
            problem_of(parse_json::<serde_json::Value>(&bytes, "x", InputKind::Blueprint))
        } else {
            problem_of(parse_plist(&bytes, "x", InputKind::Blueprint))
        };
        assert!(matches!(problem, InputProblem::TooDeep { .. }), "{problem}");
    }
}

#[test]
fn shared_binary_plist_objects_cannot_expand_past_the_size() {
    // Each array holds its successor twice: 2^40 values from a few hundred bytes.
    let bomb = binary_plist(41, |index| if index < 40 { vec![index + 1, index + 1] } else { vec![] });
    let problem = problem_of(parse_plist(&bomb, "bomb.plist", InputKind::PreferenceFile));
    assert!(matches!(problem, InputProblem::TooManyValues { .. }), "{problem}");
}

#[test]
fn repeated_keys_are_refused_where_an_admin_writes_them() {
    let json = br#"{"library_items": [{"id": "a", "audit": "echo one", "audit": "echo two"}]}"#;
    let error = parse_json::<serde_json::Value>(json, "bp.json", InputKind::Blueprint).unwrap_err();
    assert_eq!(
        error.to_string(),
        "bp.json: key \"library_items[0].audit\" is set more than once in the same dictionary"
    );
    let plist = br#"<plist version="1.0"><dict><key>a</key><dict><key>b</key><true/><key>b</key><false/></dict></dict></plist>"#;
    let problem = problem_of(parse_plist(plist, "config.plist", InputKind::Configuration));
    assert_eq!(problem.to_string(), "key \"a.b\" is set more than once in the same dictionary");
    assert!(parse_plist(plist, "Info.plist", InputKind::InfoPlist).is_ok(), "macOS reads such an Info.plist");
}

#[test]
fn files_over_the_size_limit_or_not_files_are_refused_before_reading() {
    let folder = tempfile::tempdir().unwrap();
    let large = folder.path().join("large.json");
    let file = std::fs::File::create(&large).unwrap();
    file.set_len(InputKind::Configuration.max_bytes() + 1).unwrap();
    let error = read_file(&large, InputKind::Configuration).unwrap_err();
    assert!(
        error.to_string().ends_with("large.json: is larger than the 4 MiB limit for a configuration file"),
        "{error}"
    );
    let problem = problem_of(read_file(folder.path(), InputKind::Configuration));
    assert!(matches!(problem, InputProblem::NotAFile), "{problem}");
    let endless = problem_of(read_file(Path::new("/dev/zero"), InputKind::Configuration));
    assert!(matches!(endless, InputProblem::NotAFile), "{endless}");
}

#[test]
fn ordinary_documents_parse_as_before() {
    let value: serde_json::Value =
        parse_json(br#"{"a": [1, 2.5, "x", null, true]}"#, "x", InputKind::Blueprint).unwrap();
    assert_eq!(value["a"][2], "x");
    let plist = parse_plist(
        br#"<plist version="1.0"><dict><key>when</key><date>2024-01-01T00:00:00Z</date><key>blob</key><data>AAE=</data></dict></plist>"#,
        "x",
        InputKind::PreferenceFile,
    )
    .unwrap();
    let dictionary = plist.as_dictionary().unwrap();
    assert!(dictionary["when"].as_date().is_some() && dictionary["blob"].as_data() == Some(&[0, 1][..]));
    let error = parse_json::<serde_json::Value>(b"{", "broken.json", InputKind::Blueprint).unwrap_err();
    assert!(error.to_string().starts_with("broken.json: is not valid JSON: EOF"), "{error}");
}

#[test]
fn an_unreadable_input_says_why_once_in_a_chain() {
    let error = StructuredInputError {
        input: "/etc/agent.json".to_string(),
        problem: InputProblem::Unreadable(io::Error::from_raw_os_error(nix::libc::EACCES)),
    };
    let text = format!("{:#}", anyhow::Error::from(error));
    assert_eq!(text.matches("os error").count(), 1, "{text}");
    assert!(text.starts_with("/etc/agent.json: cannot read the file: "), "{text}");
}

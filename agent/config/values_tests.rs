//! Tests of the value checks: every type, its bounds, and what an error says.

use super::*;

fn text(value: &str) -> RawValue {
    RawValue::Text(value.to_string())
}

#[test]
fn durations_accept_text_and_whole_seconds() {
    let cases = [
        (text("90s"), Ok(Duration::from_secs(90))),
        (text(" 1h 30m "), Ok(Duration::from_secs(5_400))),
        (text("500ms"), Ok(Duration::from_millis(500))),
        (RawValue::Integer(90), Ok(Duration::from_secs(90))),
        (RawValue::Integer(0), Err("expected a duration greater than zero, found 0")),
        (RawValue::Integer(-5), Err("expected a duration greater than zero, found -5")),
        (text("0s"), Err("expected a duration greater than zero, found \"0s\"")),
        (text("90"), Err("expected a duration such as \"90s\" or \"12h\", found \"90\"")),
        (text("soon"), Err("expected a duration such as \"90s\" or \"12h\", found \"soon\"")),
        (RawValue::Boolean(true), Err("expected a duration such as \"90s\" or \"12h\", found true")),
        (RawValue::Real(1.5), Err("expected a duration such as \"90s\" or \"12h\", found 1.5")),
        (RawValue::Integer(315_360_000), Ok(LONGEST_DURATION)),
        (text("3650d"), Ok(LONGEST_DURATION)),
        (text("1ns"), Ok(Duration::from_nanos(1))),
        (
            RawValue::Integer(i128::MAX),
            Err(
                "expected a duration of at most 3650d (about ten years), found 170141183460469231731687303715884105727",
            ),
        ),
        (
            RawValue::Integer(315_360_001),
            Err("expected a duration of at most 3650d (about ten years), found 315360001"),
        ),
        (
            text("18446744073709551615s"),
            Err("expected a duration of at most 3650d (about ten years), found \"18446744073709551615s\""),
        ),
        (
            text("99999999999999999999999h"),
            Err("expected a duration of at most 3650d (about ten years), found \"99999999999999999999999h\""),
        ),
        (text("NaN"), Err("expected a duration such as \"90s\" or \"12h\", found \"NaN\"")),
        (text("-5s"), Err("expected a duration such as \"90s\" or \"12h\", found \"-5s\"")),
    ];
    for (raw, expected) in cases {
        let parsed = parse_duration(&raw).map_err(|problem| problem.to_string());
        assert_eq!(parsed, expected.map_err(str::to_string), "{raw:?}");
    }
}

#[test]
fn intervals_are_at_least_a_second() {
    let cases = [
        (text("1s"), Ok(SHORTEST_INTERVAL)),
        (text("15m"), Ok(Duration::from_secs(900))),
        (text("3650d"), Ok(LONGEST_DURATION)),
        (text("1ns"), Err("expected an interval of at least 1s, found \"1ns\"")),
        (text("999ms"), Err("expected an interval of at least 1s, found \"999ms\"")),
        (text("0s"), Err("expected a duration greater than zero, found \"0s\"")),
        (text("3651d"), Err("expected a duration of at most 3650d (about ten years), found \"3651d\"")),
    ];
    for (raw, expected) in cases {
        let parsed = parse_interval(&raw).map_err(|problem| problem.to_string());
        assert_eq!(parsed, expected.map_err(str::to_string), "{raw:?}");
    }
}

#[test]
fn long_text_is_refused_without_quoting_it() {
    let long = text(&"x".repeat(LONGEST_TEXT + 1));
    assert_eq!(
        check_length(&long, LONGEST_TEXT).unwrap_err().to_string(),
        "expected at most 8192 bytes, found 8193 bytes"
    );
    assert_eq!(check_length(&text(&"x".repeat(LONGEST_TEXT)), LONGEST_TEXT), Ok(()));
    let path = text(&format!("/{}", "p".repeat(LONGEST_PATH)));
    assert_eq!(parse_path(&path).unwrap_err().to_string(), "expected at most 1024 bytes, found 1025 bytes");
    assert!(parse_path(&text("/usr/bin/a\0b")).is_err(), "a NUL cannot be in a path");
    let host = text(&"h".repeat(LONGEST_HOST + 1));
    assert_eq!(parse_host(&host).unwrap_err().to_string(), "expected at most 253 bytes, found 254 bytes");
}

#[test]
fn a_long_value_is_quoted_only_in_part() {
    let shown = text(&"a".repeat(5000)).to_string();
    assert_eq!(shown, format!("{:?}… (5000 bytes)", "a".repeat(100)));
}

#[test]
fn urls_need_a_web_scheme_and_a_host() {
    let cases = [
        ("https://tenant.example.com", true),
        ("http://127.0.0.1:8080/base", true),
        ("HTTPS://Tenant.Example.com/", true),
        ("https://user@tenant.example.com", true),
        ("http://[::1]:9000", true),
        ("https://", false),
        ("https:///path", false),
        ("https://:443", false),
        ("https://host:port", false),
        ("http://[::1", false),
        ("ftp://tenant.example.com", false),
        ("tenant.example.com", false),
        ("https://tenant example.com", false),
    ];
    for (url, valid) in cases {
        assert_eq!(parse_optional_url(&text(url)).is_ok(), valid, "{url}");
    }
}

#[test]
fn tenant_urls_follow_the_network_rule_and_are_shown_redacted() {
    assert_eq!(
        parse_optional_tenant_url(&text(" https://tenant.example.com/ ")),
        Ok(Some("https://tenant.example.com/".to_string()))
    );
    assert_eq!(parse_optional_tenant_url(&text("")), Ok(None));
    for refused in ["http://example.com", "https://u:secret@t.example.com", "https://t.example.com/?token=secret"] {
        let problem = parse_optional_tenant_url(&text(refused)).unwrap_err().to_string();
        assert!(!problem.contains("secret"), "{problem}");
    }
    let problem = parse_optional_url(&text("https://u:secret@ bad")).unwrap_err().to_string();
    assert!(!problem.contains("secret"), "{problem}");
}

#[test]
fn optional_keys_treat_empty_and_null_as_unset() {
    for raw in [text(""), text("  "), RawValue::Null] {
        assert_eq!(parse_optional_path(&raw), Ok(None));
        assert_eq!(parse_optional_url(&raw), Ok(None));
        assert_eq!(parse_optional_secret(&raw), Ok(None));
    }
    assert_eq!(parse_optional_path(&text("/etc/blueprint.json")), Ok(Some(PathBuf::from("/etc/blueprint.json"))));
    assert_eq!(
        parse_optional_path(&RawValue::Integer(3)).map_err(|problem| problem.to_string()),
        Err("expected a path, found 3".to_string())
    );
}

#[test]
fn a_mistyped_secret_is_described_by_kind_only() {
    let problem = parse_optional_secret(&RawValue::Integer(123_456_789)).unwrap_err();
    assert_eq!(problem.to_string(), "expected a string, found an integer");
    let secret = parse_optional_secret(&text(" tok-1\n")).unwrap().unwrap();
    assert_eq!(secret.expose(), "tok-1");
}

#[test]
fn retention_days_are_whole_numbers_from_one() {
    let cases = [
        (RawValue::Integer(30), Ok(30)),
        (text("7"), Ok(7)),
        (text("3650"), Ok(3650)),
        (RawValue::Integer(0), Err("expected a whole number from 1 to 3650, found 0")),
        (text("-1"), Err("expected a whole number from 1 to 3650, found \"-1\"")),
        (text("two"), Err("expected a whole number from 1 to 3650, found \"two\"")),
        (RawValue::Real(14.0), Err("expected a whole number from 1 to 3650, found 14")),
        (text("3651"), Err("expected a whole number from 1 to 3650, found \"3651\"")),
        (text("4294967295"), Err("expected a whole number from 1 to 3650, found \"4294967295\"")),
        (RawValue::Integer(i128::from(u32::MAX) + 1), Err("expected a whole number from 1 to 3650, found 4294967296")),
    ];
    for (raw, expected) in cases {
        let parsed = parse_positive_integer(&raw).map_err(|problem| problem.to_string());
        assert_eq!(parsed, expected.map_err(str::to_string), "{raw:?}");
    }
}

#[test]
fn log_levels_name_the_choices_when_wrong() {
    assert_eq!(parse_log_level(&text("Debug")), Ok(LogLevel::Debug));
    assert_eq!(
        parse_log_level(&text("verbose")).map_err(|problem| problem.to_string()),
        Err("expected one of error, warn, info, debug, trace, found \"verbose\"".to_string())
    );
}

#[test]
fn hosts_are_names_or_addresses() {
    let cases = [
        (text(" api.push.apple.com "), Ok("api.push.apple.com")),
        (text("127.0.0.1"), Ok("127.0.0.1")),
        (text("[::1]"), Ok("::1")),
        (
            text("https://api.push.apple.com"),
            Err("expected a host name or IP address, found \"https://api.push.apple.com\""),
        ),
        (text("two words"), Err("expected a host name or IP address, found \"two words\"")),
        (text(""), Err("expected a host name or IP address, found \"\"")),
        (RawValue::Integer(443), Err("expected a host name or IP address, found 443")),
    ];
    for (raw, expected) in cases {
        let parsed = parse_host(&raw).map_err(|problem| problem.to_string());
        assert_eq!(parsed, expected.map(str::to_string).map_err(str::to_string), "{raw:?}");
    }
}

#[test]
fn port_lists_take_integers_and_separated_text() {
    let wrong = |found: &str| Err(format!("expected TCP ports from 1 to 65535 such as \"443, 2197\", found {found}"));
    let cases = [
        (RawValue::Integer(443), Ok(vec![443])),
        (text("443, 2197"), Ok(vec![443, 2197])),
        (text("443 2197 5223"), Ok(vec![443, 2197, 5223])),
        (RawValue::Integer(0), wrong("0")),
        (RawValue::Integer(65_536), wrong("65536")),
        (text("443, https"), wrong("\"443, https\"")),
        (text(" , "), wrong("\" , \"")),
        (RawValue::Other("an array"), wrong("an array")),
        (text(&"443 ".repeat(17)), Err("expected at most 16 ports, found 17".to_string())),
    ];
    for (raw, expected) in cases {
        assert_eq!(parse_port_list(&raw).map_err(|problem| problem.to_string()), expected, "{raw:?}");
    }
}

#[test]
fn containers_are_described_not_dumped() {
    let cases = [
        (RawValue::Dictionary(Vec::new()), "a dictionary"),
        (RawValue::Other("an array"), "an array"),
        (RawValue::Null, "null"),
        (text("a \"quoted\" word"), "\"a \\\"quoted\\\" word\""),
    ];
    for (raw, expected) in cases {
        assert_eq!(raw.to_string(), expected);
    }
}

proptest::proptest! {
    /// Every duration the agent prints as text (`config --json`, messages) reads
    /// back as the same duration.
    #[test]
    fn duration_text_reads_back_as_the_same_duration(
        seconds in 0_u64..LONGEST_DURATION.as_secs(),
        nanoseconds in proptest::prop_oneof![proptest::strategy::Just(0_u32), 0_u32..1_000_000_000],
    ) {
        let duration = Duration::new(seconds, nanoseconds);
        proptest::prop_assume!(!duration.is_zero());
        for written in [super::super::durations::duration_text(duration), super::super::durations::long_duration_text(duration)] {
            proptest::prop_assert_eq!(parse_duration(&text(&written)), Ok(duration), "{}", written);
        }
    }
}

#[test]
fn switches_take_booleans_and_the_usual_words_in_any_case() {
    for (raw, expected) in [
        (RawValue::Boolean(true), true),
        (RawValue::Boolean(false), false),
        (RawValue::Integer(1), true),
        (RawValue::Integer(0), false),
        (text(" Yes "), true),
        (text("OFF"), false),
        (text("true"), true),
        (text("0"), false),
    ] {
        assert_eq!(parse_switch(&raw).unwrap(), expected, "{raw}");
    }
    for raw in [text("maybe"), text(""), RawValue::Integer(2), RawValue::Real(1.0)] {
        let problem = parse_switch(&raw).unwrap_err();
        assert!(problem.to_string().starts_with("expected true or false, found"), "{problem}");
    }
}

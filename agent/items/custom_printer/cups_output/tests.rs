//! Fixtures in the exact format CUPS 2.4 prints (captured from its tools).

use super::*;

/// `lpoptions -p office-1` for a PPD queue with an empty location.
const OFFICE: &str = "copies=1 device-uri=socket://127.0.0.1:9100 finishings=3 job-cancel-after=10800 \
job-hold-until=no-hold job-priority=50 job-sheets=none,none marker-change-time=0 media=iso_a5_148x210mm number-up=2 \
print-color-mode=color printer-commands=AutoConfigure,Clean,PrintSelfTestPage printer-info='Office 1st floor' \
printer-is-accepting-jobs=true printer-is-shared=false printer-is-temporary=false printer-location \
printer-make-and-model='Generic PostScript Printer' printer-state=3 printer-state-change-time=1795627368 \
printer-state-reasons=none printer-type=10629196 printer-uri-supported=ipp://localhost:16631/printers/office-1 \
sides=one-sided\n";

/// `lpoptions -p rawq`: non-ASCII text, and quotes inside a quoted value.
const AWKWARD: &str = "copies=1 device-uri=file:///dev/null finishings=3 job-cancel-after=10800 \
job-hold-until=no-hold job-priority=50 job-sheets=none,none marker-change-time=0 number-up=1 \
print-color-mode=monochrome printer-info='Büro 2 – Farbe' printer-is-accepting-jobs=true printer-is-shared=true \
printer-is-temporary=false printer-location='Bob's \"big\" room' printer-make-and-model='Local Raw Printer' \
printer-state=3 printer-state-change-time=1795627368 printer-state-reasons=none printer-type=4 \
printer-uri-supported=ipp://localhost:16631/printers/rawq\n";

/// `lpoptions -p office-1 -l` with the sample generic PostScript PPD.
const CHOICES: &str =
    "PageSize/Media Size: Letter Legal Executive Tabloid A3 A4 *A5 B5 EnvISOB5 Env10 EnvC5 EnvDL EnvMonarch
InputSlot/Media Source: *Default Upper Manual
Duplex/2-Sided Printing: *None DuplexNoTumble DuplexTumble
Option1/Duplexer: *False True
";

#[test]
fn printer_options_are_read_with_their_quoting() {
    let office = parse_printer_options(OFFICE);
    assert_eq!(office["device-uri"], "socket://127.0.0.1:9100");
    assert_eq!(office["printer-info"], "Office 1st floor");
    assert_eq!(office["printer-location"], "", "a bare name is an empty value");
    assert_eq!(office["printer-make-and-model"], "Generic PostScript Printer");
    assert_eq!(office["printer-is-shared"], "false");
    assert_eq!(office["number-up"], "2");
    assert_eq!(office["sides"], "one-sided");
    assert_eq!(office.len(), 24);

    let awkward = parse_printer_options(AWKWARD);
    assert_eq!(awkward["printer-info"], "Büro 2 – Farbe");
    assert_eq!(awkward["printer-location"], "Bob's \"big\" room");
    assert_eq!(awkward["printer-make-and-model"], "Local Raw Printer");
    assert_eq!(awkward["printer-state"], "3");
}

#[test]
fn quotes_only_wrap_values_with_spaces() {
    let cases = [
        ("printer-info='quoted' x=1", "'quoted'"),
        ("printer-info=it's x=1", "it's"),
        ("printer-info='it's here' x=1", "it's here"),
        ("printer-info='a'b' x=1", "'a'b'"),
        ("printer-info='unterminated x=1", "'unterminated"),
        ("printer-info='tab\there'", "tab\there"),
        ("printer-info='ends with quote' '", "ends with quote' "),
    ];
    for (line, expected) in cases {
        let options = parse_printer_options(line);
        assert_eq!(options["printer-info"], expected, "{line}");
    }
}

#[test]
fn errors_and_unknown_printers_give_no_options() {
    assert!(parse_printer_options("\n").is_empty(), "lpoptions prints an empty line for an unknown printer");
    assert!(parse_printer_options("lpoptions: Unknown printer or class.\n").is_empty());
    assert!(parse_printer_options("").is_empty());
}

#[test]
fn driver_choices_mark_the_current_one() {
    let choices = parse_driver_choices(CHOICES);
    assert_eq!(choices["PageSize"], Choice::Listed("A5".into()));
    assert_eq!(choices["InputSlot"], Choice::Listed("Default".into()));
    assert_eq!(choices["Option1"], Choice::Listed("False".into()));
    assert_eq!(choices.len(), 4);
}

#[test]
fn custom_and_unmarked_choices_are_told_apart() {
    let text = "PageSize/Media Size: Letter A4 *Custom.WIDTHxHEIGHT
Resolution/Output: Resolution: 300dpi 600dpi
Darkness/Darkness: Low *Custom.INTEGER
Pin/PIN code: None *{Code=PASSCODE Length=INTEGER}
lpoptions: Unable to get PPD file for office/2: No printer-uri found
";
    let choices = parse_driver_choices(text);
    assert_eq!(choices["PageSize"], Choice::Custom);
    assert_eq!(choices["Resolution"], Choice::Unmarked, "a colon in the option's text is kept out of the choices");
    assert_eq!(choices["Darkness"], Choice::Custom);
    assert_eq!(choices["Pin"], Choice::Custom);
    assert_eq!(choices.len(), 4, "the error line is not an option: {choices:?}");
    assert!(parse_driver_choices("lpoptions: Unable to get PPD file for office-1: No printer-uri found\n").is_empty());
}

#[test]
fn destinations_are_listed_one_per_line() {
    assert_eq!(parse_destinations("office-1\nrawq\nrawq/duplex\n"), ["office-1", "rawq"]);
    assert!(parse_destinations("").is_empty(), "no printers, or no scheduler: lpstat -e prints nothing");
}

#[test]
fn the_default_destination_is_read_in_every_language() {
    let named = [
        "system default destination: office-1\n",
        "systemvoreingestelltes Ziel: office-1\n",
        "システムのデフォルトの宛先: office-1\n",
        "系统默认目标：office-1\n",
        "назначение системы по умолчанию: office-1\n",
        "destino predeterminado del sistema: office-1\n",
        "destination système par défaut : office-1\n",
        "system default destination: office-1/duplex\n",
    ];
    for text in named {
        assert_eq!(parse_default_destination(text), Ok(DefaultDestination::Named("office-1".into())), "{text}");
    }
    assert_eq!(
        parse_default_destination("system default destination: a:b\n"),
        Ok(DefaultDestination::Named("a:b".into()))
    );
    assert_eq!(parse_default_destination("系统默认目标：a:b\n"), Ok(DefaultDestination::Named("a:b".into())));
    let nothing = [
        "no system default destination\n",
        "keine systemvoreingestellten Ziele\n",
        "システムのデフォルトの宛先がありません\n",
        "无系统默认目标\n",
        "nessuna destinazione predefinita di sistema\n",
    ];
    for text in nothing {
        assert_eq!(parse_default_destination(text), Ok(DefaultDestination::Nothing), "{text}");
    }
    let error = "lpstat: error - LPDEST environment variable names non-existent destination \"nosuch\".\n";
    assert_eq!(parse_default_destination(error), Err(error.trim().to_string()));
    assert!(parse_default_destination("\n").is_err());
}

#[test]
fn complaints_are_the_tool_s_own_lines() {
    let text = "lpadmin: Printer drivers are deprecated and will stop working in a future version of CUPS.\nok\n";
    assert_eq!(
        complaints("lpadmin", text),
        ["lpadmin: Printer drivers are deprecated and will stop working in a future version of CUPS."]
    );
    assert!(complaints("lpstat", text).is_empty());
}

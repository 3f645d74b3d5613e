//! A notice for the person at the Mac: a dialog with up to three buttons that
//! gives up after a timeout, as `osascript` shows it (`display dialog … giving up
//! after N`), and the answer it prints.
//!
//! The texts are arguments of the script's `run` handler, never spliced into the
//! AppleScript source: an update's title or an app's name cannot change what the
//! script does.

use std::ffi::OsString;
use std::time::Duration;

/// What the person is told and may answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice<'a> {
    /// The dialog's title.
    pub title: &'a str,
    /// What it says.
    pub message: &'a str,
    /// Its buttons, left to right (one to three).
    pub buttons: &'a [&'a str],
    /// The button Return presses; one of `buttons`.
    pub default_button: &'a str,
    /// How long it waits for an answer before it gives up.
    pub timeout: Duration,
}

/// How the person answered a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// They clicked this button.
    Clicked(String),
    /// The notice gave up: nobody answered in time (the caller applies its default).
    NoAnswer,
}

/// The AppleScript that shows a notice: its arguments are the timeout in whole
/// seconds, the title, the message, the default button, then the buttons.
const DIALOG_SCRIPT: [&str; 5] = [
    "on run argv",
    "set theButtons to items 5 thru -1 of argv",
    "display dialog (item 3 of argv) with title (item 2 of argv) buttons theButtons \
     default button (item 4 of argv) giving up after ((item 1 of argv) as integer) with icon caution",
    "end run",
    "",
];

impl Notice<'_> {
    /// `osascript`'s arguments for this notice: the script, then its arguments, the
    /// timeout (digits, never an option) first.
    pub(crate) fn osascript_arguments(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        for line in DIALOG_SCRIPT.iter().filter(|line| !line.is_empty()) {
            args.push(OsString::from("-e"));
            args.push(OsString::from(*line));
        }
        let seconds = self.timeout.as_secs().max(1).to_string();
        for text in [seconds.as_str(), self.title, self.message, self.default_button] {
            args.push(OsString::from(text));
        }
        args.extend(self.buttons.iter().map(OsString::from));
        args
    }

    /// What is wrong with the notice, if anything: `display dialog` takes one to
    /// three buttons, and the default must be one of them.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.buttons.is_empty() || self.buttons.len() > 3 {
            return Some(format!("a notice has one to three buttons, not {}", self.buttons.len()));
        }
        (!self.buttons.contains(&self.default_button))
            .then(|| format!("the default button {:?} is not one of the notice's buttons", self.default_button))
    }
}

/// The answer `osascript` printed for a dialog: `button returned:Later, gave
/// up:false`, or `button returned:, gave up:true` when it gave up. `None` for
/// anything else.
pub(crate) fn parse_answer(output: &str) -> Option<Answer> {
    let line = output.lines().rev().find(|line| line.starts_with("button returned:"))?;
    let rest = line.strip_prefix("button returned:")?;
    let (button, gave_up) = rest.rsplit_once(", gave up:")?;
    match gave_up.trim() {
        "true" => Some(Answer::NoAnswer),
        "false" if !button.is_empty() => Some(Answer::Clicked(button.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_as_osascript_prints_them() {
        let cases = [
            ("button returned:Update Now, gave up:false\n", Some(Answer::Clicked("Update Now".into()))),
            ("button returned:Later, gave up:false", Some(Answer::Clicked("Later".into()))),
            ("button returned:, gave up:true\n", Some(Answer::NoAnswer)),
            ("button returned:OK, then, gave up:false\n", Some(Answer::Clicked("OK, then".into()))),
            ("", None),
            ("execution error: User canceled. (-128)\n", None),
            ("button returned:, gave up:false\n", None),
        ];
        for (output, expected) in cases {
            assert_eq!(parse_answer(output), expected, "{output:?}");
        }
    }

    #[test]
    fn texts_are_arguments_of_the_script_never_its_source() {
        let notice = Notice {
            title: "macOS update required",
            message: "\" & (do shell script \"id\") & \"",
            buttons: &["Later", "Update Now"],
            default_button: "Update Now",
            timeout: Duration::from_millis(90_500),
        };
        let args: Vec<String> =
            notice.osascript_arguments().into_iter().map(|arg| arg.into_string().unwrap()).collect();
        let script: Vec<&String> = args.iter().skip(1).step_by(2).take(4).collect();
        assert!(script.iter().all(|line| !line.contains("do shell script")), "{script:?}");
        assert_eq!(&args[8..], ["90", "macOS update required", notice.message, "Update Now", "Later", "Update Now"]);
        assert_eq!(notice.problem(), None);
        assert!(Notice { buttons: &[], ..notice.clone() }.problem().is_some());
        assert!(Notice { default_button: "OK", ..notice }.problem().unwrap().contains("\"OK\""));
    }
}

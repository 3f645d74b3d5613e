//! The person at the Mac, stood in for: `launchctl`, `sudo`, `osascript`,
//! `sysctl` and `open` that record how they were called and answer as a person
//! would, and a `/dev/console` owned by a chosen user under the device's root.
//!
//! `launchctl asuser UID …` and `sudo -u NAME -- …` run the rest of their
//! arguments, as the real ones do (without changing user); `osascript` answers
//! each dialog with the next of the answers the test gave (`""` or none left:
//! the dialog gave up), and does nothing for any other script (a quit request).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::Device;

/// Appends the arguments, each ended by an ASCII record separator and the call by
/// a group separator (arguments may hold line breaks), to `RECORDS/NAME`.
const RECORD: &str =
    r#"for argument in "$@"; do printf '%s\036' "$argument"; done >> 'RECORDS/NAME'; printf '\035' >> 'RECORDS/NAME'"#;

/// Answers a dialog with the first line of `RECORDS/answers`, which it removes.
const OSASCRIPT: &str = r#"case "$*" in
  *'display dialog'*)
    answer=''
    if [ -s 'RECORDS/answers' ]; then
      answer=$(head -n 1 'RECORDS/answers')
      tail -n +2 'RECORDS/answers' > 'RECORDS/answers.rest'
      mv 'RECORDS/answers.rest' 'RECORDS/answers'
    fi
    if [ -z "$answer" ]; then echo 'button returned:, gave up:true'; else echo "button returned:$answer, gave up:false"; fi ;;
esac
exit 0"#;

/// The stand-ins of one device, and what they recorded.
pub struct PersonStandIns {
    records: PathBuf,
    commands: Vec<(&'static str, PathBuf)>,
}

impl PersonStandIns {
    /// Installs the stand-ins under `device`'s root, for a Mac of `architecture`
    /// (`"apple_silicon"` or `"intel"`) with `console_uid` logged in (`None`:
    /// no `/dev/console`, nobody). Giving the console to another user than the
    /// test's own needs root; without it, the console stays the test's user's.
    pub fn install(device: &Device, console_uid: Option<u32>, architecture: &str) -> Self {
        let records = device.root().join("person-records");
        std::fs::create_dir_all(&records).unwrap();
        let flag = if architecture == "apple_silicon" { "1" } else { "0" };
        let programs = [
            ("launchctl", "usr/local/stand-ins/launchctl", "shift 2\nexec \"$@\""),
            ("sudo", "usr/local/stand-ins/sudo", "shift 3\nexec \"$@\""),
            ("osascript", "usr/local/stand-ins/osascript", OSASCRIPT),
            ("sysctl", "usr/local/stand-ins/sysctl", &*format!("echo {flag}")),
            ("open_url", "usr/local/stand-ins/open", "exit 0"),
        ];
        let commands = programs
            .iter()
            .map(|(key, relative, body)| {
                let name = Path::new(relative).file_name().unwrap().to_str().unwrap();
                let record = RECORD.replace("NAME", name);
                let source =
                    format!("#!/bin/sh\n{record}\n{body}\n").replace("RECORDS", &records.display().to_string());
                let path = device.write_file(relative, &source);
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
                (*key, path)
            })
            .collect();
        if let Some(uid) = console_uid {
            let console = device.write_file("dev/console", "");
            if nix::unistd::geteuid().is_root() {
                nix::unistd::chown(&console, Some(uid.into()), None).unwrap();
            }
        }
        Self { records, commands }
    }

    /// The `--set` flags that point the agent at the stand-ins.
    pub fn flags(&self) -> Vec<String> {
        self.commands
            .iter()
            .flat_map(|(key, path)| ["--set".to_string(), format!("commands.{key}={}", path.display())])
            .collect()
    }

    /// The answers the dialogs get, in order: a button's name, or `""` for none
    /// (the dialog gives up). Replaces those not used yet.
    pub fn answer(&self, answers: &[&str]) {
        let text: String = answers.iter().map(|answer| format!("{answer}\n")).collect();
        std::fs::write(self.records.join("answers"), text).unwrap();
    }

    /// Every dialog shown: its arguments after the script (timeout in seconds,
    /// title, message, default button, then the buttons).
    pub fn dialogs(&self) -> Vec<Vec<String>> {
        let scripts = self.calls("osascript");
        scripts
            .into_iter()
            .filter(|call| call.iter().any(|line| line.contains("display dialog")))
            .map(after_script)
            .collect()
    }

    /// Every other `osascript` run (a request to quit an app): its arguments after the script.
    pub fn quit_requests(&self) -> Vec<Vec<String>> {
        let scripts = self.calls("osascript");
        scripts
            .into_iter()
            .filter(|call| !call.iter().any(|line| line.contains("display dialog")))
            .map(after_script)
            .collect()
    }

    /// Every `open` run, its arguments.
    pub fn opened(&self) -> Vec<Vec<String>> {
        self.calls("open")
    }

    /// Every `launchctl` run, its arguments (`asuser UID SUDO -u NAME -- PROGRAM …`).
    pub fn launchctl_calls(&self) -> Vec<Vec<String>> {
        self.calls("launchctl")
    }

    /// The calls `name` recorded, one argument list each.
    fn calls(&self, name: &str) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.records.join(name)).unwrap_or_default();
        let calls = text.split('\u{1d}').filter(|call| !call.is_empty());
        calls.map(|call| call.split_terminator('\u{1e}').map(String::from).collect()).collect()
    }
}

/// An `osascript` call's arguments after its `-e LINE` pairs.
fn after_script(call: Vec<String>) -> Vec<String> {
    let mut rest = call.as_slice();
    while rest.first().map(String::as_str) == Some("-e") {
        rest = &rest[2.min(rest.len())..];
    }
    rest.to_vec()
}

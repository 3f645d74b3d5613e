//! Reaching the person at the Mac: every program runs in their session as them,
//! `launchctl asuser UID sudo -u NAME -- PROGRAM ARGS…`, through the item's tool
//! runner (its own process group, bounded output, the item's deadline).

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::console_user::{ConsoleUser, console_user};
use super::notice::{Answer, Notice, parse_answer};
use crate::config::Commands;
use crate::process::SpawnError;
use crate::tool_runner::{ToolRun, ToolRunner, Transcript};

/// How long past a notice's own timeout `osascript` may take before it is stopped.
const NOTICE_SLACK: Duration = Duration::from_secs(30);

/// The person logged in at the Mac, and the means to reach them.
pub(crate) struct PersonAtTheMac<'a> {
    /// Who they are.
    pub user: ConsoleUser,
    commands: &'a Commands,
    tools: ToolRunner<'a>,
}

/// An app to ask to quit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QuitTarget {
    /// By its bundle identifier (`tell application id "com.example.foo"`).
    BundleId(String),
    /// By its name (`tell application "Foo"`).
    Name(String),
}

/// Why the person could not be reached or did not get an answer through.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersonError {
    /// A program could not be started.
    #[error("cannot run {what} as {user}")]
    Spawn {
        /// What was run (`osascript`).
        what: &'static str,
        /// The person's user name.
        user: String,
        /// Why.
        #[source]
        source: SpawnError,
    },
    /// A program ended otherwise than with exit 0.
    #[error("{what} as {user} ended: {end}")]
    Ended {
        /// What was run.
        what: &'static str,
        /// The person's user name.
        user: String,
        /// How it ended, in words (`exit 1`, `timed out`).
        end: String,
    },
    /// `osascript` printed no answer it could read.
    #[error("osascript as {user} printed no answer: {output:?}")]
    NoAnswerPrinted {
        /// The person's user name.
        user: String,
        /// What it printed, its last line.
        output: String,
    },
    /// The notice itself is malformed (a fault of the caller).
    #[error("{0}")]
    Malformed(String),
}

impl<'a> PersonAtTheMac<'a> {
    /// The person logged in at the console (under `root`), reachable through
    /// `commands` by `tools`; `None` when nobody is logged in.
    pub(crate) fn find(root: &Path, commands: &'a Commands, tools: ToolRunner<'a>) -> Option<Self> {
        console_user(root).map(|user| Self { user, commands, tools })
    }

    /// Shows `notice` in their session and waits for the answer, at most its
    /// timeout (and never past the item's deadline).
    pub(crate) async fn notify(&self, notice: &Notice<'_>, transcript: &mut Transcript) -> Result<Answer, PersonError> {
        if let Some(problem) = notice.problem() {
            return Err(PersonError::Malformed(problem));
        }
        let deadline = (tokio::time::Instant::now() + notice.timeout + NOTICE_SLACK).min(self.tools.deadline);
        let tools = ToolRunner { deadline, ..self.tools };
        let args = notice.osascript_arguments();
        let run = self.run_as_them(&tools, "osascript", &self.commands.osascript, args, transcript).await?;
        tracing::info!(user = %self.user.name, title = %notice.title, "Showed a notice to the person at the Mac.");
        parse_answer(&run.output).ok_or_else(|| PersonError::NoAnswerPrinted {
            user: self.user.name.clone(),
            output: run.last_line().unwrap_or_default().to_string(),
        })
    }

    /// Opens `url` for them (`open URL`), e.g. Software Update's settings.
    pub(crate) async fn open(&self, url: &str, transcript: &mut Transcript) -> Result<(), PersonError> {
        let args = vec![OsString::from(url)];
        self.run_as_them(&self.tools, "open", &self.commands.open_url, args, transcript).await.map(drop)
    }

    /// Asks `application` to quit, as they would from its menu: it may ask them
    /// to save their work first.
    pub(crate) async fn ask_to_quit(
        &self,
        application: &QuitTarget,
        transcript: &mut Transcript,
    ) -> Result<(), PersonError> {
        let (statement, name) = match application {
            QuitTarget::BundleId(id) => ("tell application id (item 1 of argv) to quit", id),
            QuitTarget::Name(name) => ("tell application (item 1 of argv) to quit", name),
        };
        let args = ["-e", "on run argv", "-e", statement, "-e", "end run", name.as_str()];
        let args = args.iter().map(OsString::from).collect();
        self.run_as_them(&self.tools, "osascript", &self.commands.osascript, args, transcript).await.map(drop)
    }

    /// Runs `program` in their session as them, and records its output.
    async fn run_as_them(
        &self,
        tools: &ToolRunner<'_>,
        what: &'static str,
        program: &Path,
        args: Vec<OsString>,
        transcript: &mut Transcript,
    ) -> Result<ToolRun, PersonError> {
        let user = &self.user;
        let mut command = vec![OsString::from("asuser"), OsString::from(user.uid.to_string())];
        command.extend([self.commands.sudo.as_os_str().to_owned(), "-u".into(), sudo_user(user), "--".into()]);
        command.push(program.as_os_str().to_owned());
        command.extend(args);
        let run = tools.run(&self.commands.launchctl, command).await.map_err(|source| PersonError::Spawn {
            what,
            user: user.name.clone(),
            source,
        })?;
        transcript.add(&format!("{what} as {}", user.name), &run);
        if !run.succeeded() {
            return Err(PersonError::Ended { what, user: user.name.clone(), end: run.end.to_string() });
        }
        Ok(run)
    }
}

/// How `sudo -u` names the person: their user name, or `#UID` when the name is
/// only the uid's digits or could read as an option.
fn sudo_user(user: &ConsoleUser) -> OsString {
    let plain = !user.name.is_empty()
        && !user.name.starts_with('-')
        && !user.name.starts_with('#')
        && user.name != user.uid.to_string();
    OsString::from(if plain { user.name.clone() } else { format!("#{}", user.uid) })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use tokio_util::sync::CancellationToken;

    use super::*;

    /// A stand-in that appends its arguments (one per line, then a blank line) to
    /// `<root>/calls/<name>`, then runs `body`.
    fn stand_in(root: &Path, name: &str, body: &str) -> std::path::PathBuf {
        let path = root.join("bin").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::create_dir_all(root.join("calls")).unwrap();
        let record = format!(
            "for a in \"$@\"; do printf '%s\\n' \"$a\"; done >> '{}/calls/{name}'; echo >> '{}/calls/{name}'",
            root.display(),
            root.display()
        );
        std::fs::write(&path, format!("#!/bin/sh\n{record}\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn calls(root: &Path, name: &str) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(root.join("calls").join(name)).unwrap_or_default();
        text.split("\n\n")
            .filter(|call| !call.is_empty())
            .map(|call| call.lines().map(String::from).collect())
            .collect()
    }

    #[tokio::test]
    async fn notices_quits_and_urls_run_in_the_persons_session_as_them() {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path();
        std::fs::create_dir_all(root.join("dev")).unwrap();
        std::fs::write(root.join("dev/console"), "").unwrap();
        if nix::unistd::geteuid().is_root() {
            nix::unistd::chown(&root.join("dev/console"), Some(65534.into()), None).unwrap();
        }
        let commands = Commands {
            launchctl: stand_in(root, "launchctl", "shift 2; exec \"$@\""),
            sudo: stand_in(root, "sudo", "shift 3; exec \"$@\""),
            osascript: stand_in(
                root,
                "osascript",
                "case \"$*\" in *'display dialog'*) echo 'button returned:Later, gave up:false';; esac",
            ),
            open_url: stand_in(root, "open", "exit 0"),
            ..Commands::default()
        };
        let cancel = CancellationToken::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let tools = ToolRunner { root, environment: &[], deadline, grace: Duration::from_secs(1), cancel: &cancel };
        let person = PersonAtTheMac::find(root, &commands, tools).expect("someone owns the console");
        let (uid, name) = (person.user.uid.to_string(), sudo_user(&person.user).into_string().unwrap());
        let mut transcript = Transcript::default();

        let notice = Notice {
            title: "Title",
            message: "Message",
            buttons: &["Later", "Update Now"],
            default_button: "Update Now",
            timeout: Duration::from_secs(120),
        };
        assert_eq!(person.notify(&notice, &mut transcript).await.unwrap(), Answer::Clicked("Later".into()));
        person.ask_to_quit(&QuitTarget::BundleId("com.example.foo".into()), &mut transcript).await.unwrap();
        person
            .open("x-apple.systempreferences:com.apple.Software-Update-Settings.extension", &mut transcript)
            .await
            .unwrap();

        let sudo = commands.sudo.display().to_string();
        let launchctl = calls(root, "launchctl");
        assert_eq!(launchctl.len(), 3, "{launchctl:?}");
        for call in &launchctl {
            assert_eq!(call[..6], ["asuser", uid.as_str(), sudo.as_str(), "-u", name.as_str(), "--"], "{call:?}");
        }
        let osascript = calls(root, "osascript");
        assert_eq!(osascript[0][8..], ["120", "Title", "Message", "Update Now", "Later", "Update Now"]);
        assert_eq!(
            osascript[1],
            [
                "-e",
                "on run argv",
                "-e",
                "tell application id (item 1 of argv) to quit",
                "-e",
                "end run",
                "com.example.foo"
            ]
        );
        assert_eq!(calls(root, "open"), [["x-apple.systempreferences:com.apple.Software-Update-Settings.extension"]]);
        assert!(transcript.into_text().contains(&format!("--- osascript as {} (exit 0) ---", person.user.name)));

        std::fs::write(&commands.osascript, "#!/bin/sh\necho 'execution error: not allowed (-1743)' >&2; exit 1\n")
            .unwrap();
        let error = person.notify(&notice, &mut Transcript::default()).await.unwrap_err();
        assert_eq!(error.to_string(), format!("osascript as {} ended: exit 1", person.user.name));
        std::fs::remove_file(root.join("dev/console")).unwrap();
        assert!(PersonAtTheMac::find(root, &commands, tools).is_none(), "nobody at the Mac");
    }

    #[test]
    fn sudo_is_given_the_name_or_else_the_uid() {
        let user = |uid: u32, name: &str| ConsoleUser { uid, name: name.to_string() };
        assert_eq!(sudo_user(&user(501, "ada")), "ada");
        assert_eq!(sudo_user(&user(502, "502")), "#502");
        assert_eq!(sudo_user(&user(503, "-rf")), "#503");
    }
}

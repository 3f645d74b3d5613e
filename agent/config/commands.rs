//! Where the system tools the agent runs are: `commands.*`, one absolute path
//! each, defaulting to where macOS keeps them.

use std::path::PathBuf;

use serde::Serialize;

/// The system tools the item handlers run, by absolute path. Configurable so a
/// test (or an unusual install) can point them elsewhere; the defaults are where
/// macOS keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commands {
    /// CUPS' printer administration tool.
    pub lpadmin: PathBuf,
    /// CUPS' status tool, which lists printers and their devices.
    pub lpstat: PathBuf,
    /// CUPS' option tool, which lists a printer's options.
    pub lpoptions: PathBuf,
    /// macOS' package installer (`installer -pkg … -target /`).
    pub installer: PathBuf,
    /// macOS' disk image tool (`hdiutil attach` / `detach`).
    pub hdiutil: PathBuf,
    /// macOS' copier that keeps permissions, symlinks and extended attributes.
    pub ditto: PathBuf,
    /// macOS' package tool (`pkgutil --check-signature`: who signed a pkg).
    pub pkgutil: PathBuf,
    /// macOS' code signing tool (`codesign -dv`, `codesign --verify`: who signed an app).
    pub codesign: PathBuf,
    /// Gatekeeper's tool (`spctl --assess`: whether a pkg or app is notarized).
    pub spctl: PathBuf,
    /// macOS' software update tool (`--list`, `--install`).
    pub softwareupdate: PathBuf,
    /// macOS' version tool.
    pub sw_vers: PathBuf,
    /// macOS' hardware and software report (`-xml SPHardwareDataType SPSoftwareDataType`).
    pub system_profiler: PathBuf,
    /// macOS' I/O registry tool (serial number and UUID of the platform).
    pub ioreg: PathBuf,
    /// macOS' FileVault tool (`fdesetup status`).
    pub fdesetup: PathBuf,
    /// macOS' configuration profile tool (enrollment status, installed profiles).
    pub profiles: PathBuf,
    /// macOS' keychain tool (certificates and identities of the System keychain).
    pub security: PathBuf,
    /// launchd's tool (`launchctl print system/io.endpointagent.agent`), for
    /// `agent doctor`'s "is the daemon loaded" check.
    pub launchctl: PathBuf,
    /// The program that opens a URL in the person's default browser, for
    /// `agent self-service open`: `open` on macOS, `xdg-open` elsewhere.
    pub open_url: PathBuf,
    /// AppleScript's runner, for the notices shown to the person at the Mac and
    /// for asking an app to quit.
    pub osascript: PathBuf,
    /// The program that runs a notice as the person at the Mac rather than as
    /// root (`sudo -u NAME`), inside `launchctl asuser UID`.
    pub sudo: PathBuf,
    /// The kernel's settings tool (`sysctl -n hw.optional.arm64`: Apple silicon or Intel).
    pub sysctl: PathBuf,
    /// The tool that restarts the Mac (`shutdown -r now`) after a custom app
    /// asking for a restart was installed.
    pub shutdown: PathBuf,
}

/// Where the program that opens a URL in the default browser lives.
#[cfg(target_os = "macos")]
pub(crate) const OPEN_URL_DEFAULT: &str = "/usr/bin/open";
/// Where the program that opens a URL in the default browser lives.
#[cfg(not(target_os = "macos"))]
pub(crate) const OPEN_URL_DEFAULT: &str = "/usr/bin/xdg-open";

impl Default for Commands {
    fn default() -> Self {
        Self {
            lpadmin: PathBuf::from("/usr/sbin/lpadmin"),
            lpstat: PathBuf::from("/usr/bin/lpstat"),
            lpoptions: PathBuf::from("/usr/bin/lpoptions"),
            installer: PathBuf::from("/usr/sbin/installer"),
            hdiutil: PathBuf::from("/usr/bin/hdiutil"),
            ditto: PathBuf::from("/usr/bin/ditto"),
            pkgutil: PathBuf::from("/usr/sbin/pkgutil"),
            codesign: PathBuf::from("/usr/bin/codesign"),
            spctl: PathBuf::from("/usr/sbin/spctl"),
            softwareupdate: PathBuf::from("/usr/sbin/softwareupdate"),
            sw_vers: PathBuf::from("/usr/bin/sw_vers"),
            system_profiler: PathBuf::from("/usr/sbin/system_profiler"),
            ioreg: PathBuf::from("/usr/sbin/ioreg"),
            fdesetup: PathBuf::from("/usr/bin/fdesetup"),
            profiles: PathBuf::from("/usr/bin/profiles"),
            security: PathBuf::from("/usr/bin/security"),
            launchctl: PathBuf::from("/bin/launchctl"),
            open_url: PathBuf::from(OPEN_URL_DEFAULT),
            osascript: PathBuf::from("/usr/bin/osascript"),
            sudo: PathBuf::from("/usr/bin/sudo"),
            sysctl: PathBuf::from("/usr/sbin/sysctl"),
            shutdown: PathBuf::from("/sbin/shutdown"),
        }
    }
}

//! The component package's contents: Payload, Bom, Scripts, the launchd job, the
//! Self Service app and the self-update pin, each read by a reader of its own and
//! held against the others.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use apple_bom::ParsedBom;

use super::archive::{self, ArchiveError, Listed};
use super::documents::PackageInfoFacts;
use super::{Problems, app, launchd, pin};
use crate::cksum::posix_cksum;
use crate::cpio::ODC_MAGIC;
use crate::product::LAUNCHD_PATH;
use crate::tree::ADMIN_GROUP;

/// The listing of an archive, by path.
pub(super) type Listing = BTreeMap<String, Listed>;

/// What a package's contents hold that `verify` reports.
#[derive(Debug, Default)]
pub(super) struct Contents {
    /// Every Payload path, in byte order.
    pub(super) payload_paths: Vec<String>,
    /// The team `config.d/00-package.plist` pins, if the package carries it.
    pub(super) pinned_team: Option<String>,
}

/// Checks everything under the unpacked `component` folder of a package of
/// `version`, using `work` for scratch space. Fails only when `bsdtar` is missing.
pub(super) fn check(
    component: &Path,
    work: &Path,
    package_info: &PackageInfoFacts,
    version: &str,
    problems: &mut Problems,
) -> Result<Contents, ArchiveError> {
    let payload_dir = work.join("payload");
    let Some(payload) = unpack(&component.join("Payload"), "Payload", &payload_dir, problems)? else {
        return Ok(Contents::default());
    };
    check_owners("Payload", &payload, problems);
    check_counts(&payload, package_info, problems);
    check_bom(&component.join("Bom"), &payload, &payload_dir, problems);
    if let Some(scripts) = unpack(&component.join("Scripts"), "Scripts", &work.join("scripts"), problems)? {
        check_owners("Scripts", &scripts, problems);
        check_scripts(&scripts, &work.join("scripts"), &package_info.scripts, problems);
    }
    check_launchd_job(&payload, &payload_dir, problems);
    app::check(&payload, &payload_dir, version, problems);
    let pinned_team = pin::check(&payload, &payload_dir, problems);
    Ok(Contents { payload_paths: payload.keys().cloned().collect(), pinned_team })
}

/// Checks that `archive` is a gzipped odc cpio archive, lists it and extracts it
/// into `destination`. `None` (with a problem recorded) when it cannot be read.
fn unpack(
    archive: &Path,
    name: &str,
    destination: &Path,
    problems: &mut Problems,
) -> Result<Option<Listing>, ArchiveError> {
    let mut magic = [0u8; 6];
    let opened = std::fs::File::open(archive)
        .and_then(|file| flate2::read::GzDecoder::new(file).read_exact(&mut magic).map(|_| ()));
    if opened.is_err() || &magic != ODC_MAGIC {
        problems.add(format!("{name} is missing or not a gzipped odc (070707) cpio archive"));
        return Ok(None);
    }
    let read = archive::list(archive).and_then(|listing| {
        std::fs::create_dir_all(destination).map_err(ArchiveError::Missing)?;
        archive::extract(archive, destination).map(|()| listing)
    });
    match read {
        Ok(listing) => Ok(Some(listing)),
        Err(error @ ArchiveError::Missing(_)) => Err(error),
        Err(error) => {
            problems.add(format!("{name}: {error}"));
            Ok(None)
        }
    }
}

/// Every entry owned by root, in group wheel (0) or admin (80).
fn check_owners(name: &str, listing: &Listing, problems: &mut Problems) {
    for (path, entry) in listing {
        if entry.uid != 0 || (entry.gid != 0 && entry.gid != ADMIN_GROUP) {
            problems
                .add(format!("{name}: {path} is owned by {}:{}, not root with group 0 or 80", entry.uid, entry.gid));
        }
    }
}

/// The bytes a listed entry stands for: a file's size, a link target's length.
fn data_size(entry: &Listed) -> u64 {
    entry.size.filter(|_| entry.kind == "file").or(entry.link.as_ref().map(|link| link.len() as u64)).unwrap_or(0)
}

/// PackageInfo's `numberOfFiles` and `installKBytes` against the Payload.
fn check_counts(payload: &Listing, package_info: &PackageInfoFacts, problems: &mut Problems) {
    let count = payload.len() as u64;
    if package_info.number_of_files.is_some_and(|stated| stated != count) {
        problems
            .add(format!("PackageInfo: numberOfFiles {:?}, the Payload holds {count}", package_info.number_of_files));
    }
    let kilobytes = payload.values().map(data_size).sum::<u64>().div_ceil(1024);
    if package_info.install_kilobytes.is_some_and(|stated| stated != kilobytes) {
        problems.add(format!(
            "PackageInfo: installKBytes {:?}, the Payload holds {kilobytes} KiB",
            package_info.install_kilobytes
        ));
    }
}

/// Every Bom path is a Payload path with the same mode, owner, size, link target
/// and (for files) CRC of the extracted bytes, and the other way round.
fn check_bom(bom: &Path, payload: &Listing, payload_dir: &Path, problems: &mut Problems) {
    let Ok(bytes) = std::fs::read(bom) else {
        problems.add("Bom is missing from the component package".to_string());
        return;
    };
    let paths = match ParsedBom::parse(&bytes).and_then(|parsed| parsed.paths()) {
        Ok(paths) => paths,
        Err(error) => {
            problems.add(format!("Bom does not parse: {error}"));
            return;
        }
    };
    for bom_path in &paths {
        let path = bom_path.path();
        let Some(listed) = payload.get(path) else {
            problems.add(format!("Bom lists {path}, which the Payload does not hold"));
            continue;
        };
        let mut differs = |what: &str, bom: String, archive: String| {
            if bom != archive {
                problems.add(format!("{path}: the Bom says {what} {bom}, the Payload {archive}"));
            }
        };
        differs("mode", format!("{:o}", bom_path.file_mode()), format!("{:o}", listed.mode()));
        differs(
            "owner",
            format!("{}:{}", bom_path.user_id(), bom_path.group_id()),
            format!("{}:{}", listed.uid, listed.gid),
        );
        differs("size", bom_path.size().to_string(), data_size(listed).to_string());
        differs("link", format!("{:?}", bom_path.link_name()), format!("{:?}", listed.link.as_deref()));
        if listed.kind == "file" {
            let crc = std::fs::read(payload_dir.join(path)).map(|contents| posix_cksum(&contents)).ok();
            differs("CRC", format!("{:?}", bom_path.crc32()), format!("{crc:?}"));
        }
    }
    for path in payload.keys().filter(|path| !paths.iter().any(|bom_path| bom_path.path() == path.as_str())) {
        problems.add(format!("the Payload holds {path}, which the Bom does not list"));
    }
}

/// The scripts PackageInfo names are in the Scripts archive, executable by
/// everyone, and start with `#!`.
fn check_scripts(scripts: &Listing, scripts_dir: &Path, named: &[String], problems: &mut Problems) {
    for name in named {
        let Some(entry) = scripts.get(name) else {
            problems.add(format!("Scripts: {name} (named in PackageInfo) is missing"));
            continue;
        };
        if entry.kind != "file" || entry.permissions & 0o111 != 0o111 {
            problems.add(format!("Scripts: {name} is not an executable file (mode {:o})", entry.mode()));
        }
        let starts_with_shebang = std::fs::read(scripts_dir.join(name)).is_ok_and(|bytes| bytes.starts_with(b"#!"));
        if !starts_with_shebang {
            problems.add(format!("Scripts: {name} does not start with #!"));
        }
    }
}

/// The launchd job is root's and not writable by others (launchd refuses it
/// otherwise), parses with the keys it needs, and starts an executable the Payload
/// holds.
fn check_launchd_job(payload: &Listing, payload_dir: &Path, problems: &mut Problems) {
    let Some(entry) = payload.get(LAUNCHD_PATH) else {
        problems.add(format!("the Payload has no launchd job at {LAUNCHD_PATH}"));
        return;
    };
    if entry.kind != "file" || entry.uid != 0 || entry.gid != 0 || entry.permissions & 0o022 != 0 {
        problems.add(format!("{LAUNCHD_PATH} must be a root:wheel file nobody else can write"));
    }
    let bytes = std::fs::read(payload_dir.join(LAUNCHD_PATH)).unwrap_or_default();
    let Some(program) = launchd::check_job(&bytes, problems) else { return };
    let in_payload = format!(".{program}");
    match payload.get(&in_payload) {
        Some(binary) if binary.kind == "file" && binary.permissions & 0o111 == 0o111 => {}
        _ => problems.add(format!("the launchd job starts {program}, which the Payload holds as no executable file")),
    }
}

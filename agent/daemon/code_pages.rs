//! What the idle daemon gives back after a check-in: the pages of its own program
//! that the check-in read (code and constants: clean copies of the binary on
//! disk). Between check-ins the daemon waits for minutes or hours, and those
//! pages would stay resident for nothing; most of its resident memory is them.
//!
//! On Linux it asks the kernel to reclaim them (`madvise(MADV_PAGEOUT)` on the
//! binary's read-only mappings): nothing is lost, the next check-in reads them
//! back from the page cache (or the disk) as it runs. Writable mappings are left
//! alone, and a binary replaced on disk (a self-update under way) too. macOS
//! counts only dirty memory in a process's footprint (what Activity Monitor
//! shows), so clean pages cost nothing there and nothing is done.

#[cfg(any(target_os = "linux", test))]
use std::path::Path;

/// One mapping of the binary the kernel may reclaim: its start and length.
#[cfg(any(target_os = "linux", test))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadOnlyMapping {
    /// The first address.
    pub(crate) start: usize,
    /// Its length in bytes.
    pub(crate) length: usize,
}

/// Asks the kernel to reclaim the binary's read-only pages; failures (an old
/// kernel without `MADV_PAGEOUT`, an unreadable `/proc`) only leave them resident.
pub(crate) fn give_back() {
    #[cfg(target_os = "linux")]
    linux::give_back();
}

#[cfg(any(target_os = "linux", test))]
/// The read-only mappings of `program` in `maps` (the text of `/proc/self/maps`):
/// not writable, backed by that very file (not one replaced since: ` (deleted)`).
pub(crate) fn read_only_mappings(maps: &str, program: &Path) -> Vec<ReadOnlyMapping> {
    let Some(program) = program.to_str() else { return Vec::new() };
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(6, ' ');
            let range = fields.next()?;
            let permissions = fields.next()?;
            let path = fields.nth(3)?.trim_start();
            if path != program || !permissions.starts_with('r') || permissions.as_bytes().get(1) != Some(&b'-') {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (end > start).then_some(ReadOnlyMapping { start, length: end - start })
        })
        .collect()
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::c_void;
    use std::ptr::NonNull;

    use nix::sys::mman::{MmapAdvise, madvise};

    use super::read_only_mappings;

    pub(super) fn give_back() {
        let (Ok(program), Ok(maps)) =
            (std::fs::read_link("/proc/self/exe"), std::fs::read_to_string("/proc/self/maps"))
        else {
            return;
        };
        for mapping in read_only_mappings(&maps, &program) {
            let Some(start) = NonNull::new(mapping.start as *mut c_void) else { continue };
            // SAFETY: the range is a whole mapping of this process, read from its own
            // maps, and neither writable nor anonymous: MADV_PAGEOUT only drops clean
            // copies of the file (or swaps out), never changes what the memory holds.
            let advised = unsafe { madvise(start, mapping.length, MmapAdvise::MADV_PAGEOUT) };
            if let Err(error) = advised {
                tracing::debug!(error = %error, "The kernel would not reclaim the agent's code pages.");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
5581c6a00000-5581c6b87000 r--p 00000000 fd:01 1835101                    /usr/local/bin/agent
5581c6b87000-5581c7146000 r-xp 00187000 fd:01 1835101                    /usr/local/bin/agent
5581c7146000-5581c72c3000 r--p 00746000 fd:01 1835101                    /usr/local/bin/agent
5581c72c3000-5581c72d1000 rw-p 008c3000 fd:01 1835101                    /usr/local/bin/agent
5581c8000000-5581c8021000 rw-p 00000000 00:00 0                          [heap]
7f1c2a600000-7f1c2a628000 r--p 00000000 fd:01 2097329                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f1c2a628000-7f1c2a7bd000 r-xp 00028000 fd:01 2097329                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f1c2b000000-7f1c2b100000 r-xp 00000000 fd:01 1835999                    /usr/local/bin/agent (deleted)
7ffd1c9e5000-7ffd1ca06000 rw-p 00000000 00:00 0                          [stack]
";

    #[test]
    fn only_the_programs_own_read_only_mappings_are_given_back() {
        let mappings = read_only_mappings(MAPS, Path::new("/usr/local/bin/agent"));
        let starts: Vec<usize> = mappings.iter().map(|mapping| mapping.start).collect();
        assert_eq!(starts, [0x5581c6a00000, 0x5581c6b87000, 0x5581c7146000]);
        assert_eq!(mappings[1].length, 0x5581c7146000 - 0x5581c6b87000);
        assert!(read_only_mappings(MAPS, Path::new("/usr/local/bin/other")).is_empty());
        assert!(
            read_only_mappings("garbage\n\nzz-yy r--p 0 0 0 /usr/local/bin/agent", Path::new("/usr/local/bin/agent"))
                .is_empty()
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn giving_back_leaves_the_program_working() {
        give_back();
        give_back();
        assert_eq!(read_only_mappings("", Path::new("/x")), Vec::new(), "code runs after its pages went");
    }
}

//! The package built from the repository's own files and a stand-in agent binary,
//! read back by independent readers, and installed, upgraded and removed on a
//! scratch root with a recording `launchctl`.

mod app;
mod pin;
mod read_back;
mod scripts;
mod support;

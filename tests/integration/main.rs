//! The integration tests: the real `agent` binary, real child processes, a real
//! SQLite file, each test on a scratch device under its own `AGENT_ROOT`.

mod cups;
mod support;

mod bad_input;
mod concurrency;
mod crash;
mod frequency;
mod logs;
mod ordering;
mod printers;
mod scripts;
mod settings;
mod timeouts;

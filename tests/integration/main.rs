//! The integration tests: the real `agent` binary, real child processes, a real
//! SQLite file, each test on a scratch device under its own `AGENT_ROOT`.

mod app_fixtures;
mod browser;
mod cups;
mod http_server;
mod otlp_receiver;
mod support;
mod test_server;

mod app_installers;
mod app_scripts;
mod apps;
mod auto_apps;
mod bad_input;
mod blocking_applications;
mod concurrency;
mod crash;
mod daemon;
mod deferrals;
mod doctor;
mod end_to_end;
mod frequency;
mod hardening;
mod library;
mod logs;
mod managed_os;
mod managed_profile;
mod mdm;
mod mdm_schema;
mod ordering;
mod parameters;
mod printers;
mod progress;
mod resilience;
mod scripts;
mod self_service_page;
mod settings;
mod signatures;
mod telemetry;
mod tenant;
mod timeouts;
#[cfg(not(target_os = "macos"))]
mod tls;

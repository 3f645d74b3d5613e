#!/usr/bin/env bash
# The footprint benchmarks: builds the release agent, prints one line per figure
# with its target and PASS or FAIL, and writes them to target/bench/results.json.
# BENCH_IDLE_SECONDS shortens the idle minute the daemon is watched for.
# Exits 1 when a figure misses its target.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "error: cargo not found; install Rust 1.85 or newer with rustup" >&2
    exit 1
fi

cargo bench --locked --bench footprint

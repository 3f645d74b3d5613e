#!/usr/bin/env bash
# The footprint and command-latency benchmarks: builds the release agent, prints
# one line per figure with its target and PASS or FAIL, and writes them to
# target/bench/results.json and target/bench/command_latency.json.
#
#   scripts/bench.sh                  every footprint figure, then the latency
#   scripts/bench.sh daemon status    only those footprint groups (daemon, status,
#                                     scripts, plan, inventory, size)
#   scripts/bench.sh latency          only the command latency (may be combined)
#
# BENCH_IDLE_SECONDS shortens the idle minute the daemon is watched for.
# Exits 1 when a figure misses its target (both benchmarks run either way).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "error: cargo not found; install Rust 1.85 or newer with rustup" >&2
    exit 1
fi

groups=()
latency=yes
if [ $# -gt 0 ]; then
    latency=no
    for group in "$@"; do
        if [ "$group" = latency ]; then latency=yes; else groups+=("$group"); fi
    done
fi

status=0
if [ $# -eq 0 ] || [ ${#groups[@]} -gt 0 ]; then
    # ${groups[@]+...}: an empty array under `set -u` on the bash 3.2 of macOS.
    cargo bench --locked --bench footprint -- ${groups[@]+"${groups[@]}"} || status=1
fi
if [ "$latency" = yes ]; then
    if [ $# -eq 0 ]; then echo; fi
    cargo bench --locked --bench command_latency || status=1
fi
exit "$status"

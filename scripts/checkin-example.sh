#!/usr/bin/env bash
# One real check-in of examples/blueprint.json on a scratch device, then `agent status`.
# The scratch device is a temporary AGENT_ROOT (or the one you export), so nothing
# outside it is touched and root is not needed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "error: cargo not found; install Rust 1.85 or newer with rustup" >&2
    exit 1
fi

cargo build --locked --quiet --bin agent
export AGENT_ROOT="${AGENT_ROOT:-$(mktemp -d -t endpoint-agent.XXXXXX)}"
echo "Scratch device: AGENT_ROOT=$AGENT_ROOT"
echo

outcome=0
./target/debug/agent run --blueprint examples/blueprint.json || outcome=$?
echo
./target/debug/agent status
exit "$outcome"

#!/usr/bin/env bash
# Every check the project has, from a fresh Debian machine with a Rust toolchain:
# lint, the whole test suite, and lint-clean type-checks of the two macOS targets.
set -euo pipefail
cd "$(dirname "$0")/.."

# The last line, pass or fail: how long the whole suite took.
started=$SECONDS
trap 'echo "Suite finished in $(( (SECONDS - started) / 60 ))m $(( (SECONDS - started) % 60 ))s"' EXIT

if ! command -v cargo >/dev/null; then
    echo "error: cargo not found; install Rust 1.85 or newer with rustup" >&2
    exit 1
fi

macos_targets=(aarch64-apple-darwin x86_64-apple-darwin)
if command -v rustup >/dev/null; then
    rustup component add clippy >/dev/null 2>&1 || echo "warning: could not add clippy" >&2
    rustup target add "${macos_targets[@]}" >/dev/null 2>&1 || echo "warning: could not add the macOS targets" >&2
fi

# The printer tests start a private CUPS scheduler of their own (never the
# machine's); they need CUPS installed, and fail saying so without it.
if ! command -v cupsd >/dev/null && [ ! -x /usr/sbin/cupsd ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "Installing CUPS for the printer tests"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cups >/dev/null
    else
        echo "warning: cupsd not found; install CUPS (apt-get install cups) or the printer tests fail" >&2
    fi
fi

# The Self Service page's tests drive a real headless Chromium (Debian's
# `chromium`); they fail saying so without it.
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "Installing Chromium for the Self Service page tests"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    else
        echo "warning: chromium not found; install it (apt-get install chromium) or the page tests fail" >&2
    fi
fi

# The installer package is read back with bsdtar (libarchive): tools/package's
# tests and the packaging step below need it.
if ! command -v bsdtar >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "Installing bsdtar (libarchive-tools) for the package checks"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libarchive-tools >/dev/null
    else
        echo "warning: bsdtar not found; install libarchive-tools or the package tests fail" >&2
    fi
fi

cargo clippy --locked --workspace --all-targets -- -D warnings

for target in "${macos_targets[@]}"; do
    if rustc --print target-libdir --target "$target" 2>/dev/null | xargs -r test -d; then
        echo "Type-checking (and linting) for $target"
        cargo clippy --locked --quiet --workspace --all-targets --target "$target" -- -D warnings
    else
        echo "warning: the $target standard library is not installed; skipping its type-check" >&2
    fi
done

cargo test --locked --workspace

# The .pkg of the agent just tested (the debug build; scripts/package.sh packages a
# release one), built and read back.
./target/debug/package build --binary target/debug/agent --output-dir target/pkg

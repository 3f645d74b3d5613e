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

# Installs the Debian package $2 when the program $1 is missing (as root, with
# apt-get; otherwise a warning): tests that need it ($3) fail saying so without it.
install_if_missing() {
    local program=$1 package=$2 needed_by=$3
    if command -v "$program" >/dev/null || [ -x "/usr/sbin/$program" ]; then
        return
    fi
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "Installing $package for $needed_by"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
    else
        echo "warning: $program not found; install $package (apt-get install $package) or $needed_by fail" >&2
    fi
}

# The printer tests start a private CUPS scheduler of their own (never the machine's).
install_if_missing cupsd cups "the printer tests"
# The installer package is read back with bsdtar (libarchive): tools/package's
# tests and the packaging step below need it.
install_if_missing bsdtar libarchive-tools "the package checks"
# The Self Service page's tests drive a real headless Chromium (Debian's build).
install_if_missing chromium chromium "the Self Service page tests"
# The TLS tests make a private CA and a server certificate for 127.0.0.1 with openssl.
install_if_missing openssl openssl "the TLS tests"

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

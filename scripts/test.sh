#!/usr/bin/env bash
# Every check the project has, from a fresh Debian machine with a Rust toolchain:
# lint, the whole test suite, and type-checks of the two macOS targets.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "error: cargo not found; install Rust 1.85 or newer with rustup" >&2
    exit 1
fi

macos_targets=(aarch64-apple-darwin x86_64-apple-darwin)
if command -v rustup >/dev/null; then
    rustup component add clippy >/dev/null 2>&1 || echo "warning: could not add clippy" >&2
    rustup target add "${macos_targets[@]}" >/dev/null 2>&1 || echo "warning: could not add the macOS targets" >&2
fi

cargo clippy --locked --all-targets -- -D warnings

for target in "${macos_targets[@]}"; do
    if rustc --print target-libdir --target "$target" 2>/dev/null | xargs -r test -d; then
        echo "Type-checking for $target"
        cargo check --locked --quiet --target "$target"
    else
        echo "warning: the $target standard library is not installed; skipping its type-check" >&2
    fi
done

cargo test --locked

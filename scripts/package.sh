#!/usr/bin/env bash
# Builds target/pkg/endpoint-agent-X.Y.Z.pkg (X.Y.Z from Cargo.toml) from a release
# build of the agent, then reads it back and checks it (tools/package).
#
#   scripts/package.sh                      release build for this machine, packaged
#   scripts/package.sh --binary PATH        package an agent built elsewhere
#   scripts/package.sh --with-apple-tools   on a Mac: pkgbuild + productbuild instead
#   scripts/package.sh --self-update-team-id TEAMID
#                                           pin self-updates to the team that signs releases
#
# On a Mac the release build is universal (arm64 and x86_64, joined with lipo). On
# Linux it is a Linux binary: the package is well formed but installs nothing a Mac
# can run, so for a real package pass --binary with a macOS build. Either way the
# package is unsigned; sign it with productsign or rcodesign (README, "Install
# through your MDM"). Needs bsdtar (Debian: libarchive-tools) for the check.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
use_apple_tools=false
pin=()
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
        --with-apple-tools) use_apple_tools=true; shift ;;
        --self-update-team-id) pin=(--self-update-team-id "${2:?--self-update-team-id needs a Team ID}"); shift 2 ;;
        -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument: $1" >&2; exit 2 ;;
    esac
done

if [ -z "$binary" ]; then
    if [ "$(uname -s)" = Darwin ]; then
        targets=(aarch64-apple-darwin x86_64-apple-darwin)
        rustup target add "${targets[@]}" >/dev/null 2>&1 || true
        for target in "${targets[@]}"; do
            cargo build --locked --release --bin agent --target "$target"
        done
        binary=target/release/agent-universal
        lipo -create -output "$binary" \
            target/aarch64-apple-darwin/release/agent target/x86_64-apple-darwin/release/agent
    else
        echo "Building a Linux agent: this package checks the format; pass --binary with a macOS build to ship one." >&2
        cargo build --locked --release --bin agent
        binary=target/release/agent
    fi
fi

package="$(cargo run --locked --quiet -p endpoint-package -- build --binary "$binary" --output-dir target/pkg ${pin[@]+"${pin[@]}"})"

if [ "$use_apple_tools" = true ]; then
    # The same payload, scripts and Distribution, packaged by Apple's tools. Not run by
    # CI (no Mac there); the package above is the one CI proves.
    if ! command -v pkgbuild >/dev/null || ! command -v productbuild >/dev/null; then
        echo "error: --with-apple-tools needs pkgbuild and productbuild (macOS)" >&2
        exit 1
    fi
    stage="$(mktemp -d)"
    trap 'rm -rf "$stage"' EXIT
    mkdir -p "$stage/root" "$stage/components"
    tar -xf "$package" -C "$stage" Distribution endpoint-agent.pkg/Payload
    tar -xf "$stage/endpoint-agent.pkg/Payload" -C "$stage/root"
    version="$(sed -n 's/.*<pkg-ref id="io.endpointagent.agent" version="\([^"]*\)".*/\1/p' "$stage/Distribution")"
    # pkgbuild makes the Self Service app relocatable and version-checked by default:
    # Installer would then update a copy found elsewhere, or keep a newer one, instead
    # of writing /Applications/Endpoint Self Service.app. tools/package declares no
    # bundle, so the app always lands there and matches the agent; so does this.
    pkgbuild --analyze --root "$stage/root" "$stage/components.plist"
    plutil -replace 0.BundleIsRelocatable -bool NO "$stage/components.plist"
    plutil -replace 0.BundleIsVersionChecked -bool NO "$stage/components.plist"
    pkgbuild --root "$stage/root" --scripts pkg/scripts --identifier io.endpointagent.agent \
        --version "$version" --install-location / --ownership recommended \
        --component-plist "$stage/components.plist" "$stage/components/endpoint-agent.pkg"
    productbuild --distribution "$stage/Distribution" --package-path "$stage/components" "$package"
    pkgutil --payload-files "$package" >/dev/null
fi

echo "$package"

#!/bin/sh
# Removes Endpoint Agent from this Mac:
#
#   sudo "/Library/Application Support/EndpointAgent/uninstall.sh" [--purge]
#
# Stops the daemon (launchctl bootout), then removes the binary, the launchd job,
# the control socket, the Self Service app, the package's self-update pin
# (config.d/00-package.plist), this script and the package receipt. The rest of the
# configuration, the enrollment token, the state store and the logs are kept, so a
# later install picks up where this one stopped; --purge removes them too. Managed
# preferences go with the MDM profile that wrote them.
#
# AGENT_ROOT=DIR works on a scratch device under DIR instead of / (as the agent
# itself does); launchctl and pkgutil are whatever PATH finds.
set -u

label="io.endpointagent.agent"
purge=false
for argument in "$@"; do
    case "$argument" in
        --purge) purge=true ;;
        -h | --help)
            sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "uninstall: unknown argument: $argument (expected --purge)" >&2
            exit 2
            ;;
    esac
done

root="${AGENT_ROOT:-/}"
root="${root%/}"
if [ -z "${AGENT_ROOT:-}" ] && [ "$(id -u)" -ne 0 ]; then
    echo "uninstall: run it as root (sudo)" >&2
    exit 1
fi

support="$root/Library/Application Support/EndpointAgent"
failed=0

remove() {
    if [ -e "$1" ] || [ -L "$1" ]; then
        if rm -rf "$1"; then
            echo "uninstall: removed $1"
        else
            echo "uninstall: error: could not remove $1" >&2
            failed=1
        fi
    fi
}

if launchctl print "system/$label" >/dev/null 2>&1; then
    echo "uninstall: stopping the daemon (system/$label)"
    if ! launchctl bootout "system/$label"; then
        echo "uninstall: error: launchctl bootout failed; nothing removed" >&2
        exit 1
    fi
fi

remove "$root/Library/LaunchDaemons/$label.plist"
remove "$root/usr/local/bin/agent"
remove "$root/var/run/$label.sock"
remove "$root/Applications/Endpoint Self Service.app"
remove "$support/uninstall.sh"
remove "$support/config.d/00-package.plist"
# The drop-in folder goes too when the pin was all it held (an admin's fragments stay).
if [ -d "$support/config.d" ] && [ ! -L "$support/config.d" ] && rmdir "$support/config.d" 2>/dev/null; then
    echo "uninstall: removed $support/config.d"
fi

if command -v pkgutil >/dev/null 2>&1; then
    if pkgutil --volume "${root:-/}" --forget "$label" >/dev/null 2>&1; then
        echo "uninstall: forgot the package receipt $label"
    fi
fi

if [ "$purge" = true ]; then
    remove "$support"
    remove "$root/Library/Logs/EndpointAgent"
else
    echo "uninstall: kept the configuration, state and logs (--purge removes them)"
fi

exit "$failed"

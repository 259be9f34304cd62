#!/usr/bin/env bash
# Install the Debian 12 packages needed to build and test libmqttproto.
# Quick and silent when everything is already installed; as root it installs
# what is missing with apt-get, otherwise it prints the command and stops.
set -euo pipefail

# The one list of required packages. Add new dependencies here.
PACKAGES=(
    meson
    ninja-build
    gcc
    g++
    clang
    libclang-rt-14-dev
    libcmocka-dev
    pkg-config
    clang-format
    gcovr
    valgrind
    binutils
    mosquitto
    libuv1-dev
    libsqlite3-dev
    libssl-dev
    mosquitto-clients
    python3
    python3-paho-mqtt
    libwslay-dev
    openssl
    # CI's hardening stages: scan-build, and the -m32 build with its cmocka.
    clang-tools
    gcc-multilib
    g++-multilib
    libcmocka-dev:i386
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    # One line per installed architecture of the package (amd64 and i386).
    status=$(dpkg-query -W -f='${db:Status-Status}\n' "$pkg" 2>/dev/null || true)
    if ! grep -qx installed <<<"$status"; then
        missing+=("$pkg")
    fi
done

# MQTT.js for the broker's interop test, from the npm registry into
# build-npm/ (never fails: the test is skipped without it).
"$(dirname "$0")/setup-npm.sh" || true

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "setup-deps: missing packages: ${missing[*]}"
# An :i386 package needs the i386 architecture enabled first.
add_i386=false
case " ${missing[*]}" in
*:i386*) dpkg --print-foreign-architectures | grep -qx i386 || add_i386=true ;;
esac
if [ "$(id -u)" -ne 0 ]; then
    echo "setup-deps: not running as root; install them with:" >&2
    if [ "$add_i386" = true ]; then
        echo "  sudo dpkg --add-architecture i386" >&2
    fi
    echo "  sudo apt-get update" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

if [ "$add_i386" = true ]; then
    dpkg --add-architecture i386
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
"$(dirname "$0")/setup-npm.sh" || true

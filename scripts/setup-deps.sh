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
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
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
if [ "$(id -u)" -ne 0 ]; then
    echo "setup-deps: not running as root; install them with:" >&2
    echo "  sudo apt-get update" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

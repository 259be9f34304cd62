#!/usr/bin/env bash
# Install MQTT.js (npm package mqtt, version 5) into build-npm/ (ignored by
# git) for the interop test examples/broker/tests/test_mqttjs.py, which is
# skipped (exit 77) when it is not there. Quick when already installed.
# Never fails the set-up: without node, npm or the registry it says why
# and exits 0.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${MQTTPROTO_NPM_DIR:-$root/build-npm}

if [ -f "$dir/node_modules/mqtt/package.json" ]; then
    exit 0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup-npm: node or npm is missing (Debian: nodejs, npm); MQTT.js tests will be skipped" >&2
    exit 0
fi
mkdir -p "$dir"
if ! npm install --prefix "$dir" --no-audit --no-fund --loglevel=error mqtt@5 >&2; then
    echo "setup-npm: npm install mqtt@5 failed; MQTT.js tests will be skipped" >&2
fi
exit 0

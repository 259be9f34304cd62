#!/usr/bin/env bash
# Install what is missing, build libmqttproto in build/, and run the codec
# demonstration (examples/codec_demo.c).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-deps.sh
if [ ! -f build/build.ninja ]; then
    meson setup build
fi
meson compile -C build
echo
exec build/examples/codec_demo

#!/usr/bin/env bash
# Usage: with_certs.sh <gen_certs.sh> <program> [args...]
# Runs the program with MQTTPROTO_TEST_CERTS naming a temporary directory
# that gen_certs.sh filled with a throwaway CA and certificates; the
# directory is removed afterwards. Exit status: the program's.
set -euo pipefail
gen=$1
shift
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mqttproto-certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bash "$gen" "$tmp"
status=0
MQTTPROTO_TEST_CERTS=$tmp "$@" || status=$?
exit "$status"

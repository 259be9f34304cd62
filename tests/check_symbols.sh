#!/usr/bin/env bash
# Check the ABI surface of the shared library.
#
# Usage: check_symbols.sh <libmqttproto.so> <nm> [expected SONAME]
#
# Fails when the library exports a symbol outside the mqttproto_/MQTTPROTO_
# namespace, exports nothing at all, exports a mqttproto_ name that no public
# header declares, does not export a function a public header declares with
# MQTTPROTO_API, or lacks the expected SONAME (default libmqttproto.so.0).
set -uo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 <libmqttproto.so> <nm> [soname]" >&2
    exit 2
fi
lib=$1
nm=$2
soname=${3:-libmqttproto.so.0}
headers_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/include/mqttproto"

if [ ! -f "$lib" ]; then
    echo "FAIL: $lib does not exist"
    exit 1
fi

if ! nm_out=$("$nm" -D --defined-only "$lib"); then
    echo "FAIL: $nm -D --defined-only $lib failed"
    exit 1
fi

# Symbols a linker may define in any shared object; none of them is our API.
ignore_re='^(_init|_fini|_edata|_end|__bss_start|__bss_start__|__bss_end__|_bss_end__|__end__|__data_start|data_start|_IO_stdin_used)$'

exported=()
bad=()
while read -r name; do
    [ -n "$name" ] || continue
    name=${name%%@*}
    if [[ $name =~ $ignore_re ]]; then
        continue
    fi
    case "$name" in
    mqttproto_* | MQTTPROTO_*) exported+=("$name") ;;
    *) bad+=("$name") ;;
    esac
done < <(printf '%s\n' "$nm_out" | awk 'NF >= 3 { print $3 }' | sort -u)

status=0
if [ ${#bad[@]} -gt 0 ]; then
    echo "FAIL: symbols exported outside the mqttproto_/MQTTPROTO_ namespace:"
    printf '  %s\n' "${bad[@]}"
    status=1
fi
if [ ${#exported[@]} -eq 0 ]; then
    echo "FAIL: $lib exports no mqttproto_ symbol at all"
    exit 1
fi

# Names the public headers declare with MQTTPROTO_API. A declaration may
# wrap: collect lines from MQTTPROTO_API up to the first '(' or ';'.
declared=()
if [ -d "$headers_dir" ]; then
    while read -r name; do
        [ -n "$name" ] && declared+=("$name")
    done < <(awk '
        FNR == 1 { collecting = 0 }
        /^[[:space:]]*#/ { next }
        /^[[:space:]]*(extern[[:space:]]+)?MQTTPROTO_API/ { decl = ""; collecting = 1 }
        collecting {
            decl = decl " " $0
            if (decl ~ /[(;]/) {
                collecting = 0
                if (match(decl, /MQTTPROTO_API[^(;]*/)) {
                    head = substr(decl, RSTART, RLENGTH)
                    sub(/\[.*$/, "", head)
                    sub(/[[:space:]]+$/, "", head)
                    n = split(head, words, /[^A-Za-z0-9_]+/)
                    if (n > 0 && words[n] ~ /^mqttproto_/) print words[n]
                }
            }
        }' "$headers_dir"/*.h | sort -u)
else
    echo "FAIL: public headers not found in $headers_dir"
    status=1
fi

if [ ${#declared[@]} -gt 0 ]; then
    missing=$(comm -23 <(printf '%s\n' "${declared[@]}") <(printf '%s\n' "${exported[@]}"))
    if [ -n "$missing" ]; then
        echo "FAIL: declared with MQTTPROTO_API in a public header but not exported:"
        printf '%s\n' "$missing" | sed 's/^/  /'
        status=1
    fi
    extra=$(comm -13 <(printf '%s\n' "${declared[@]}") <(printf '%s\n' "${exported[@]}"))
    if [ -n "$extra" ]; then
        echo "FAIL: exported but declared in no public header (internal names must stay hidden):"
        printf '%s\n' "$extra" | sed 's/^/  /'
        status=1
    fi
else
    echo "FAIL: no MQTTPROTO_API declaration found in $headers_dir"
    status=1
fi

# The SONAME, so that programs bind to the ABI major version.
dynamic=""
if command -v readelf >/dev/null 2>&1; then
    dynamic=$(readelf -d "$lib" 2>/dev/null)
elif command -v objdump >/dev/null 2>&1; then
    dynamic=$(objdump -p "$lib" 2>/dev/null)
else
    echo "note: neither readelf nor objdump found; SONAME not checked"
fi
if [ -n "$dynamic" ]; then
    found=$(printf '%s\n' "$dynamic" | sed -n -e 's/.*Library soname: \[\(.*\)\].*/\1/p' \
        -e 's/^[[:space:]]*SONAME[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' | head -n 1)
    if [ "$found" != "$soname" ]; then
        echo "FAIL: SONAME is '${found}', expected '$soname'"
        status=1
    fi
fi

if [ "$status" -eq 0 ]; then
    echo "OK: ${#exported[@]} symbols exported, all mqttproto_/MQTTPROTO_ and declared;" \
        "SONAME $soname"
fi
exit "$status"

#!/usr/bin/env bash
# Build libmqttproto and run every test: what CI runs (.ci/run).
#
# Stages: a gcc build with -Werror and its tests, a clang build with
# AddressSanitizer and UndefinedBehaviorSanitizer (findings are fatal) and its
# tests, each libFuzzer target for FUZZ_SECONDS seconds (default 60), and the
# clang-format check. Every stage runs even when an earlier one fails; the
# last line printed is "N passed, N failed", counting every meson test case,
# one per fuzz target and one for the format check. The exit status is 0 only
# when nothing failed.
#
# Build directories (build-gcc, build-asan, build-fuzz) are wiped at the
# start of each run so that a stale configuration never hides a failure.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$(pwd)

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
# The libFuzzer targets CI must run; any other fuzz/corpus/<name>/ that has a
# matching executable in build-fuzz/fuzz/ is run too.
REQUIRED_FUZZ_TARGETS=(fuzz_decode fuzz_roundtrip fuzz_topic fuzz_client fuzz_broker_client
    fuzz_broker)

passed=0
failed=0
stage_results=()

heading()
{
    printf '\n========== %s ==========\n' "$*"
}

# record <stage> <passed> <failed>
record()
{
    passed=$((passed + $2))
    failed=$((failed + $3))
    stage_results+=("$(printf '%-34s %4d passed, %4d failed' "$1" "$2" "$3")")
}

finish()
{
    heading "Summary"
    local line
    for line in "${stage_results[@]}"; do
        echo "$line"
    done
    echo "$passed passed, $failed failed"
    if [ "$failed" -ne 0 ]; then
        exit 1
    fi
    exit 0
}

# Number on the meson test summary line that starts with <label>:, or 0.
summary_count()
{
    local label=$1 log=$2
    local n
    n=$(grep -E "^${label}:[[:space:]]+[0-9]+" "$log" | tail -n 1 | awk '{print $NF}')
    echo "${n:-0}"
}

# meson_stage <title> <builddir> <env assignments...> -- <meson setup args...>
meson_stage()
{
    local title=$1 dir=$2
    shift 2
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        envs+=("$1")
        shift
    done
    shift
    local setup_args=("$@")

    heading "$title: configure ($dir)"
    rm -rf "$dir"
    if ! env "${envs[@]}" meson setup "$dir" "${setup_args[@]}"; then
        echo "FAILED: meson setup $dir"
        record "$title (configure)" 0 1
        return
    fi

    heading "$title: build ($dir)"
    if ! meson compile -C "$dir"; then
        echo "FAILED: meson compile -C $dir"
        record "$title (build)" 0 1
        return
    fi

    heading "$title: meson test ($dir)"
    local log="$dir/test-summary.log"
    meson test -C "$dir" --print-errorlogs 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}

    local ok xfail fail xpass timeout
    ok=$(summary_count "Ok" "$log")
    xfail=$(summary_count "Expected Fail" "$log")
    fail=$(summary_count "Fail" "$log")
    xpass=$(summary_count "Unexpected Pass" "$log")
    timeout=$(summary_count "Timeout" "$log")
    local p=$((ok + xfail)) f=$((fail + xpass + timeout))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # meson failed without reporting a failed case (e.g. a build error).
        echo "FAILED: meson test -C $dir exited with $rc"
        f=1
    fi
    if [ $((p + f)) -eq 0 ]; then
        echo "FAILED: meson test -C $dir ran no tests"
        f=1
    fi
    record "$title (meson test)" "$p" "$f"
}

fuzz_stage()
{
    local dir=build-fuzz
    heading "Fuzzing: configure ($dir)"
    rm -rf "$dir"
    if ! env CC=clang CXX=clang++ meson setup "$dir" -Dfuzzing=true -Dbench=false \
        -Dexamples=false; then
        echo "FAILED: meson setup $dir"
        record "fuzzing (configure)" 0 ${#REQUIRED_FUZZ_TARGETS[@]}
        return
    fi
    heading "Fuzzing: build ($dir)"
    if ! meson compile -C "$dir"; then
        echo "FAILED: meson compile -C $dir"
        record "fuzzing (build)" 0 ${#REQUIRED_FUZZ_TARGETS[@]}
        return
    fi

    local targets=("${REQUIRED_FUZZ_TARGETS[@]}") c name t
    for c in fuzz/corpus/*/; do
        [ -d "$c" ] || continue
        name=$(basename "$c")
        case " ${targets[*]} " in
        *" $name "*) ;;
        *) [ -x "$dir/fuzz/$name" ] && targets+=("$name") ;;
        esac
    done

    for t in "${targets[@]}"; do
        heading "Fuzzing: $t for ${FUZZ_SECONDS}s"
        local exe="$dir/fuzz/$t"
        if [ ! -x "$exe" ]; then
            echo "FAILED: $exe was not built"
            record "fuzz $t" 0 1
            continue
        fi
        # libFuzzer adds new inputs to the corpus directory it is given:
        # give it a scratch copy so the checked-in corpus stays as it is.
        local scratch="$dir/scratch-corpus/$t" artifacts="$dir/artifacts/$t/"
        mkdir -p "$scratch" "$artifacts"
        if [ -d "fuzz/corpus/$t" ]; then
            cp -R "fuzz/corpus/$t/." "$scratch/"
        fi
        local log="$dir/$t.log" rc
        "$exe" -max_total_time="$FUZZ_SECONDS" -timeout=10 -artifact_prefix="$artifacts" \
            "$scratch" >"$log" 2>&1
        rc=$?
        if [ "$rc" -eq 0 ]; then
            tail -n 3 "$log"
            echo "OK: $t (log: $log)"
            record "fuzz $t" 1 0
        else
            tail -n 60 "$log"
            echo "FAILED: $t exited with $rc (log: $log, reproducers in $artifacts)"
            record "fuzz $t" 0 1
        fi
    done
}

heading "Dependencies"
if ! "$ROOT/scripts/setup-deps.sh"; then
    echo "FAILED: missing dependencies; nothing can be built"
    record "dependencies" 0 1
    finish
fi
echo "all required packages are installed"

# Sanitizer findings abort the process, so a test that trips one fails.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

meson_stage "gcc -Werror" build-gcc CC=gcc CXX=g++ -- --werror
meson_stage "clang asan+ubsan" build-asan CC=clang CXX=clang++ -- \
    -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all
fuzz_stage

heading "Format check (clang-format)"
if "$ROOT/scripts/check-format.sh"; then
    record "format check" 1 0
else
    record "format check" 0 1
fi

finish

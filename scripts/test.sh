#!/usr/bin/env bash
# Build libmqttproto and run every test: what CI runs (.ci/run).
#
# Stages: a gcc build with -Werror and its tests, a clang build with
# AddressSanitizer and UndefinedBehaviorSanitizer (findings are fatal) and its
# tests, the unit and fuzz replay tests of the gcc build under valgrind, a
# 32-bit (-m32) gcc build and its tests, a gcc coverage build whose unit and
# fuzz replay tests must cover src/ to COVERAGE_MIN_LINES and
# COVERAGE_MIN_BRANCHES percent (gcovr), the clang static analyzer
# (scan-build, any report fails), the libFuzzer targets sharing
# FUZZ_TOTAL_SECONDS (default 900; FUZZ_SECONDS sets each target's time
# instead), each from its checked-in corpus, whose growth is then reduced to
# the inputs that reach new code (minimize_corpus), and the clang-format
# check.
# Every stage runs even when an earlier one fails; the last line printed is
# "N passed, N failed", counting every meson test case, one per fuzz target
# and one each for the coverage floor, the analyzer and the format check. The
# exit status is 0 only when nothing failed.
#
# Build directories (build-gcc, build-asan, build-m32, build-coverage,
# build-scan, build-fuzz) are wiped at the start of each run so that a stale
# configuration never hides a failure.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$(pwd)

# A fixed fuzzing budget, shared evenly by the targets; FUZZ_SECONDS, when
# set, is each target's time instead. FUZZ_UPDATE_CORPUS=1 adds to each
# fuzz/corpus/<target>/ the inputs of the run that reach new code (see
# minimize_corpus); the files already there are kept.
FUZZ_TOTAL_SECONDS=${FUZZ_TOTAL_SECONDS:-900}
FUZZ_SECONDS=${FUZZ_SECONDS:-}
COVERAGE_MIN_LINES=95
COVERAGE_MIN_BRANCHES=90
# The libFuzzer targets CI must run; any other fuzz/corpus/<name>/ that has a
# matching executable in build-fuzz/fuzz/ is run too.
REQUIRED_FUZZ_TARGETS=(fuzz_decode fuzz_roundtrip fuzz_topic fuzz_client fuzz_broker_client
    fuzz_broker fuzz_broker_store)

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

    local per=$FUZZ_SECONDS
    if [ -z "$per" ]; then
        per=$((FUZZ_TOTAL_SECONDS / ${#targets[@]}))
        [ "$per" -ge 1 ] || per=1
    fi
    for t in "${targets[@]}"; do
        heading "Fuzzing: $t for ${per}s"
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
        "$exe" -max_total_time="$per" -timeout=10 -artifact_prefix="$artifacts" \
            "$scratch" >"$log" 2>&1
        rc=$?
        if [ "$rc" -eq 0 ]; then
            tail -n 3 "$log"
            if minimize_corpus "$exe" "$t" "$scratch" "$artifacts"; then
                echo "OK: $t (log: $log)"
                record "fuzz $t" 1 0
            else
                record "fuzz $t" 0 1
            fi
        else
            tail -n 60 "$log"
            echo "FAILED: $t exited with $rc (log: $log, reproducers in $artifacts)"
            record "fuzz $t" 0 1
        fi
    done
}

# minimize_corpus <exe> <target> <corpus> <artifacts>: keep every input
# checked in under fuzz/corpus/<target>/ (named seeds that say what they
# exercise, regress-* inputs that once found a bug) and add from the corpus
# the run grew only inputs that reach code none of those reaches. libFuzzer's
# merge into a directory keeps all that it already holds, so that directory
# starts as a copy of the checked-in corpus; -set_cover_merge=1 picks few
# inputs for the new coverage, and -use_counters=0 counts edges only (with
# hit counts, inputs that differ only in how often a loop runs would add
# thousands of files). With FUZZ_UPDATE_CORPUS=1 the added inputs (named by
# the SHA-1 of their bytes) are copied to fuzz/corpus/<target>/; nothing
# there is removed or changed.
minimize_corpus()
{
    local exe=$1 t=$2 corpus=$3 artifacts=$4
    local src="fuzz/corpus/$t" min="build-fuzz/min-corpus/$t" log="build-fuzz/$t.merge.log"
    rm -rf "$min"
    mkdir -p "$min"
    if [ -d "$src" ]; then
        cp -R "$src/." "$min/"
    fi
    local kept
    kept=$(find "$min" -type f | wc -l)
    if ! "$exe" -set_cover_merge=1 -use_counters=0 -timeout=10 -artifact_prefix="$artifacts" \
        "$min" "$corpus" >"$log" 2>&1; then
        tail -n 30 "$log"
        echo "FAILED: minimizing the corpus of $t (log: $log, reproducers in $artifacts)"
        return 1
    fi
    local added=() f
    for f in "$min"/*; do
        [ -f "$f" ] || continue
        [ -e "$src/$(basename "$f")" ] || added+=("$f")
    done
    echo "corpus of $t: $(find "$corpus" -type f | wc -l) inputs after fuzzing; the $kept" \
        "checked-in ones kept, ${#added[@]} added for new coverage ($min)"
    if [ "${FUZZ_UPDATE_CORPUS:-0}" = 1 ] && [ ${#added[@]} -gt 0 ]; then
        mkdir -p "$src"
        cp "${added[@]}" "$src/"
        echo "$src: ${#added[@]} inputs added, $(find "$src" -type f | wc -l) files"
    fi
}

# meson_test_record <title> <builddir> <meson test args...>: run the tests of
# a build directory and record their counts, as meson_stage does.
meson_test_record()
{
    local title=$1 dir=$2
    shift 2
    local log="$dir/test-summary-$(echo "$title" | tr -c 'a-zA-Z0-9\n' '-').log"
    meson test -C "$dir" --print-errorlogs "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local ok xfail fail xpass timeout
    ok=$(summary_count "Ok" "$log")
    xfail=$(summary_count "Expected Fail" "$log")
    fail=$(summary_count "Fail" "$log")
    xpass=$(summary_count "Unexpected Pass" "$log")
    timeout=$(summary_count "Timeout" "$log")
    local p=$((ok + xfail)) f=$((fail + xpass + timeout))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAILED: meson test -C $dir $* exited with $rc"
        f=1
    fi
    if [ $((p + f)) -eq 0 ]; then
        echo "FAILED: meson test -C $dir $* ran no tests"
        f=1
    fi
    record "$title (meson test)" "$p" "$f"
}

# The unit and fuzz replay tests of the gcc build under valgrind's memcheck
# (meson.build's valgrind setup; it sets MQTTPROTO_TEST_QUICK, which makes
# the exhaustive loops of three tests sample).
valgrind_stage()
{
    local dir=build-gcc
    heading "valgrind: meson test --setup=valgrind ($dir)"
    if [ ! -f "$dir/build.ninja" ] || ! meson compile -C "$dir" >/dev/null; then
        echo "FAILED: $dir is not built"
        record "valgrind (build)" 0 1
        return
    fi
    meson_test_record "valgrind" "$dir" --setup=valgrind --suite unit --suite fuzz
}

# A gcc build with coverage; its unit and fuzz replay tests must cover src/
# to the floors. The report is printed; the HTML one, line by line, is in
# build-coverage/coverage-html/.
coverage_stage()
{
    local dir=build-coverage
    heading "Coverage: configure ($dir)"
    rm -rf "$dir"
    if ! env CC=gcc CXX=g++ meson setup "$dir" -Db_coverage=true -Dbench=false -Dexamples=false; then
        echo "FAILED: meson setup $dir"
        record "coverage (configure)" 0 1
        return
    fi
    heading "Coverage: build ($dir)"
    if ! meson compile -C "$dir"; then
        echo "FAILED: meson compile -C $dir"
        record "coverage (build)" 0 1
        return
    fi
    heading "Coverage: meson test ($dir)"
    meson_test_record "coverage" "$dir" --suite unit --suite fuzz
    heading "Coverage of src/ (floors: ${COVERAGE_MIN_LINES}% of lines," \
        "${COVERAGE_MIN_BRANCHES}% of branches)"
    mkdir -p "$dir/coverage-html"
    if gcovr -r "$ROOT" "$dir" --filter src/ --txt --print-summary \
        --html-details "$dir/coverage-html/index.html" \
        --fail-under-line "$COVERAGE_MIN_LINES" --fail-under-branch "$COVERAGE_MIN_BRANCHES"; then
        record "coverage floor" 1 0
    else
        echo "FAILED: coverage of src/ under the floor (lines and branches of each file:" \
            "$dir/coverage-html/index.html)"
        record "coverage floor" 0 1
    fi
}

# The clang static analyzer over a fresh build of everything (the library,
# the tests, the fuzz targets' replays); a single report fails the stage.
scan_stage()
{
    local dir=build-scan scan
    scan=$(command -v scan-build || command -v scan-build-14 || true)
    heading "Static analyzer: configure ($dir)"
    if [ -z "$scan" ]; then
        echo "FAILED: scan-build not found (Debian: clang-tools)"
        record "static analyzer" 0 1
        return
    fi
    rm -rf "$dir"
    if ! "$scan" --use-cc=clang --use-c++=clang++ meson setup "$dir" -Dbench=false \
        -Dexamples=false; then
        echo "FAILED: scan-build meson setup $dir"
        record "static analyzer (configure)" 0 1
        return
    fi
    heading "Static analyzer: scan-build meson compile ($dir)"
    if "$scan" --use-cc=clang --use-c++=clang++ --status-bugs -o "$dir/report" \
        meson compile -C "$dir"; then
        record "static analyzer" 1 0
    else
        echo "FAILED: scan-build: reports in $dir/report/ (scan-view opens them), or the build failed"
        record "static analyzer" 0 1
    fi
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
valgrind_stage
meson_stage "gcc -m32" build-m32 CC="gcc -m32" CXX="g++ -m32" \
    PKG_CONFIG_LIBDIR=/usr/lib/i386-linux-gnu/pkgconfig:/usr/share/pkgconfig -- --werror \
    -Dbench=false -Dexamples=false
coverage_stage
scan_stage
fuzz_stage

heading "Format check (clang-format)"
if "$ROOT/scripts/check-format.sh"; then
    record "format check" 1 0
else
    record "format check" 0 1
fi

finish

#!/usr/bin/env bash
# Check that every C/C++ source of the project is formatted as .clang-format
# says. Exits 1 and lists the files that differ; fix them with
#   clang-format -i <file>...
#
# Files: *.c, *.h and *.cpp under include, src, tests, fuzz, bench and
# examples. In a git tree these are the files git knows of: tracked ones and
# untracked ones that .gitignore does not exclude (so a new file is checked
# before its first commit, and build directories never are). Elsewhere, find.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Formatting differs between clang-format releases; the style is pinned to 14.
if [ -z "${CLANG_FORMAT:-}" ]; then
    if command -v clang-format-14 >/dev/null 2>&1; then
        CLANG_FORMAT=clang-format-14
    else
        CLANG_FORMAT=clang-format
    fi
fi
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
    echo "check-format: $CLANG_FORMAT not found (apt-get install clang-format)" >&2
    exit 1
fi
version=$("$CLANG_FORMAT" --version)
case "$version" in
*"version 14."*) ;;
*) echo "check-format: warning: expected clang-format 14, found: $version" >&2 ;;
esac

dirs=(include src tests fuzz bench examples)
files=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    while IFS= read -r -d '' f; do
        case "$f" in
        *.c | *.h | *.cpp) [ -f "$f" ] && files+=("$f") ;;
        esac
    done < <(git ls-files -z --cached --others --exclude-standard -- "${dirs[@]}" | sort -zu)
else
    existing=()
    for d in "${dirs[@]}"; do
        [ -d "$d" ] && existing+=("$d")
    done
    if [ ${#existing[@]} -gt 0 ]; then
        while IFS= read -r -d '' f; do
            files+=("$f")
        done < <(find "${existing[@]}" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) \
            -print0 | sort -z)
    fi
fi

if [ ${#files[@]} -eq 0 ]; then
    echo "check-format: no source files found" >&2
    exit 1
fi

bad=0
for f in "${files[@]}"; do
    if ! "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1; then
        lines=$("$CLANG_FORMAT" "$f" | diff "$f" - | grep -c '^>' || true)
        echo "needs formatting: $f ($lines lines differ)"
        bad=$((bad + 1))
    fi
done

if [ "$bad" -ne 0 ]; then
    echo "check-format: $bad of ${#files[@]} files are not formatted; run: $CLANG_FORMAT -i <file>..."
    exit 1
fi
echo "check-format: all ${#files[@]} files are formatted"

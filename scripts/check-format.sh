#!/usr/bin/env bash
# Checks that every C source and header in git is formatted as .clang-format
# says (clang-format 14, Debian's, as CI installs it), and the whitespace
# rules of .editorconfig that no formatter enforces: LF line ends, a final
# newline, no trailing blanks (except where .editorconfig allows them).
#
#   scripts/check-format.sh         # check; lists the files that differ
#   scripts/check-format.sh --fix   # rewrite the C files in place
#
# Files listed in .clang-format-ignore (one glob per line, # comments; the
# name clang-format 18 gives the same idea) are left to their own layout.
#
# Exits 1 on any difference, 2 if clang-format is missing or not version 14.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
fix=false
[ "${1:-}" = "--fix" ] && fix=true

if ! command -v "$CLANG_FORMAT" >/dev/null; then
    echo "check-format: $CLANG_FORMAT not found (apt-get install clang-format)" >&2
    exit 2
fi
version=$("$CLANG_FORMAT" --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
if [ "$version" != 14 ]; then
    echo "check-format: $CLANG_FORMAT is version ${version:-unknown}, the style is fixed with 14 (Debian's clang-format)" >&2
    exit 2
fi

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t c_files < <(git ls-files '*.c' '*.h')
    mapfile -t text_files < <(git ls-files | grep -vE '^(Tests/Conformance/|fuzz/regressions/)')
else
    mapfile -t c_files < <(find . -path ./.build -prune -o -name '*.[ch]' -print | sed 's|^\./||')
    text_files=("${c_files[@]}")
fi

# .clang-format-ignore: globs of C files whose layout is deliberate.
ignored() { # FILE
    local pattern
    [ -f .clang-format-ignore ] || return 1
    while IFS= read -r pattern; do
        pattern=${pattern%%#*}
        pattern=${pattern%"${pattern##*[![:space:]]}"}
        [ -n "$pattern" ] || continue
        # shellcheck disable=SC2053 # the pattern is a glob on purpose
        [[ $1 == $pattern ]] && return 0
    done <.clang-format-ignore
    return 1
}
kept=()
for f in "${c_files[@]}"; do
    ignored "$f" || kept+=("$f")
done
c_files=("${kept[@]}")

# The checker must be able to fail: a badly laid out function is reported.
if printf 'int  f( void ){return 0;}\n' |
    "$CLANG_FORMAT" --assume-filename=probe.c --dry-run -Werror >/dev/null 2>&1; then
    echo "check-format: clang-format accepts a badly formatted probe; is .clang-format read?" >&2
    exit 1
fi

if $fix; then
    "$CLANG_FORMAT" -i "${c_files[@]}"
    echo "check-format: formatted ${#c_files[@]} C files"
    exit 0
fi

bad=0
for f in "${c_files[@]}"; do
    if ! "$CLANG_FORMAT" --dry-run -Werror "$f" >/dev/null 2>&1; then
        n=$("$CLANG_FORMAT" "$f" | diff "$f" - | grep -c '^<' || true)
        echo "!! $f: $n lines differ from .clang-format (scripts/check-format.sh --fix)"
        bad=$((bad + 1))
    fi
done

for f in "${text_files[@]}"; do
    [ -f "$f" ] && [ -s "$f" ] || continue
    grep -Iq . "$f" || continue # binary
    if grep -q $'\r' "$f"; then
        echo "!! $f: CR line ends (.editorconfig: end_of_line = lf)"
        bad=$((bad + 1))
    fi
    if [ -n "$(tail -c 1 "$f")" ]; then
        echo "!! $f: no final newline (.editorconfig: insert_final_newline)"
        bad=$((bad + 1))
    fi
    case $f in
    *.md | Tests/PageWalkTests/ImportRecordedTests.swift) continue ;;
    esac
    if line=$(grep -nE '[[:blank:]]+$' "$f" | head -n 1 | cut -d: -f1) && [ -n "$line" ]; then
        echo "!! $f:$line: trailing blanks (.editorconfig: trim_trailing_whitespace)"
        bad=$((bad + 1))
    fi
done

if [ "$bad" -ne 0 ]; then
    echo "check-format: $bad problems"
    exit 1
fi
echo "check-format: ${#c_files[@]} C files formatted, ${#text_files[@]} files clean"

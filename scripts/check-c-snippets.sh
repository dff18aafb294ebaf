#!/usr/bin/env bash
# Compiles every C snippet (```c blocks) of the README, docs/ and the DocC catalog under
# -std=c11 -Wall -Wextra -Werror against include/ and the C core; a snippet with a main() is
# linked and run too (it must exit 0). A snippet that is not a whole program is compiled
# alone with -c. Prints one line per snippet and "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
core=$(ls CWalkCore/*.c)
passed=0 failed=0
for doc in README.md docs/*.md Sources/*/*.docc/*.md; do
    [ -f "$doc" ] || continue
    awk -v out="$work/$(echo "$doc" | tr '/.' '__')" -v doc="$doc" '
        /^```c[[:space:]]*$/ { n++; file = out "_" n ".c"; inblock = 1; start = NR + 1; next }
        /^```/ && inblock { inblock = 0; print doc ":" start > (file ".where"); close(file); close(file ".where"); next }
        inblock { print > file }
    ' "$doc"
done
for snippet in "$work"/*.c; do
    [ -f "$snippet" ] || continue
    name=$(basename "$snippet" .c)
    where=$(cat "$snippet.where")
    if grep -q 'int main(' "$snippet"; then
        # shellcheck disable=SC2086
        if "$CC" -std=c11 -Wall -Wextra -Werror -I include $core "$snippet" -o "$work/$name" 2> "$work/$name.err" \
            && "$work/$name"; then
            echo "ok   $where (built and ran)"
            passed=$((passed + 1))
        else
            echo "FAIL $where:"; sed 's/^/    /' "$work/$name.err"
            failed=$((failed + 1))
        fi
    elif "$CC" -std=c11 -Wall -Wextra -Werror -I include -c "$snippet" -o "$work/$name.o" 2> "$work/$name.err"; then
        echo "ok   $where (compiled)"
        passed=$((passed + 1))
    else
        echo "FAIL $where:"; sed 's/^/    /' "$work/$name.err"
        failed=$((failed + 1))
    fi
done
echo "snippets: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

#!/usr/bin/env bash
# Checks the library's linked symbols (scripts/check-symbols.sh), then
# builds and runs every Tests/c/*_tests.c with address and undefined-
# behaviour sanitizers.  Each prints "N passed, M failed" last; this prints
# the sum last and exits non-zero if any test or build failed.
set -uo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-$(command -v /opt/swift/usr/bin/clang || command -v clang)}
OUT=${OUT:-.build/c-tests}
mkdir -p "$OUT"
passed=0
failed=0
echo "== check-symbols"
if CC="$CC" bash scripts/check-symbols.sh; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi
for src in Tests/c/*_tests.c; do
    name=$(basename "$src" .c)
    echo "== $name"
    if ! "$CC" -std=c11 -Wall -Wextra -Werror -g -O1 -fsanitize=address,undefined \
        -fno-sanitize-recover=all -I include -I Sources/CScenario/include -I CWalkImage/include \
        CWalkCore/*.c Sources/CScenario/*.c CWalkImage/*.c "$src" -o "$OUT/$name" \
        2>"$OUT/$name.build.log"; then
        grep -v "Cannot export local symbol" "$OUT/$name.build.log"
        echo "!! $name does not build"
        failed=$((failed + 1))
        continue
    fi
    "$OUT/$name" >"$OUT/$name.log" 2>&1
    status=$?
    grep -v '^ok ' "$OUT/$name.log" | tail -n 20
    last=$(tail -n 1 "$OUT/$name.log")
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
        [ "$status" -eq 0 ] || [ "${BASH_REMATCH[2]}" -ne 0 ] || failed=$((failed + 1))
    else
        echo "!! $name ended without a summary line (status $status)"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

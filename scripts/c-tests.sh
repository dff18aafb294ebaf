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
. scripts/test-tally.sh
echo "== check-symbols"
if CC="$CC" bash scripts/check-symbols.sh; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi
for src in Tests/c/*_tests.c; do
    name=$(basename "$src" .c)
    tally_build "$name" "$OUT/$name" -std=c11 -Wall -Wextra -Werror -g -O1 -fsanitize=address,undefined \
        -fno-sanitize-recover=all -I include -I Sources/CScenario/include -I CWalkImage/include \
        CWalkCore/*.c Sources/CScenario/*.c CWalkImage/*.c "$src" || continue
    tally_run "$name" "$OUT/$name"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

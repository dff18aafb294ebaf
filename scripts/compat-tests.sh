#!/usr/bin/env bash
# The kernel-compatibility layer's tests (docs/KERNEL-CLIENTS.md), under
# ASan/UBSan: the vocabulary test (a kernel-style file including every
# header name), PageWalk's kernel-style clients over a simulated machine,
# and, where /proc allows (root), the same clients against the running
# kernel on live memory.  Each test prints "N passed, M failed" last; this
# prints the sum last and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-$(command -v /opt/swift/usr/bin/clang || command -v clang || command -v cc)}
OUT=${OUT:-.build/compat-tests}
SAN="-g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all"
mkdir -p "$OUT/clients"
. scripts/test-tally.sh

# The clients: kernel-style files, built as kernel files are.
for src in KernelClients/*.c; do
    tally_build "$(basename "$src" .c)" "$OUT/clients/$(basename "$src" .c).o" \
        -std=gnu11 -Wall -Wextra -Werror $SAN -I compat -I include -I KernelClients/include -c "$src" || true
done

tally_build vocab_tests "$OUT/vocab_tests" -std=gnu11 -Wall -Wextra -Werror $SAN \
    -I compat -I include -I Tests/compat Tests/compat/vocab_tests.c CWalkCore/*.c &&
    tally_run vocab_tests "$OUT/vocab_tests"

for t in clients_sim_tests clients_live_tests; do
    [ -f "Tests/compat/$t.c" ] || continue
    tally_build "$t" "$OUT/$t" -std=gnu11 -Wall -Wextra -Werror $SAN -I include -I KernelClients/include \
        -I Tests/compat "Tests/compat/$t.c" CWalkCore/*.c "$OUT"/clients/*.o &&
        tally_run "$t" "$OUT/$t"
done

# A client as a shared object, loaded by a C program over a machine it built.
echo "== kernel client shared object (Examples/kernel-client)"
if tally_build count_client "$OUT/count_client.so" -std=gnu11 -Wall -Wextra -Werror $SAN -shared -fPIC \
        -I compat -I include Examples/kernel-client/count_client.c &&
    tally_build run_client "$OUT/run_client" -std=c11 -Wall -Wextra -Werror $SAN -rdynamic -I include -I compat \
        CWalkCore/*.c Examples/kernel-client/run_client.c -ldl; then
    if "$OUT/run_client" "$OUT/count_client.so" "$OUT/count_client.out" &&
        grep -qx "400000-c00000 pte 8 thp 512 swap 0 guard 0 anon 520 maxmap 2" "$OUT/count_client.out" &&
        grep -qx "total 520" "$OUT/count_client.out"; then
        passed=$((passed + 1))
    else
        echo "!! run_client: unexpected output"; cat "$OUT/count_client.out" 2>/dev/null
        failed=$((failed + 1))
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

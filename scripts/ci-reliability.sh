#!/usr/bin/env bash
# The reliability checks in their short forms, for CI (about 2.5 minutes on
# 2 cores; see docs/RELIABILITY.md for the long forms):
#   1. Tests/c/*_tests.c with ASan + UBSan (alloc failure, garbage tables,
#      misuse, a short stress run)           scripts/c-tests.sh
#   2. the stress test under ThreadSanitizer (gcc), 10 s
#   3. both fuzzers: every input in fuzz/regressions/ replayed, then 60 s
#      of fuzzing each                        scripts/fuzz.sh 120
# Prints "N passed, M failed" last; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
step() { # NAME COMMAND...
    local name=$1
    shift
    echo "== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        echo "!! $name failed"
        failed=$((failed + 1))
    fi
}

tsan_stress() {
    local out=.build/c-tests
    mkdir -p "$out"
    gcc -std=c11 -O1 -g -fsanitize=thread -pthread -Wall -Wextra -Werror \
        -I include CWalkCore/*.c Tests/c/stress_tests.c -o "$out/stress_tsan" || return 1
    # TSan exits 66 on any report; the test itself exits 1 on a failure.
    STRESS_SECONDS=${STRESS_SECONDS:-10} TSAN_OPTIONS=halt_on_error=1 \
        "$out/stress_tsan" >"$out/stress_tsan.log" 2>&1
    local status=$?
    grep -E "^(writers:|FAIL|SUMMARY)|passed, .* failed$" "$out/stress_tsan.log"
    return $status
}

step "C tests (ASan, UBSan)" scripts/c-tests.sh
step "stress under ThreadSanitizer" tsan_stress
# A fixed seed keeps CI repeatable; long runs (scripts/fuzz.sh) use fresh seeds.
step "fuzzers: regressions, then 60 s each" env FUZZ_SEED="${FUZZ_SEED:-1}" scripts/fuzz.sh "${FUZZ_SECONDS:-120}"

echo "reliability: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

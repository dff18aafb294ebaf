#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ and runs them for SECONDS in all
# (split between the walk and scenario fuzzers; the image parser's and
# the snapshot loader's fuzzers run a sixth of that each, on top), with address and undefined-behaviour sanitizers.
# Exits non-zero on any finding (crash, sanitizer report, hang, leak).
#
#   scripts/fuzz.sh 60          # one minute in all
#   scripts/fuzz.sh 0           # build, and replay fuzz/regressions/ only
#   FUZZ_JOBS=2 scripts/fuzz.sh 1800
#   FUZZ_SEED=1 scripts/fuzz.sh 120  # a fixed seed: the same inputs every run (CI)
#
# Findings land in fuzz/out/ (crash-*, timeout-*, leak-*); the growing
# corpora in fuzz/out/corpus-*.  Nothing under fuzz/out is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TOTAL=${1:-60}
CLANG=${CLANG:-$(command -v /opt/swift/usr/bin/clang || command -v clang)}
OUT=fuzz/out
mkdir -p "$OUT" "$OUT/corpus-walk" "$OUT/corpus-scenario" "$OUT/corpus-image" "$OUT/corpus-snapshot" fuzz/corpus-scenario

build() {
    "$CLANG" -std=c11 -Wall -Wextra -Werror -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=all -fuse-ld=lld -I include \
        -I Sources/CScenario/include CWalkCore/*.c Sources/CScenario/*.c \
        "fuzz/$1.c" -o "$OUT/$1"
}
build fuzz_walk
build fuzz_scenario
# The memory-image parser (CWalkImage): ELF cores, notes, raw images.
"$CLANG" -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -fuse-ld=lld -I include -I CWalkImage/include \
    CWalkImage/*.c CWalkCore/*.c fuzz/fuzz_image.c -o "$OUT/fuzz_image"
# The snapshot loader (CWalkImage/snapshot.c), checksums fixed up by the harness.
"$CLANG" -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -fuse-ld=lld -I include -I CWalkImage/include \
    CWalkImage/*.c CWalkCore/*.c fuzz/fuzz_snapshot.c -o "$OUT/fuzz_snapshot"

# Every input that once found a bug must now pass (each run once).
replay() { # NAME DIR
    local files=("fuzz/regressions/$2"/*)
    [ -e "${files[0]}" ] || return 0
    if ! ASAN_OPTIONS=detect_leaks=1 "$OUT/$1" -timeout=20 "${files[@]}" \
        >"$OUT/$1-regressions.log" 2>&1; then
        echo "!! $1: a regression input fails again: see $OUT/$1-regressions.log"
        exit 1
    fi
    echo "== $1: ${#files[@]} regression inputs pass"
}
replay fuzz_walk walk
replay fuzz_scenario scenario
replay fuzz_image image
replay fuzz_snapshot snapshot
[ "$SECONDS_TOTAL" -gt 0 ] || exit 0

# Seed corpus for the scenario fuzzer: a few small conformance cases,
# copied at build time (not kept in git).
for f in $(ls -S -r Tests/Conformance/cases/*/*.scn | head -40); do
    cp "$f" "fuzz/corpus-scenario/$(echo "$f" | tr / _)"
done

half=$(( SECONDS_TOTAL / 2 ))
[ "$half" -ge 1 ] || half=1
status=0
run() { # NAME SECONDS CORPUS...
    local name=$1 secs=$2
    shift 2
    echo "== $name for ${secs}s"
    if ! ( cd "$OUT" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        "./$name" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 ${FUZZ_SEED:+-seed=$FUZZ_SEED} \
        -max_len="${MAX_LEN:-4096}" -print_final_stats=1 "$@" ) >"$OUT/$name.log" 2>&1; then
        echo "!! $name found something: see $OUT/$name.log and $OUT/crash-* / timeout-*"
        status=1
    fi
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$OUT/$name.log" || true
    tail -n 3 "$OUT/$name.log" | grep -v '^stat::' || true
}
run fuzz_walk "$half" corpus-walk ../regressions/walk
run fuzz_scenario "$half" corpus-scenario ../corpus-scenario ../regressions/scenario
# The image parser on top of the split: FUZZ_IMAGE_SECONDS (default a
# sixth of the total, at least 10 s).
image_secs=${FUZZ_IMAGE_SECONDS:-$(( SECONDS_TOTAL / 6 > 10 ? SECONDS_TOTAL / 6 : 10 ))}
MAX_LEN=65536 run fuzz_image "$image_secs" corpus-image ../regressions/image
MAX_LEN=8192 run fuzz_snapshot "$image_secs" corpus-snapshot ../regressions/snapshot
exit $status

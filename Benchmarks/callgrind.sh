#!/usr/bin/env bash
# Instructions executed by one path of one workload, counted by callgrind
# inside the timed loop only (repeatable on a noisy machine).
#   Benchmarks/callgrind.sh WORKLOAD PATH [RUNS] [extra pagewalk-bench options]
# e.g. Benchmarks/callgrind.sh dense-1GiB b 3
# Prints instructions per run and per entry.  valgrind 3.19 cannot read the
# DWARF 5 debug info of the release build, so a stripped copy is profiled.
set -euo pipefail
cd "$(dirname "$0")/.."
workload=$1 path=$2 runs=${3:-3}; shift $(( $# < 3 ? $# : 3 ))
swift build -c release --product pagewalk-bench >/dev/null
bin=$(mktemp /tmp/pagewalk-bench.XXXXXX)
out=$(mktemp /tmp/callgrind.XXXXXX)
objcopy --strip-debug .build/release/pagewalk-bench "$bin"
valgrind --tool=callgrind --callgrind-out-file="$out" --collect-atstart=no \
    --toggle-collect='$s14pagewalk_bench7measure*' \
    "$bin" --workload "$workload" --path "$path" --runs "$runs" --warmup 0 --json "$@" \
    > "$out.json" 2>/dev/null
ir=$(awk '/^summary:/ { print $2 }' "$out")
entries=$(sed -n 's/.*"entries": \([0-9]*\).*/\1/p' "$out.json" | head -1)
echo "$workload ($path): $((ir / runs)) instructions per run, $(awk -v i="$ir" -v r="$runs" -v e="$entries" 'BEGIN { printf "%.1f", i / r / e }') per entry (callgrind: $out)"
rm -f "$bin" "$out.json"

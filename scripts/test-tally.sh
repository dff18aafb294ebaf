# Sourced by the C test scripts (c-tests.sh, compat-tests.sh): builds and runs
# test programs that print "N passed, M failed" last, and sums them into
# $passed and $failed.  Needs $CC and $OUT set by the caller.
passed=0
failed=0

# tally_build NAME OUTPUT ARGS...: compiles with $CC; a failure is counted
# and its diagnostics shown.
tally_build() {
    local name=$1 out=$2
    shift 2
    if ! "$CC" "$@" -o "$out" 2>"$OUT/$name.build.log"; then
        grep -v "Cannot export local symbol" "$OUT/$name.build.log"
        echo "!! $name does not build"
        failed=$((failed + 1))
        return 1
    fi
}

# tally_run NAME BINARY: runs it, shows what is not "ok", adds its summary
# line; a non-zero exit with no failure counted, or no summary line at all,
# counts as one failure.
tally_run() {
    local name=$1 status last
    echo "== $name"
    "$2" >"$OUT/$name.log" 2>&1
    status=$?
    grep -v '^ok ' "$OUT/$name.log" | tail -n 25
    last=$(tail -n 1 "$OUT/$name.log")
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
        [ "$status" -eq 0 ] || [ "${BASH_REMATCH[2]}" -ne 0 ] || failed=$((failed + 1))
    else
        echo "!! $name ended without a summary line (status $status)"
        failed=$((failed + 1))
    fi
}

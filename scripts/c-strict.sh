#!/usr/bin/env bash
# The C habits CI holds every C file to (issue 9 item 5):
#   1. every C translation unit in the project (the core, the scenario
#      replayer, the benchmark's callbacks, the C tests, the fuzz targets,
#      the example) compiles as C11 with -Wall -Wextra -Werror under gcc
#      and clang;
#   2. every public header compiles as C++ (-x c++ -Wall -Wextra -Werror
#      -pedantic), alone, with the system's c++, and included from a C++
#      file with clang++;
#   3. every public header compiles alone as C11 with -pedantic.
# Prints one line per failure and "c-strict: N checks passed" last.
set -uo pipefail
cd "$(dirname "$0")/.."
GCC=${GCC:-gcc}
CLANG=${CLANG:-$(command -v /opt/swift/usr/bin/clang || command -v clang)}
CXX=${CXX:-c++}
CLANGXX=${CLANGXX:-$(command -v /opt/swift/usr/bin/clang++ || command -v clang++)}
OUT=${OUT:-.build/c-strict}
mkdir -p "$OUT"

INC=(-I include -I Sources/CScenario/include -I Benchmarks/CBenchCallbacks/include -I CWalkImage/include)
WARN=(-Wall -Wextra -Werror)
sources=(CWalkCore/*.c Sources/CScenario/*.c Benchmarks/CBenchCallbacks/*.c CWalkImage/*.c
    Tests/c/*.c fuzz/*.c Examples/c/*.c)
headers=(include/*.h Sources/CScenario/include/*.h CWalkImage/include/*.h
    Benchmarks/CBenchCallbacks/include/*.h)

passed=0
failed=0
check() { # DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >"$OUT/last.log" 2>&1; then
        passed=$((passed + 1))
    else
        echo "!! $what"
        sed 's/^/   /' "$OUT/last.log" | head -n 20
        failed=$((failed + 1))
    fi
}

for cc in "$GCC" "$CLANG"; do
    [ -n "$cc" ] || continue
    for src in "${sources[@]}"; do
        check "$src does not compile warning-free with $(basename "$cc")" \
            "$cc" -std=c11 "${WARN[@]}" "${INC[@]}" -c "$src" -o "$OUT/unit.o"
    done
done

for h in "${headers[@]}"; do
    check "$h does not compile as C++ ($CXX)" \
        "$CXX" -fsyntax-only -x c++ -std=c++11 "${WARN[@]}" -pedantic "${INC[@]}" "$h"
    if [ -n "$CLANGXX" ]; then
        check "$h does not compile as C++ when included ($(basename "$CLANGXX"))" \
            bash -c 'printf "#include \"%s\"\nint main() { return 0; }\n" "$1" |
                "$2" -x c++ -std=c++11 -Wall -Wextra -Werror -pedantic \
                -I include -I Sources/CScenario/include -I Benchmarks/CBenchCallbacks/include -I CWalkImage/include \
                -fsyntax-only -' _ "$(basename "$h")" "$CLANGXX"
    fi
    check "$h does not compile alone as C11" \
        "$GCC" -fsyntax-only -std=c11 "${WARN[@]}" -pedantic "${INC[@]}" "$h"
done

echo "c-strict: $passed checks passed, $failed failed"
[ "$failed" -eq 0 ]

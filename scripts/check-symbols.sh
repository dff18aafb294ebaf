#!/usr/bin/env bash
# Builds the C core (CWalkCore/*.c) into a static library and fails if it
# defines a global symbol that is neither pw_-prefixed nor one of the
# kernel's walk entry points; the scenario replayer (Sources/CScenario),
# linked beside it by the Swift package, must define pw_ symbols only.  Everything else the library offers under a
# kernel name (find_vma, spin_lock, ...) must be a static inline in
# include/pagewalk.h, so that PageWalk links beside code that defines the
# kernel's names itself (issue 9).
#
# Before judging the library it checks the checker: a throwaway object
# that defines an unprefixed function must be reported, and one that
# defines only allowed names must pass.  Prints the symbols it rejects, or
# "symbols: N defined, all pw_ or walk API" last.
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-cc}
NM=${NM:-nm}
OUT=${OUT:-.build/check-symbols}
rm -rf "$OUT"
mkdir -p "$OUT"

WALK_API='walk_page_range walk_page_range_mm walk_page_range_vma walk_page_vma
walk_page_mapping walk_kernel_page_table_range
walk_kernel_page_table_range_lockless walk_page_range_debug
folio_walk_start folio_walk_end'

# Prints the defined global symbols of the objects or archives given that
# are not allowed.  (nm -P: "name type value size"; lower-case types are
# local, and U is undefined.)
rejected() {
    "$NM" -P -g --defined-only "$@" 2>/dev/null |
        awk -v api="$WALK_API" '
            BEGIN { n = split(api, a, /[ \n]+/); for (i = 1; i <= n; i++) ok[a[i]] = 1 }
            NF >= 2 && $2 ~ /^[A-Z]$/ && $2 != "U" {
                s = $1
                if (s ~ /^pw_/ || (s in ok)) next
                print s
            }' | sort -u
}

# The checker must catch an unprefixed definition and pass a clean object.
printf 'int pw_fine(void) { return 0; }\nint walk_page_vma(void) { return 1; }\n' >"$OUT/good.c"
printf 'int pw_fine(void) { return 0; }\nvoid spin_lock(void *l) { (void)l; }\nint stray_data = 1;\n' >"$OUT/bad.c"
"$CC" -c "$OUT/good.c" -o "$OUT/good.o"
"$CC" -c "$OUT/bad.c" -o "$OUT/bad.o"
if [ -n "$(rejected "$OUT/good.o")" ]; then
    echo "!! check-symbols: the checker rejects an object with allowed names only" >&2
    exit 1
fi
if [ "$(rejected "$OUT/bad.o" | tr '\n' ' ')" != "spin_lock stray_data " ]; then
    echo "!! check-symbols: the checker misses unprefixed symbols in a test object" >&2
    exit 1
fi

# The library itself, built as an embedder would build it.
objs=()
for src in CWalkCore/*.c; do
    obj="$OUT/$(basename "$src" .c).o"
    "$CC" -std=c11 -O1 -c -I include "$src" -o "$obj"
    objs+=("$obj")
done
ar rcs "$OUT/libcwalkcore.a" "${objs[@]}"
"$CC" -std=c11 -O1 -c -I include -I Sources/CScenario/include \
    Sources/CScenario/scenario.c -o "$OUT/scenario.o"
if WALK_API='' rejected "$OUT/scenario.o" | grep .; then
    echo "!! check-symbols: Sources/CScenario defines the symbols above, not pw_" >&2
    exit 1
fi
bad=$(rejected "$OUT/libcwalkcore.a")
total=$("$NM" -P -g --defined-only "$OUT/libcwalkcore.a" 2>/dev/null |
    awk 'NF >= 2 && $2 ~ /^[A-Z]$/ && $2 != "U"' | wc -l)
if [ -n "$bad" ]; then
    echo "!! check-symbols: libcwalkcore.a defines symbols that are neither pw_ nor the walk API:" >&2
    echo "$bad" | sed 's/^/   /' >&2
    exit 1
fi
echo "symbols: $total defined, all pw_ or walk API"

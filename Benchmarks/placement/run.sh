#!/usr/bin/env bash
# Is the C core's speed independent of where the linker puts it?
#
# Links several copies of CWalkCore into one process (placement/driver.c):
# the same clang objects (SwiftPM's release flags) shifted by 0, 16, 32 and
# 48 bytes of padding, and the gcc build of the same sources; every symbol
# of a copy but its struct pl_core is made local, so the copies don't clash.
# The driver walks the dense workload with each copy, alternating copies run
# by run, and prints ns/PTE per copy and the spread (slowest / fastest).
#
#   Benchmarks/placement/run.sh [PAGES [RUNS [wall|cpu [json]]]]
#       default 262144 PTEs = 1 GiB, 21 runs, wall time; cpu: the thread's CPU
#       time (robust on a busy machine); json: one JSON object per copy
#   swift run -c release pagewalk-bench --placement   runs this and prints it
#   CORE_CFLAGS='...' Benchmarks/placement/run.sh  extra flags for every copy
#   BEFORE=REF Benchmarks/placement/run.sh         also copies with REF's pagewalk.c (before/after)
#
# Needs clang (the one SwiftPM uses), gcc, ld and objcopy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${PLACEMENT_OUT:-$(mktemp -d /tmp/pagewalk-placement.XXXXXX)}
mkdir -p "$out"
clang=${CLANG:-clang}
gcc=${GCC:-gcc}
# What SwiftPM passes to clang for a release C target (swift build -c release -v),
# plus the core's own alignment flags (Package.swift's cSettings, see docs/BENCHMARKS.md).
swiftpm_flags="-O2 -g -fno-omit-frame-pointer"
core_flags=${CORE_CFLAGS-}
sources=("$root"/CWalkCore/*.c)

# compile CC NAME FLAGS...: objects of the core and the shim in $out/NAME
compile() {
	local cc=$1 name=$2; shift 2
	local srcs=("${sources[@]}")
	if [[ $name == before* ]]; then
		mkdir -p "$out/before-src"
		git -C "$root" show "$BEFORE:CWalkCore/pagewalk.c" > "$out/before-src/pagewalk.c"
		srcs=("${sources[@]/*\/pagewalk.c/$out/before-src/pagewalk.c}")
	fi
	mkdir -p "$out/$name"
	for s in "${srcs[@]}"; do
		"$cc" -std=gnu11 "$@" -I "$root/include" -I "$root/CWalkCore" \
			-c "$s" -o "$out/$name/$(basename "$s" .c).o"
	done
	# The embedder's side (the callback) is always the same clang code.
	"$clang" -std=gnu11 $swiftpm_flags -I "$root/include" -DPL_COMPILER="\"$name\"" \
		-c "$here/shim.c" -o "$out/$name/shim.o"
}

# pad FILE BYTES: an object of BYTES bytes of code (int3), 64-byte aligned
pad() {
	printf '\t.section .note.GNU-stack,"",@progbits\n\t.text\n\t.p2align 6\n\t.skip %d, 0xcc\n' "$2" > "$1.s"
	"$clang" -c "$1.s" -o "$1.o"
}

# copy NAME CORE_PAD SHIM_PAD INDEX: one relocatable object of the core, its
# code shifted by CORE_PAD bytes, the shim's (the callback's) by SHIM_PAD
copy() {
	local name=$1 a=$2 b=$3 i=$4 core
	pad "$out/pad${i}a" "$a"
	pad "$out/pad${i}b" "$b"
	core=$(ls "$out/$name"/*.o | grep -v '/shim\.o$')
	# shellcheck disable=SC2086
	ld -r -z noexecstack -o "$out/copy$i.o" "$out/pad${i}a.o" $core "$out/pad${i}b.o" "$out/$name/shim.o"
	objcopy --redefine-sym pl_core=pl_core_$i --keep-global-symbol=pl_core_$i "$out/copy$i.o"
}

compile "$clang" clang $swiftpm_flags $core_flags
compile "$gcc" gcc -O2 -g -fno-omit-frame-pointer $core_flags

# Copies: the core shifted by 0..48 bytes with the callback in place, the
# callback shifted with the core in place, and the gcc build.
labels=()
n=0
for ab in 0:0 16:0 32:0 48:0 0:16 0:32 0:48; do
	a=${ab%:*} b=${ab#*:}
	copy clang "$a" "$b" "$n"; labels+=("clang, core +$a, callback +$b"); n=$((n + 1))
done
copy gcc 0 0 "$n"; labels+=("gcc"); n=$((n + 1))
if [[ -n ${BEFORE-} ]]; then
	compile "$clang" before-clang $swiftpm_flags $core_flags
	compile "$gcc" before-gcc -O2 -g -fno-omit-frame-pointer $core_flags
	for ab in 0:0 16:0 32:0 48:0 0:32; do
		a=${ab%:*} b=${ab#*:}
		copy before-clang "$a" "$b" "$n"; labels+=("$BEFORE clang, core +$a, cb +$b"); n=$((n + 1))
	done
	copy before-gcc 0 0 "$n"; labels+=("$BEFORE gcc"); n=$((n + 1))
fi

{
	echo '#include "placement.h"'
	for ((i = 0; i < n; i++)); do echo "extern const struct pl_core pl_core_$i;"; done
	echo 'const struct pl_core *const pl_copies[] = {'
	for ((i = 0; i < n; i++)); do echo "	&pl_core_$i,"; done
	echo '};'
	echo 'const char *const pl_labels[] = {'
	for l in "${labels[@]}"; do echo "	\"$l\","; done
	echo '};'
	echo "const int pl_ncopies = $n;"
} > "$out/copies.c"

objs=()
for ((i = 0; i < n; i++)); do objs+=("$out/copy$i.o"); done
"$clang" -std=c11 -Wall -Wextra -Werror -O2 -I "$here" "$here/driver.c" "$out/copies.c" "${objs[@]}" -lpthread -o "$out/placement"
echo "core flags: clang $swiftpm_flags $core_flags | gcc -O2 -g -fno-omit-frame-pointer $core_flags  (binary: $out/placement)" >&2
"$out/placement" "$@"

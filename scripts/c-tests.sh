#!/usr/bin/env bash
# Builds every C test program, Tests/c/*_tests.c, together with the C core
# under AddressSanitizer and UBSan, and runs each.  Each program prints
# "N passed, M failed" last.  Exits non-zero if any program fails to build
# or fails.  CC defaults to clang; lld is used when it is installed (gold
# warns about every ASan symbol).
set -uo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob

cc=${CC:-clang}
out=.build/c-tests
flags=(-std=c11 -Wall -Wextra -Werror -g -O1 -fsanitize=address,undefined
       -fno-sanitize-recover=all -I include)
ldflags=()
command -v ld.lld >/dev/null 2>&1 && ldflags=(-fuse-ld=lld)
tests=(Tests/c/*_tests.c)
status=0

if [ ${#tests[@]} -eq 0 ]; then
	echo "no Tests/c/*_tests.c" >&2
	exit 1
fi
mkdir -p "$out"
for src in "${tests[@]}"; do
	name=$(basename "$src" .c)
	echo "== $name"
	if ! "$cc" "${flags[@]}" ${ldflags[@]+"${ldflags[@]}"} CWalkCore/*.c "$src" \
		-o "$out/$name"; then
		echo "$name: does not build"
		status=1
		continue
	fi
	if ! "$out/$name"; then
		echo "$name: FAILED"
		status=1
	fi
done
exit $status

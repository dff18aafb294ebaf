#!/usr/bin/env bash
# The real-guest test (issue 11): boots four Linux guests in QEMU (TCG),
# dumps their memory while a test program spins, and checks that
# PageWalk's walk of each dump gives, for every page of the program's
# regions, the guest's own /proc/self/pagemap answer.  About 1-2 minutes.
#
#   scripts/guest/ci-guest.sh [OUTDIR]     (default .build/guest; images stay there, out of git)
#
# Installs qemu-system-x86, linux-image-amd64 and busybox-static with apt
# when they are missing and it runs as root (CI).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.build/guest}
t0=$(date +%s)

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-amd64)
command -v busybox >/dev/null || need+=(busybox-static)
command -v python3 >/dev/null || need+=(python3-minimal)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "ci-guest: missing ${need[*]} (install them: apt-get install ${need[*]})" >&2
        exit 2
    fi
    echo "== installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

swift build --product pagewalk >/dev/null
pagewalk=$(swift build --show-bin-path)/pagewalk
t1=$(date +%s)
PAGEWALK=$pagewalk scripts/guest/boot-guests.sh "$out"
t2=$(date +%s)
for g in l4 l5 pti raw; do "$pagewalk" image "$out/$g.elf" | sed -n '1p;/vCPU/p;/VMCOREINFO/p'; done
status=0
python3 scripts/guest/check-guest.py "$pagewalk" "$out" || status=$?
t3=$(date +%s)
echo "guest test: setup+build $((t1 - t0)) s, boot+dump 4 guests $((t2 - t1)) s, check $((t3 - t2)) s"
# The dumps are 0.5 GiB each: keep them only when asked.
[ -n "${KEEP_GUEST_IMAGES:-}" ] || rm -f "$out"/*.elf "$out"/*.mem
exit $status

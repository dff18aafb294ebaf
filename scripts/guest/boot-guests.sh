#!/usr/bin/env bash
# Boots the four CI guests and dumps their memory (see README.md here):
#   l4    4-level paging (QEMU's default qemu64 CPU: no PCID, no LA57)
#   l5    5-level paging (-cpu max: LA57, PCID)
#   pti   4 levels with page-table isolation forced on (pti=on): the
#         program's CR3 is the user copy of the top table
#   raw   -cpu max,la57=off (4 levels with PCID, PKU, 1 GiB pages) and the
#         guest's RAM in a shared file, OUTDIR/raw.mem: also walked as a raw
#         image (offset = physical address); with PAGEWALK=path/to/pagewalk
#         also walked live, while the guest runs (run-guest.py --live-check)
#
#   scripts/guest/boot-guests.sh OUTDIR [NAME...]
# Needs qemu-system-x86, linux-image-amd64 and busybox-static (Debian).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: boot-guests.sh OUTDIR [NAME...]}
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(l4 l5 pti raw)
mkdir -p "$out"
out=$(cd "$out" && pwd)
"$here/build-initramfs.sh" "$out" >/dev/null
initrd="$out/initramfs.cpio.gz"
for name in "${names[@]}"; do
    case $name in
    l4) python3 "$here/run-guest.py" l4 "$out" "$initrd" ;;
    l5) python3 "$here/run-guest.py" l5 "$out" "$initrd" -- -cpu max ;;
    pti) python3 "$here/run-guest.py" pti "$out" "$initrd" --append pti=on ;;
    raw)
        rm -f "$out/raw.mem"
        python3 "$here/run-guest.py" raw "$out" "$initrd" ${PAGEWALK:+--live-check "$PAGEWALK"} -- -cpu max,la57=off \
            -object "memory-backend-file,id=mem,size=512M,mem-path=$out/raw.mem,share=on" \
            -machine memory-backend=mem
        ;;
    *) echo "boot-guests: unknown guest '$name' (l4, l5, pti, raw)" >&2; exit 2 ;;
    esac
done

#!/usr/bin/env bash
# Builds the CI guest's initramfs: static busybox, the static test program
# (pwguest.c), the zram modules of the host's /boot kernel, and /init.
# No root needed: the archive is written by cpio from a staging directory;
# /dev comes from devtmpfs at boot.
#
#   scripts/guest/build-initramfs.sh OUTDIR     -> OUTDIR/initramfs.cpio.gz
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-initramfs.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
kver=${GUEST_KVER:-$(ls /boot/vmlinuz-* | sort -V | tail -1 | sed 's|/boot/vmlinuz-||')}
stage="$out/initramfs-root"
rm -rf "$stage"
mkdir -p "$stage"/{bin,proc,sys,dev,tmp,lib/modules}

busybox=$(command -v busybox)
cp "$busybox" "$stage/bin/busybox"
cc -static -O1 -Wall -Werror -o "$stage/pwguest" "$here/pwguest.c"
for m in mm/zsmalloc drivers/block/zram/zram drivers/firmware/qemu_fw_cfg; do
    src=$(ls /lib/modules/"$kver"/kernel/$m.ko* 2>/dev/null | head -1)
    [ -n "$src" ] || { echo "build-initramfs: no $m module for kernel $kver" >&2; exit 2; }
    case "$src" in
    *.ko.xz) xz -dc "$src" >"$stage/lib/modules/$(basename "$m").ko" ;;
    *.ko.zst) zstd -dcq "$src" >"$stage/lib/modules/$(basename "$m").ko" ;;
    *) cp "$src" "$stage/lib/modules/$(basename "$m").ko" ;;
    esac
done
install -m 755 "$here/init" "$stage/init"
(cd "$stage" && find . | sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$out/initramfs.cpio.gz"
rm -rf "$stage"
echo "$out/initramfs.cpio.gz"

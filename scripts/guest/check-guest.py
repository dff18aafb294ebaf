#!/usr/bin/env python3
"""Checks PageWalk's walks of the CI guests' dumps against the guests' own
/proc/self/pagemap (see README.md here).

  check-guest.py PAGEWALK OUTDIR [NAME...]
  check-guest.py PAGEWALK OUTDIR NAME --live-cr3 CR3   (the guest still running)

For each guest NAME (default: every NAME.serial in OUTDIR) it reads the test
program's maps and pagemap from NAME.serial, runs
  PAGEWALK image pagemap NAME.elf --maps NAME.maps START END
for each region, and compares every page: PFN or swap type and offset, and
the present, swap, soft-dirty and uffd-wp bits.  Bits 56 (exclusively
mapped) and 61 (file page) come from struct page, not from page tables, and
are not compared.  The 'raw' guest's RAM file is walked too (raw image, CR3
from the ELF dump's note).  Exit 0 when every page of every guest agrees."""
import os, subprocess, sys

MASK = ~((1 << 56) | (1 << 61)) & ((1 << 64) - 1)

def parse_serial(path):
    maps, regions, pm = [], [], {}
    for line in open(path, "rb").read().decode("utf-8", "replace").splitlines():
        line = line.rstrip("\r")
        if line.startswith("PW-MAPS "):
            maps.append(line[8:])
        elif line.startswith("PW-REGION "):
            _, name, s, e = line.split()
            regions.append((name, int(s, 16), int(e, 16)))
        elif line.startswith("PW-PM "):
            _, a, v = line.split()
            pm[int(a, 16)] = int(v, 16)
    return maps, regions, pm

def cr3_of(pagewalk, elf):
    out = subprocess.run([pagewalk, "image", elf], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if "vCPU 0: CR3 0x" in line:
            return line.split("CR3 0x")[1].split()[0]
    return None

def check(pagewalk, image, extra, regions, pm, label):
    bad_total = pages = 0
    kinds = {}
    for name, s, e in regions:
        r = subprocess.run([pagewalk, "image", "pagemap", image] + extra + ["%x" % s, "%x" % e],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {label} {name}: pagewalk exited {r.returncode}: {r.stderr.strip()}")
            return False
        ours = {}
        for line in r.stdout.splitlines():
            a, v = line.split()[:2]
            ours[int(a, 16)] = int(v, 16)
        bad = []
        for a in range(s, e, 4096):
            theirs = pm.get(a)
            if theirs is None:
                bad.append((a, None, ours.get(a)))
                continue
            pages += 1
            kind = "present" if theirs >> 63 else "swap" if (theirs >> 62) & 1 else "none"
            kinds[kind] = kinds.get(kind, 0) + 1
            if ours.get(a, -1) & MASK != theirs & MASK:
                bad.append((a, theirs, ours.get(a)))
        if bad:
            a, t, o = bad[0]
            print(f"FAIL {label} {name}: {len(bad)} of {(e - s) // 4096} pages differ; first at 0x{a:x}: "
                  f"guest {t if t is None else hex(t)}, pagewalk {o if o is None else hex(o)}")
            bad_total += len(bad)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    if bad_total == 0:
        print(f"ok   {label}: {pages} pages in {len(regions)} regions agree ({summary})")
    return bad_total == 0

def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    pagewalk, outdir = sys.argv[1], sys.argv[2]
    if "--live-cr3" in sys.argv:
        # The guest is running: walk its RAM file live with the monitor's CR3.
        i = sys.argv.index("--live-cr3")
        name, cr3 = sys.argv[3], sys.argv[i + 1]
        maps, regions, pm = parse_serial(os.path.join(outdir, name + ".serial"))
        mapsfile = os.path.join(outdir, name + ".maps")
        with open(mapsfile, "w") as f:
            f.write("\n".join(maps) + "\n")
        ok = check(pagewalk, os.path.join(outdir, name + ".mem"),
                   ["--raw", "--live", "--cr3", cr3, "--maps", mapsfile], regions, pm,
                   f"{name} (live RAM file of the running guest, CR3 {cr3})")
        sys.exit(0 if ok else 1)
    names = sys.argv[3:] or sorted(f[:-7] for f in os.listdir(outdir) if f.endswith(".serial"))
    ok = True
    for name in names:
        serial = os.path.join(outdir, name + ".serial")
        elf = os.path.join(outdir, name + ".elf")
        if not os.path.exists(serial) or not os.path.exists(elf):
            print(f"FAIL {name}: {serial} or {elf} missing")
            ok = False
            continue
        maps, regions, pm = parse_serial(serial)
        names_seen = {r[0] for r in regions}
        for want in ("anon", "thp", "file-shared", "file-private", "protnone", "hugetlb", "swap"):
            if want not in names_seen:
                print(f"FAIL {name}: the guest did not map its {want} region")
                ok = False
        mapsfile = os.path.join(outdir, name + ".maps")
        with open(mapsfile, "w") as f:
            f.write("\n".join(maps) + "\n")
        ok &= check(pagewalk, elf, ["--maps", mapsfile], regions, pm, f"{name} (ELF dump, VMAs)")
        raw = os.path.join(outdir, name + ".mem")
        if os.path.exists(raw):
            cr3 = cr3_of(pagewalk, elf)
            ok &= check(pagewalk, raw, ["--raw", "--cr3", cr3, "--maps", mapsfile], regions, pm,
                        f"{name} (raw RAM file, CR3 0x{cr3})")
    print("guest check: " + ("every page agrees" if ok else "DIFFERENCES"))
    sys.exit(0 if ok else 1)

main()

#!/usr/bin/env python3
"""Boots one CI guest in QEMU (TCG), waits for the test program's output on
the serial console, dumps the guest's memory through QMP
(dump-guest-memory, paging off: an ELF core with guest-physical PT_LOADs and
QEMU's per-CPU notes) while the program spins, and stops the guest.

  run-guest.py NAME OUTDIR INITRAMFS [--append "..."] [--live-check PAGEWALK] [-- extra qemu args]

Writes OUTDIR/NAME.serial (the console) and OUTDIR/NAME.elf (the dump).
With --live-check (for a guest whose RAM is the file OUTDIR/NAME.mem), the
running guest's CR3 is read from the monitor (info registers) and
check-guest.py walks the RAM file live, before the dump.
Prints one line of timings.  Exit 0 on success; 2 with one line on failure.
Standard library only."""
import glob, json, os, socket, subprocess, sys, time

def fail(msg):
    print(f"run-guest: {msg}", file=sys.stderr)
    sys.exit(2)

def qmp(sock_path, commands, timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.time() + 10
    while True:
        try:
            s.connect(sock_path)
            break
        except OSError:
            if time.time() > deadline:
                fail(f"QMP socket {sock_path}: cannot connect")
            time.sleep(0.1)
    s.settimeout(timeout)
    f = s.makefile("rwb")
    json.loads(f.readline())  # greeting
    results = []
    for cmd in [{"execute": "qmp_capabilities"}] + commands:
        f.write(json.dumps(cmd).encode() + b"\n")
        f.flush()
        while True:
            reply = json.loads(f.readline())
            if "event" in reply:
                continue
            if "error" in reply:
                fail(f"QMP {cmd['execute']}: {reply['error'].get('desc')}")
            results.append(reply.get("return"))
            break
    s.close()
    return results

def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1:]
    live = None
    if "--live-check" in args:
        i = args.index("--live-check")
        live = args[i + 1]
        del args[i:i + 2]
    append = ""
    if "--append" in args:
        i = args.index("--append")
        append = args[i + 1]
        del args[i:i + 2]
    if len(args) != 3:
        fail("usage: run-guest.py NAME OUTDIR INITRAMFS [--append ...] [-- qemu args]")
    name, outdir, initrd = args
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels:
        fail("no /boot/vmlinuz-*: install linux-image-amd64")
    os.makedirs(outdir, exist_ok=True)
    serial = os.path.join(outdir, name + ".serial")
    dump = os.path.abspath(os.path.join(outdir, name + ".elf"))
    sock = os.path.join(outdir, name + ".qmp")
    for p in (serial, dump, sock):
        if os.path.exists(p):
            os.unlink(p)
    mem = os.environ.get("GUEST_MEM", "512M")
    cmdline = ("console=ttyS0 panic=-1 transparent_hugepage=madvise hugepages=4 "
               "rdinit=/init " + append).strip()
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", mem, "-smp", "1", "-nographic",
           "-no-reboot", "-kernel", kernels[-1], "-initrd", initrd, "-append", cmdline,
           "-device", "vmcoreinfo", "-qmp", f"unix:{sock},server,nowait"] + extra
    t0 = time.time()
    with open(serial, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        boot_timeout = float(os.environ.get("GUEST_BOOT_TIMEOUT", "120"))
        ready = None
        while ready is None:
            time.sleep(0.2)
            with open(serial, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            if "PW-READY" in text:
                ready = time.time()
            elif "PW-FAIL" in text or "Kernel panic" in text:
                line = next(l for l in text.splitlines() if "PW-FAIL" in l or "Kernel panic" in l)
                fail(f"{name}: guest failed: {line.strip()} (console in {serial})")
            elif proc.poll() is not None:
                fail(f"{name}: qemu exited with {proc.returncode} before the test program was ready (see {serial})")
            elif time.time() - t0 > boot_timeout:
                fail(f"{name}: no PW-READY on the console after {boot_timeout:.0f} s (see {serial})")
        time.sleep(0.5)  # let the program leave the write() and spin
        live_note = ""
        if live:
            regs = qmp(sock, [{"execute": "human-monitor-command",
                               "arguments": {"command-line": "info registers"}}], 30)[-1]
            cr3 = next((w.split("=")[1] for w in regs.split() if w.startswith("CR3=")), None)
            if not cr3:
                fail(f"{name}: no CR3 in the monitor's info registers")
            t_live = time.time()
            r = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-guest.py"),
                                live, outdir, name, "--live-cr3", cr3])
            if r.returncode != 0:
                fail(f"{name}: the live walk of the running guest's RAM disagrees (CR3 {cr3})")
            live_note = f", walked live (CR3 0x{int(cr3, 16):x}) in {time.time() - t_live:.1f} s"
        qmp(sock, [{"execute": "dump-guest-memory",
                    "arguments": {"paging": False, "protocol": "file:" + dump}}], 120)
        qmp(sock, [{"execute": "quit"}], 10)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if os.path.exists(sock):
            os.unlink(sock)
    size = os.path.getsize(dump)
    print(f"{name}: booted to PW-READY in {ready - t0:.1f} s{live_note}, dumped {size >> 20} MiB -> {dump}")

main()

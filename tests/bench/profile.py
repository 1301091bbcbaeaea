#!/usr/bin/env python3
"""Where the instructions of one benchmark operation go, function by function.

    tests/bench/profile.py <hv_kernel.elf> <figure> [--cpu MODEL] [--n1 N] [--n2 N]

Runs the example kernel twice under QEMU (-icount, as the benchmark does)
with `cases=bench.* bench_only=<figure> bench_repeat=1` and bench_n = n1,
then n2 iterations, logging every translation block the host executes
(-d in_asm,exec,nochain, restricted with -dfilter to the kernel's text
minus its boot-time calibration loops). Each executed instruction is
charged to the function that contains it (nm), and the difference between
the two runs divided by n2 - n1 is the cost of one operation per function:
one-time work (context and VM creation, printing) cancels out.

Only the host side is logged (guest code lives below 1 MiB); the figure's
total from the benchmark line is printed too, and the difference to the
sum is the guest's share (the trapped instruction counts 0 and VMRUN 1).
"""
import argparse
import bisect
import os
import re
import subprocess
import sys
import tempfile

# Boot-time loops not worth logging (TSC calibration, page bitmap set-up).
EXCLUDE = {"timer_init", "pmm_init", "calibrate_tsc", "serial_init"}


def symbols(elf):
    out = subprocess.run(["nm", "-n", "--defined-only", elf], check=True, capture_output=True,
                         text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16), parts[2]))
    syms.sort()
    return syms


def text_ranges(syms):
    """-dfilter ranges: the kernel's text minus the excluded functions."""
    ranges, start = [], None
    for i, (addr, name) in enumerate(syms):
        end = syms[i + 1][0] if i + 1 < len(syms) else addr + 0x1000
        if name in EXCLUDE:
            if start is not None:
                ranges.append((start, addr))
            start = None
        elif start is None:
            start = addr
        if i + 1 == len(syms) and start is not None:
            ranges.append((start, end))
    return ",".join("0x%x..0x%x" % (a, b - 1) for a, b in ranges if b > a)


def run(elf, cpu, figure, n, log):
    cmd = ["qemu-system-x86_64", "-machine", "pc,accel=tcg", "-cpu", cpu, "-m", "128M",
           "-display", "none", "-serial", "stdio", "-no-reboot",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-icount", "shift=0,sleep=off", "-d", "in_asm,exec,nochain",
           "-dfilter", text_ranges(symbols(elf)), "-D", log, "-kernel", elf,
           "-append", "cases=bench.* bench_only=%s bench_n=%d bench_repeat=1" % (figure, n)]
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=3600).stdout.replace("\r", "")
    m = re.search(r"^bench \S+ %s (\d+)" % re.escape(figure), out, re.M)
    if not m:
        sys.exit("profile: no '%s' figure in the kernel output:\n%s" % (figure, out))
    return int(m.group(1))


def count(log, syms):
    """Executed instructions per function."""
    addrs = [a for a, _ in syms]
    tb = {}        # TB start -> instruction addresses (latest translation)
    per_fn = {}
    cur = None
    insn = re.compile(r"^0x([0-9a-f]+):")
    trace = re.compile(r"^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("IN:"):
                cur = []
                continue
            if cur is not None:
                m = insn.match(line)
                if m:
                    cur.append(int(m.group(1), 16))
                    continue
                if cur:
                    tb[cur[0]] = cur
                cur = None
            m = trace.match(line)
            if m:
                for a in tb.get(int(m.group(1), 16), ()):
                    i = bisect.bisect_right(addrs, a) - 1
                    name = syms[i][1] if i >= 0 else "?"
                    per_fn[name] = per_fn.get(name, 0) + 1
    return per_fn


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kernel")
    ap.add_argument("figure")
    ap.add_argument("--cpu", default="qemu64,+svm,+npt")
    ap.add_argument("--n1", type=int, default=10)
    ap.add_argument("--n2", type=int, default=30)
    args = ap.parse_args()
    syms = symbols(args.kernel)
    with tempfile.TemporaryDirectory() as tmp:
        res = []
        for n in (args.n1, args.n2):
            log = os.path.join(tmp, "q%d.log" % n)
            total = run(args.kernel, args.cpu, args.figure, n, log)
            res.append((total, count(log, syms)))
            os.unlink(log)
    (_, a), (total, b) = res
    dn = args.n2 - args.n1
    rows = []
    for name in set(a) | set(b):
        d = b.get(name, 0) - a.get(name, 0)
        if d:
            rows.append((d / dn, name))
    rows.sort(reverse=True)
    host = sum(r[0] for r in rows)
    print("%s: %d instructions per operation (benchmark figure)" % (args.figure, total))
    for per, name in rows:
        if abs(per) >= 0.05:
            print("  %8.1f  %s" % (per, name))
    print("  %8.1f  host total (logged)" % host)
    print("  %8.1f  guest and world switch (figure - host)" % (total - host))


if __name__ == "__main__":
    main()

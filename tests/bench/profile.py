#!/usr/bin/env python3
"""Where the instructions of one benchmark operation go, function by function.

    tests/bench/profile.py <hv_kernel.elf> <figure> [--cpu MODEL | --bochs MODEL]
                           [--n1 N] [--n2 N] [--vary repeat]
                           [--lines FUNC[,FUNC...]] [--insns FUNC[,FUNC...]]

Runs the example kernel twice under QEMU (-icount, as the benchmark does)
with `cases=bench.* bench_only=<figure> bench_repeat=1` and bench_n = n1,
then n2 iterations, logging every translation block the host executes
(-d in_asm,exec,nochain, restricted with -dfilter to the kernel's text
minus its boot-time calibration loops). Each executed instruction is
charged to the function that contains it (nm), and the difference between
the two runs divided by n2 - n1 is the cost of one operation per function:
one-time work (context and VM creation, printing) cancels out. Only the
last call of bench_measure counts, the figure's own measurement (not the
floor loop a Xen figure measures first through it). For
vm_lifecycle, which is not a loop, use --vary repeat: the runs then differ
in bench_repeat (the number of timed lifecycles) instead. --lines breaks
the named functions down by source line (addr2line), --insns lists them
instruction by instruction (objdump).

--bochs MODEL (e.g. corei7_haswell_4770 for VMX, ryzen for SVM) runs the
kernel under Bochs instead, through tests/system/run-bochs.sh (sync=none:
the TSC counts instructions), with a debugger script that stops at
kcase_run (after the boot), turns on `trace on` and continues; the trace
(tens of MB) is parsed from Bochs' output, then deleted. Only
instructions whose RIP lies in the kernel's text count (guest code,
traced too in VMX non-root / SVM guest mode, lives below 1 MiB), and
not in the host's interrupt handlers (the timer tick). Bochs
traces each iteration of a REP string instruction, which QEMU counts
once. A profile (two runs) takes about 20 s.

Only the host side is logged (guest code lives below 1 MiB); the figure's
total from the benchmark line is printed too, and the difference to the
sum is the guest's share (under QEMU the trapped instruction counts 0 and
VMRUN 1).
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


def text_spans(syms):
    """The kernel's text minus the excluded functions: [(start, end), ...]."""
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
    return [(a, b) for a, b in ranges if b > a]


def text_ranges(syms):
    """-dfilter ranges: the kernel's text minus the excluded functions."""
    return ",".join("0x%x..0x%x" % (a, b - 1) for a, b in text_spans(syms))


def cmdline(figure, n, vary):
    return "cases=bench.* bench_only=%s %s" % (
        figure, "bench_repeat=%d" % n if vary == "repeat" else "bench_n=%d bench_repeat=1" % n)


def figure_value(out, figure, what="the kernel output"):
    m = re.search(r"^bench \S+ %s (\d+)" % re.escape(figure), out, re.M)
    if not m:
        sys.exit("profile: no '%s' figure in %s:\n%s" % (figure, what, out))
    return int(m.group(1))


def run(elf, cpu, figure, n, log, vary):
    cmd = ["qemu-system-x86_64", "-machine", "pc,accel=tcg", "-cpu", cpu, "-m", "128M",
           "-display", "none", "-serial", "stdio", "-no-reboot",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-icount", "shift=0,sleep=off", "-d", "in_asm,exec,nochain",
           "-dfilter", text_ranges(symbols(elf)), "-D", log, "-kernel", elf,
           "-append", cmdline(figure, n, vary)]
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=3600).stdout.replace("\r", "")
    return figure_value(out, figure)


class Tally:
    """Executed instructions per function and per instruction address."""

    def __init__(self, syms):
        self.syms, self.addrs = syms, [a for a, _ in syms]
        self.per_fn, self.per_addr = {}, {}

    def add(self, a):
        i = bisect.bisect_right(self.addrs, a) - 1
        name = self.syms[i][1] if i >= 0 else "?"
        self.per_fn[name] = self.per_fn.get(name, 0) + 1
        self.per_addr[a] = self.per_addr.get(a, 0) + 1


def count(log, syms, win):
    """Executed instructions per function, and per instruction address,
    within the measurement window win."""
    tb = {}        # TB start -> instruction addresses (latest translation)
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
            if m and win.step(int(m.group(1), 16)):
                for a in tb.get(int(m.group(1), 16), ()):
                    win.tally.add(a)
    return win.tally.per_fn, win.tally.per_addr


def symbol(syms, name):
    for a, n in syms:
        if n == name:
            return a
    return None


class Window:
    """The figure's own measurement: the last call of bench_measure (a
    Xen figure measures its floor loop first, through the same function).
    A tally starts afresh at its entry and stops at a return address of a
    call to it (objdump); without the function, everything counts."""

    def __init__(self, elf, syms):
        self.syms = syms
        self.entry = symbol(syms, "bench_measure")
        self.rets = set()
        if self.entry is not None:
            out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", elf], check=True,
                                 capture_output=True, text=True).stdout
            call, line_re = False, re.compile(r"^\s+([0-9a-f]+):\s+(.*)$")
            for line in out.splitlines():
                m = line_re.match(line)
                if not m:
                    continue
                if call:
                    self.rets.add(int(m.group(1), 16))
                call = m.group(2).startswith("call") and "<bench_measure>" in m.group(2)
        self.tally, self.on = Tally(syms), True

    def step(self, a):
        """Execution reached a (a TB's start, or one instruction): whether
        it counts."""
        if a == self.entry:
            self.tally, self.on = Tally(self.syms), True
        elif a in self.rets:
            self.on = False
        return self.on


def bochs_trace(out, syms, win):
    """Count the kernel's instructions in Bochs' trace (the lines of out)
    within the measurement window win, without the host's interrupt
    handlers."""
    # "(0).[icount] [0xphys] sel:rip (ctxt): insn ; bytes", or "(0).[icount]
    # ??? (physical address not available)" for guest code the debugger
    # cannot translate (SVM); the debugger's own display of the next
    # instruction, "(0) [0x...] ...", has no icount.
    trace = re.compile(r"^\(\d+\)\.\[\d+\] (?:\[0x[0-9a-f]+\] [0-9a-f]{4}:([0-9a-f]+) )?")
    intr = re.compile(r"^CPU \d+: Interrupt 0x[0-9a-f]+ occurred")
    iret = re.compile(r"\): iret\b")
    spans = text_spans(syms)
    lo, hi = spans[0][0], spans[-1][1]
    pending, irq = False, 0
    for line in out:
        m = trace.match(line)
        if not m:
            pending = pending or bool(intr.match(line))
            continue
        a = int(m.group(1), 16) if m.group(1) else -1
        host = lo <= a < hi
        if pending:
            # An interrupt was delivered: the next line is the handler's
            # first instruction, traced at the interrupted one's address.
            # In the host (the timer tick, which the timed sections mask)
            # skip the handler up to its IRET; events injected into the
            # guest run guest code.
            pending = False
            if host:
                irq += 1
                continue
        if irq:
            if not host:
                irq = 0
            elif iret.search(line):
                irq -= 1
                continue
            else:
                continue
        if win.step(a) and host:
            win.tally.add(a)
    return win.tally


def run_bochs(elf, model, figure, n, tmp, vary, syms):
    """One Bochs run (tests/system/run-bochs.sh) with the instruction trace
    on from kcase_run: the figure and the per-function / per-address
    counts (bochs_trace)."""
    start = symbol(syms, "kcase_run")
    if start is None:
        sys.exit("profile: no kcase_run in %s" % elf)
    here = os.path.dirname(os.path.abspath(__file__))
    rc = os.path.join(tmp, "dbg.rc")
    with open(rc, "w") as f:  # stop after the boot, trace from there on
        f.write("lb 0x%x\nc\ntrace on\nc\nq\n" % start)
    trace = os.path.join(tmp, "bochs%d.trace" % n)
    serial = os.path.join(tmp, "serial%d.txt" % n)
    env = dict(os.environ, HV_BOCHS_DBG_RC=rc, HV_BOCHS_STDOUT=trace, HV_RUN_LOG=serial,
               HV_RUN_TIMEOUT="1800")
    p = subprocess.run([os.path.join(here, "..", "system", "run-bochs.sh"), elf, model,
                        cmdline(figure, n, vary)], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    if not os.path.exists(serial):
        sys.exit("profile: run-bochs.sh failed:\n%s%s" % (p.stdout, p.stderr))
    with open(serial, errors="replace") as f:
        total = figure_value(f.read(), figure, "the Bochs serial output (%s)" % model)
    with open(trace, errors="replace") as f:
        t = bochs_trace(f, syms, Window(elf, syms))
    os.unlink(trace)
    return total, t.per_fn, t.per_addr


def lines(elf, syms, fns, a, b, dn):
    """Per source line of the functions in fns: (b - a) / dn."""
    addrs = [x for x, _ in syms]
    want = sorted(x for x in set(a) | set(b)
                  if syms[bisect.bisect_right(addrs, x) - 1][1] in fns)
    if not want:
        return
    out = subprocess.run(["addr2line", "-e", elf, "-f"] + ["0x%x" % x for x in want],
                         check=True, capture_output=True, text=True).stdout.splitlines()
    # One "function\nfile:line" pair per address (the line table's line,
    # which is the inlined code's own when inlining happened).
    res, i = {}, 0
    for x in want:
        fn, loc = out[i], out[i + 1]
        i += 2
        key = "%s %s" % (fn, os.path.basename(loc.split(" ")[0]))
        d = (b.get(x, 0) - a.get(x, 0)) / dn
        res[key] = res.get(key, 0) + d
    for key, v in sorted(res.items(), key=lambda kv: -kv[1]):
        if abs(v) >= 0.05:
            print("      %8.1f  %s" % (v, key))


def insns(elf, syms, fns, a, b, dn):
    """Per instruction of the functions in fns, in address order, with
    objdump's text: the hot path as executed."""
    addrs = [x for x, _ in syms]
    dis = {}
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", elf], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", line)
        if m:
            dis[int(m.group(1), 16)] = m.group(2).strip()
    for x in sorted(set(a) | set(b)):
        fn = syms[bisect.bisect_right(addrs, x) - 1][1]
        d = (b.get(x, 0) - a.get(x, 0)) / dn
        if fn in fns and abs(d) >= 0.05:
            print("      %6.1f  %-28s %x  %s" % (d, fn, x, dis.get(x, "?")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kernel")
    ap.add_argument("figure")
    ap.add_argument("--cpu", default="qemu64,+svm,+npt")
    ap.add_argument("--bochs", metavar="MODEL", help="profile under Bochs with this CPU model")
    ap.add_argument("--n1", type=int, default=10)
    ap.add_argument("--n2", type=int, default=30)
    ap.add_argument("--vary", choices=("n", "repeat"), default="n")
    ap.add_argument("--lines", default="", help="functions to break down by source line")
    ap.add_argument("--insns", default="", help="functions to list instruction by instruction")
    args = ap.parse_args()
    syms = symbols(args.kernel)
    with tempfile.TemporaryDirectory() as tmp:
        res = []
        for n in (args.n1, args.n2):
            if args.bochs:
                total, per_fn, per_addr = run_bochs(args.kernel, args.bochs, args.figure, n, tmp,
                                                    args.vary, syms)
                res.append((total, (per_fn, per_addr)))
                continue
            log = os.path.join(tmp, "q%d.log" % n)
            total = run(args.kernel, args.cpu, args.figure, n, log, args.vary)
            res.append((total, count(log, syms, Window(args.kernel, syms))))
            os.unlink(log)
    (t1, (a, aa)), (t2, (b, ba)) = res
    dn = args.n2 - args.n1
    # The printed figure includes per-run constants (e.g. SLAT tables
    # allocated again after each run's unmap) spread over n iterations:
    # take its difference too, like the profile's.
    total = (t2 * args.n2 - t1 * args.n1) / dn if args.vary == "n" else t2
    rows = []
    for name in set(a) | set(b):
        d = b.get(name, 0) - a.get(name, 0)
        if d:
            rows.append((d / dn, name))
    rows.sort(reverse=True)
    host = sum(r[0] for r in rows)
    print("%s: %.0f instructions per operation (benchmark figure, differential)" %
          (args.figure, total))
    for per, name in rows:
        if abs(per) >= 0.05:
            print("  %8.1f  %s" % (per, name))
    if args.lines:
        print("  by source line:")
        lines(args.kernel, syms, set(args.lines.split(",")), aa, ba, dn)
    if args.insns:
        print("  by instruction:")
        insns(args.kernel, syms, set(args.insns.split(",")), aa, ba, dn)
    print("  %8.1f  host total (logged)" % host)
    print("  %8.1f  guest and world switch (figure - host)" % (total - host))


if __name__ == "__main__":
    main()

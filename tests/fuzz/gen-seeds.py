#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

The seeds are small hand-made starting points: valid inputs in each input
format (see the comment at the top of each fuzz_<target>.c) that reach the
interesting paths at once, so the fuzzer mutates from there. The loader's
seeds are the PVH guest fixtures of the unit tests plus hand-made ELF files.
Run it again after changing an input format; it rewrites the seeds it
names and leaves every other file in the corpus directories (regress-*
reproducers, inputs kept from long runs); remove a renamed seed by hand.
"""
import gzip
import os
import shutil
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(os.path.dirname(here))
corpus = os.path.join(here, "corpus")


def out(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    if target == "emu":
        data = data.rstrip(b"\0")  # the fuzzer zero-fills a short input
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- loader
def elf64(segments, notes=b"", entry=0x100000):
    """A minimal ELF64 executable: PT_LOAD segments [(paddr, data, memsz)] and one PT_NOTE."""
    phnum = len(segments) + (1 if notes else 0)
    off = 64 + 56 * phnum
    body = b""
    ph = b""
    for paddr, data, memsz in segments:
        ph += struct.pack("<IIQQQQQQ", 1, 7, off + len(body), paddr, paddr, len(data), memsz, 0x1000)
        body += data
    if notes:
        ph += struct.pack("<IIQQQQQQ", 4, 4, off + len(body), 0, 0, len(notes), len(notes), 4)
        body += notes
    hdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    hdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, 64, 0, 0, 64, 56, phnum, 64, 0, 0)
    return hdr + ph + body


def note(owner, ntype, desc):
    o = owner + b"\0"
    pad = lambda b: b + bytes((4 - len(b) % 4) % 4)
    return struct.pack("<III", len(o), len(desc), ntype) + pad(o) + pad(desc)


def loader_seeds():
    data = os.path.join(top, "tests", "unit", "data")
    for f in sorted(os.listdir(data)):
        if f.endswith(".elf") or f.endswith(".elf.gz"):
            shutil.copy(os.path.join(data, f), os.path.join(corpus, "loader", f))
    code = b"\xf4" * 32
    n = note(b"Xen", 18, struct.pack("<I", 0x100000))
    n += note(b"Xen", 6, b"libhv-fuzz\0") + note(b"Xen", 10, b"!writable_page_tables\0")
    n += note(b"Xen", 2, struct.pack("<Q", 0x101000)) + note(b"Xen", 19, bytes(12))
    e = elf64([(0x100000, code, 0x2000), (0x200000, b"data", 0x10)], n)
    out("loader", "pvh_min.elf", e)
    out("loader", "pvh_min.elf.gz", gzip.compress(e, mtime=0))
    out("loader", "pvh_bss.elf", elf64([(0x100000, code, 0x100000)], n))
    out("loader", "no_notes.elf", elf64([(0x100000, code, 0x1000)]))


# ---------------------------------------------------------------- emu
# struct hdr of fuzz_emu.c
def emu_hdr(gpr=None, rip=0x3000, rflags=2, cr0=0, cr3=0, cr4=0, efer=0, segs=None,
            pdpte=(0, 0, 0, 0), pkru=0, pkrs=0, walk_la=0, mmio_seed=0x1234,
            rep_budget=0, mode=5, cpl=0, flags=4, maxphyaddr=14, prefetch=b"",
            walk_access=0, fail_at=0, fail_kind=0):
    g = list(gpr or [0] * 16)
    g += [0] * (16 - len(g))
    b = struct.pack("<16Q", *g)
    b += struct.pack("<6Q", rip, rflags, cr0, cr3, cr4, efer)
    if segs is None:
        flat = (0, 0xffffffff, 0x10, 0x093 | 0x400 | 0x800)
        code = (0, 0xffffffff, 0x08, 0x09b | 0x200 | 0x800)
        segs = [flat, code, flat, flat, flat, flat]
    for base, limit, sel, attr in segs:
        b += struct.pack("<QIHH", base, limit, sel, attr)
    b += struct.pack("<4Q", *pdpte)
    b += struct.pack("<II", pkru, pkrs)
    b += struct.pack("<QQ", walk_la, mmio_seed)
    b += struct.pack("<H", rep_budget)
    b += bytes([mode, cpl, flags, maxphyaddr, len(prefetch), walk_access, fail_at, fail_kind])
    b += prefetch.ljust(15, b"\0")
    return b


def ram(writes, size=64 * 1024):
    r = bytearray(size)
    for off, data in writes:
        r[off:off + len(data)] = data
    return bytes(r)


def q(*v):
    return struct.pack("<%dQ" % len(v), *v)


def d(*v):
    return struct.pack("<%dI" % len(v), *v)


MMIO = 0x80001000
# 4-level paging: PML4 at 0x1000, PDPT at 0x2000 with 1 GiB pages 0..3.
PT64 = [(0x1000, q(0x2003)), (0x2000, q(*[(i << 30) | 0x87 for i in range(4)]))]
# 4-level with 4 KiB pages: PML4 0x1000 -> PDPT 0x4000 -> PD 0x5000 -> PT 0x6000
PT64_4K = [(0x1000, q(0x4007)), (0x4000, q(0x5007, 0, 0x5007)), (0x5000, q(0x6007)),
           (0x6000, q(*[(i << 12) | 0x7 for i in range(16)]))]
# 32-bit paging with 4 MiB pages: PD at 0x1000.
PT32 = [(0x1000, d(*[(i << 22) | 0x87 for i in range(1024)]))]
# PAE: PDPT at 0x1000 -> PDs at 0x2000.. with 2 MiB pages.
PTPAE = [(0x1000, q(0x2001, 0x3001, 0x4001, 0x5001))] + [
    (0x2000 + k * 0x1000, q(*[((k << 30) + (i << 21)) | 0x87 for i in range(512)])) for k in range(4)]

EMU_INSNS = [
    ("mov_store", b"\x89\x18"),                 # mov [rax], ebx
    ("mov_load", b"\x8b\x08"),                  # mov ecx, [rax]
    ("mov_rex", b"\x48\x89\x18"),               # mov [rax], rbx
    ("mov_imm", b"\xc7\x00\x78\x56\x34\x12"),   # mov dword [rax], imm32
    ("movzx", b"\x0f\xb6\x08"),                 # movzx ecx, byte [rax]
    ("and", b"\x21\x18"),                       # and [rax], ebx
    ("or_imm8", b"\x83\x08\x01"),               # or dword [rax], 1
    ("xchg", b"\x87\x18"),                      # xchg [rax], ebx
    ("test", b"\x85\x18"),                      # test [rax], ebx
    ("cmp", b"\x39\x18"),                       # cmp [rax], ebx
    ("moffs", b"\xa1\x10\x00\x00\x80\x00\x00\x00\x00"),  # mov eax, [moffs64]
    ("rep_movsb", b"\xf3\xa4"),
    ("rep_movsd", b"\xf3\xa5"),
    ("rep_stosd", b"\xf3\xab"),
    ("rep_outsb", b"\xf3\x6e"),
    ("rep_insw", b"\x66\xf3\x6d"),
    ("sib_disp", b"\x89\x5c\x88\x10"),          # mov [rax+rcx*4+16], ebx
    ("rip_rel", b"\x89\x1d\x00\x10\x00\x00"),   # mov [rip+0x1000], ebx
    ("bt", b"\x0f\xa3\x18"),                    # bt [rax], ebx
    ("lock_add", b"\xf0\x01\x18"),              # lock add [rax], ebx
    ("push_mem", b"\xff\x30"),                  # push qword [rax]
    ("mov_seg", b"\x8c\x18"),                   # mov [rax], ds
    ("cmpxchg", b"\x0f\xb1\x18"),
    ("movs_df", b"\xfd\xa5"),                   # std is not emulated; movsd with DF from rflags
]


def emu_seeds():
    gprs = [MMIO, 4, 0x10000, 0x11223344, 0, 0, MMIO + 0x100, 0x8000] + [0] * 8
    for name, insn in EMU_INSNS:
        mem = ram(PT64 + [(0x3000, insn)])
        out("emu", "64_" + name, emu_hdr(gpr=gprs, cr3=0x1000, mode=5, walk_la=MMIO) + mem)
    # Prefetched bytes (SVM decode assist) instead of fetching.
    out("emu", "64_prefetch", emu_hdr(gpr=gprs, cr3=0x1000, mode=5, prefetch=b"\x89\x18") +
        ram(PT64))
    # REP with a budget: RESUME.
    out("emu", "64_rep_budget", emu_hdr(gpr=[MMIO, 1000, 0, 0, 0, 0, MMIO, 0x8000] + [0] * 8,
                                        cr3=0x1000, mode=5, rep_budget=7) +
        ram(PT64 + [(0x3000, b"\xf3\xa4")]))
    # 4 KiB pages, user mode, SMAP/SMEP, NX, A/D updates through cmpxchg.
    out("emu", "64_4k_user", emu_hdr(gpr=[0x5000, 0, 0, 7] + [0] * 12, cr3=0x1000, mode=5, cpl=3,
                                     cr4=(1 << 20) | (1 << 21), efer=1 << 11, walk_la=0x5000,
                                     walk_access=1) +
        ram(PT64_4K + [(0x3000, b"\x89\x18")]))
    out("emu", "64_la57", emu_hdr(gpr=gprs, cr3=0x7000, mode=6) +
        ram(PT64 + [(0x7000, q(0x1003)), (0x3000, b"\x89\x18")]))
    # 32-bit paging, PSE 4 MiB pages.
    out("emu", "32_pse", emu_hdr(gpr=[MMIO, 0, 0, 5] + [0] * 12, cr3=0x1000, cr4=0x10, mode=3,
                                 walk_la=MMIO) + ram(PT32 + [(0x3000, b"\x89\x18")]))
    out("emu", "32_flat", emu_hdr(gpr=[MMIO, 0, 0, 5] + [0] * 12, mode=2) +
        ram([(0x3000, b"\x66\x89\x18")]))
    out("emu", "pae", emu_hdr(gpr=[MMIO, 0, 0, 5] + [0] * 12, cr3=0x1000, mode=4, flags=5,
                              pdpte=(0x2001, 0x3001, 0x4001, 0x5001), walk_la=MMIO) +
        ram(PTPAE + [(0x3000, b"\x89\x18")]))
    out("emu", "pae_mem_pdpte", emu_hdr(gpr=[MMIO, 0, 0, 5] + [0] * 12, cr3=0x1000, mode=4,
                                        flags=4, walk_la=MMIO + 0x1234) +
        ram(PTPAE + [(0x3000, b"\xf3\xab")]))
    real = [(0, 0xffff, 0, 0x93)] * 6
    out("emu", "real", emu_hdr(gpr=[0x100, 0, 0, 0x55] + [0] * 12, rip=0x3000, mode=1, segs=real) +
        ram([(0x3000, b"\x88\x07")]))
    out("emu", "compat", emu_hdr(gpr=[MMIO, 0, 0, 5] + [0] * 12, cr3=0x1000, mode=7) +
        ram(PT64 + [(0x3000, b"\x67\x89\x18")]))
    out("emu", "fail_cb", emu_hdr(gpr=gprs, cr3=0x1000, mode=5, fail_at=3, fail_kind=2) +
        ram(PT64 + [(0x3000, b"\xf3\xa5")]))


# ---------------------------------------------------------------- slat
def slat_op(op, shape, off, n, fl=0, extra=0, probe=0):
    return struct.pack("<BBIHBBH", op, shape, off, n, fl, extra, probe)


def slat_seeds():
    for cfg in (0x00, 0x06, 0x18, 0x01, 0x07, 0x86, 0x47, 0xa5):
        ops = [
            slat_op(0, 2, 1, 1),            # map 1 GiB
            slat_op(2, 0, 0x40000, 3, 1),   # protect 3 pages inside: split
            slat_op(2, 0, 0x40000, 3, 0),   # protect back: merge
            slat_op(1, 1, 0x200, 1),        # unmap 2 MiB
            slat_op(0, 1, 0x200, 1, 9),     # map it again, other flags
            slat_op(0, 0, 7, 900, 0, 5, 0x1234),
            slat_op(0x1c, 1, 0, 8),         # harvest
            slat_op(0xe0, 0, 0x100, 600, 0, 1),  # map with an allocation failure
            slat_op(0xe2, 0, 0x100, 4, 2, 2),    # protect with an allocation failure
            slat_op(1, 0xc0, 5, 1, 0, 3),   # misaligned unmap
            slat_op(0, 0x80, 0x3ffff, 1),   # past the width
        ]
        out("slat", "seq_%02x" % cfg, bytes([cfg, cfg >> 3]) + b"".join(ops))


# ---------------------------------------------------------------- hypercall
NUMS = [12, 15, 17, 18, 20, 24, 29, 32, 34, 0, 1, 38, 21, 63, 64]


def hc(nr, args, sub=None):
    """One hypercall command: args are (selector, payload bytes) pairs."""
    nargs = {1: 0, 3: 1, 5: 2, 6: 3}[max(1, len(args)) if len(args) in (1, 3, 5, 6) else 6]
    c = nargs if sub is not None else 4 | (nargs & 1)
    b = bytes([c, NUMS.index(nr)])
    full = list(args) + [(0, b"\0")] * ({0: 1, 1: 3, 2: 5, 3: 6}[c & 3] - len(args))
    for sel, payload in full[: {0: 1, 1: 3, 2: 5, 3: 6}[c & 3]]:
        b += bytes([sel]) + payload
    if sub is not None:
        b += bytes([sub])
    return b


def at(c, b):
    """Run a command on another vCPU/domain: c has bits 6 (vCPU 1) and 7 (domain 1)."""
    return bytes([b[0] | c]) + b[1:]


def buf(off, data):
    data = data.ljust(64, b"\0")
    return bytes([7]) + struct.pack("<H", off) + data[:64]


BUFARG = lambda off=0: (3, struct.pack("<H", off))
U8 = lambda v: (0, bytes([v]))


def hypercall_seeds():
    s = []
    s.append(("version", hc(17, [U8(0), BUFARG(), U8(0)], sub=0) + hc(17, [U8(0), BUFARG(), U8(0)], sub=1)
              + hc(17, [U8(0), BUFARG(), U8(0)], sub=6) + hc(17, [U8(0), (7, b"\0\0"), U8(0)], sub=1)))
    # evtchn: alloc_unbound for the host, bind it, notify, EVTCHNOP_send, status, close.
    alloc = struct.pack("<HHI", 0x7ff0, 0, 0)
    s.append(("evtchn_host", buf(0, alloc) + hc(32, [U8(0), BUFARG(), U8(0)], sub=6) +
              bytes([8, 1, 0, 0, 1]) + bytes([8, 3, 0, 0]) + bytes([12, 0, 0]) +
              buf(0x40, struct.pack("<I", 1)) + hc(32, [U8(0), BUFARG(0x40), U8(0)], sub=4) +
              buf(0x80, struct.pack("<HHI", 0x7ff0, 0, 1)) + hc(32, [U8(0), BUFARG(0x80), U8(0)], sub=5) +
              buf(0xc0, struct.pack("<I", 1)) + hc(32, [U8(0), BUFARG(0xc0), U8(0)], sub=3)))
    # interdomain: domain 2 allocates for domain 1; domain 1 binds.
    s.append(("evtchn_interdom", at(0x80, buf(0, struct.pack("<HHI", 0x7ff0, 1, 0))) +
              at(0x80, hc(32, [U8(0), BUFARG(), U8(0)], sub=6)) +
              buf(0, struct.pack("<HII", 2, 1, 0)) + hc(32, [U8(0), BUFARG(), U8(0)], sub=0) +
              buf(0x40, struct.pack("<I", 1)) + hc(32, [U8(0), BUFARG(0x40), U8(0)], sub=4) +
              bytes([0x80 | 12, 0, 0])))
    # virq, ipi, unmask, poll.
    s.append(("evtchn_virq", buf(0, struct.pack("<III", 0, 0, 0)) + hc(32, [U8(0), BUFARG(), U8(0)], sub=1) +
              buf(0x40, struct.pack("<II", 0, 0)) + hc(32, [U8(0), BUFARG(0x40), U8(0)], sub=7) +
              hc(15, [(2, q(2000000000))]) + bytes([12, 0xff, 0xff]) +
              buf(0x80, q(0x10040, 1, 0)) + hc(29, [U8(0), BUFARG(0x80), U8(0)], sub=3)))
    # shared_info and grant table mapped with XENMEM_add_to_physmap, a grant to domain 0
    # mapped by the host, and a grant to the peer used by GNTTABOP_copy.
    shinfo = struct.pack("<HHIQQ", 0x7ff0, 0, 0, 0, 0x81)
    gnt = struct.pack("<HHIQQ", 0x7ff0, 0, 1, 0, 0x80)
    s.append(("grant", buf(0, shinfo) + hc(12, [U8(0), BUFARG(), U8(0)], sub=7) +
              buf(0x40, gnt) + hc(12, [U8(0), BUFARG(0x40), U8(0)], sub=7) +
              bytes([13]) + struct.pack("<H", 1) + struct.pack("<HHI", 1, 0, 0x20) +
              bytes([9, 1, 0]) + struct.pack("<H", 1) + bytes([9, 0, 0]) +
              bytes([13]) + struct.pack("<H", 2) + struct.pack("<HHI", 1, 2, 0x21) +
              at(0x80, buf(0, struct.pack("<QHH4xQHH4xHHh2x", 2, 1, 0, 0x30, 0x7ff0, 0, 16, 1, 0))) +
              at(0x80, hc(20, [U8(0), BUFARG(), U8(1)], sub=5)) +
              buf(0x80, struct.pack("<HHI", 0x7ff0, 0, 0)) + hc(20, [U8(0), BUFARG(0x80), U8(1)], sub=6) +
              buf(0xc0, struct.pack("<HHIQ", 0x7ff0, 0, 1, 0x10100)) + hc(20, [U8(0), BUFARG(0xc0), U8(1)], sub=2)))
    # console_io write/read, memory map, vcpu_info, hvm params, sched shutdown.
    s.append(("misc", buf(0, b"hello from the fuzzer\n") + hc(18, [U8(0), U8(22), BUFARG()], sub=0) +
              hc(18, [U8(0), U8(64), BUFARG(0x100)], sub=1) +
              buf(0x200, struct.pack("<I4xQ", 8, 0x10400)) + hc(12, [U8(0), BUFARG(0x200), U8(0)], sub=9) +
              buf(0x300, struct.pack("<QI", 0x11, 0x40)) + hc(24, [U8(0), U8(0), BUFARG(0x300)], sub=10) +
              buf(0x340, struct.pack("<HHIQ", 0x7ff0, 0, 2, 0)) + hc(34, [U8(0), BUFARG(0x340), U8(0)], sub=1) +
              buf(0x380, struct.pack("<HHIQ", 0x7ff0, 0, 1, 0x12)) + hc(34, [U8(0), BUFARG(0x380), U8(0)], sub=0) +
              hc(24, [U8(0), U8(1), U8(0)], sub=3) +
              buf(0x3c0, struct.pack("<I", 2)) + hc(29, [U8(0), BUFARG(0x3c0), U8(0)], sub=2)))
    # user mode and bad addresses.
    s.append(("hostile", bytes([11, 3]) + hc(17, [U8(0), BUFARG(), U8(0)], sub=0) + bytes([11, 0]) +
              hc(17, [U8(0), (6, b"\0\0"), U8(0)], sub=1) + hc(17, [U8(0), (5, b"\x04"), U8(0)], sub=1) +
              hc(17, [U8(0), (13, b"\0\0"), U8(0)], sub=1) + hc(17, [U8(0), (14, b"\0\0"), U8(0)], sub=1) +
              hc(17, [U8(0), (12, b"\0\0"), U8(0)], sub=1) +
              hc(12, [U8(0), (5, b"\x08"), U8(0)], sub=9) + hc(63, [U8(0)], sub=0)))
    # The hypercall page placed over the guest's code, then written by calls.
    s.append(("cpuid_msr", bytes([13, 1]) + struct.pack("<HB", 0, 0) + bytes([13, 1]) +
              struct.pack("<HB", 3, 1) + bytes([13, 2, 0]) + q(0) + bytes([13, 3, 0]) + q(0x5000)))
    s.append(("hcall_page", bytes([13, 0]) + hc(17, [U8(0), (15, b"\x10\x00"), U8(0)], sub=1) +
              hc(17, [U8(0), (15, b"\xf8\x0f"), U8(0)], sub=2) + bytes([13, 4]) + q(0x7000) +
              hc(17, [U8(0), (12, b"\x00\x10"), U8(0)], sub=1)))
    s.append(("compat", hc(17, [U8(0), BUFARG(), U8(0)], sub=1) + buf(0, alloc) +
              hc(32, [U8(0), BUFARG(), U8(0)], sub=6)))
    # runstate: the update flag on, vCPU 0's area in the buffers, another
    # straddling two pages for vCPU 1, a block, get_runstate_info.
    s.append(("runstate", hc(21, [U8(0), U8(5), U8(0)], sub=0) +
              buf(0, struct.pack("<Q", 0x10100)) + hc(24, [U8(0), U8(0), BUFARG(0)], sub=5) +
              buf(0x40, struct.pack("<Q", 0x10fec)) + hc(24, [U8(0), U8(1), BUFARG(0x40)], sub=5) +
              hc(29, [U8(0), U8(0), U8(0)], sub=1) + hc(24, [U8(0), U8(0), BUFARG(0x200)], sub=4) +
              at(0x40, hc(24, [U8(0), U8(1), BUFARG(0x300)], sub=4))))
    # time areas (VCPUOP_register_vcpu_time_memory_area) with the stable
    # pvclock: vCPU 0's in the buffers, vCPU 1's straddling two pages, a
    # block, then vCPU 0's turned off.
    s.append(("timearea", buf(0, struct.pack("<Q", 0x10100)) + hc(24, [U8(0), U8(0), BUFARG(0)], sub=13) +
              buf(0x40, struct.pack("<Q", 0x10ff0)) + hc(24, [U8(0), U8(1), BUFARG(0x40)], sub=13) +
              hc(29, [U8(0), U8(0), U8(0)], sub=1) + at(0x40, hc(17, [U8(0), BUFARG(0x300), U8(0)], sub=0)) +
              buf(0x80, struct.pack("<Q", 0)) + hc(24, [U8(0), U8(0), BUFARG(0x80)], sub=13)))
    for name, body in s:
        setup = 0x0a if name == "compat" else 0x24 if name == "timearea" else 0x04
        out("hypercall", name, bytes([setup]) + body)
        out("hypercall", name + "_svm", bytes([setup | 1]) + body)


def xsave_seeds():
    """fuzz_xsave: set-up byte, then per set: XCR0 pick (an index into the
    harness's list 1, 3, 7, 0xe7, 0, 2, 5, ..., or 0xe0+ and 8 raw bytes),
    size pick, runs of bytes at offsets, header byte (+ XSTATE_BV), MXCSR byte."""
    def one(pick, runs=b"\0", header=0, bv=b"", size=b"\0"):
        mx = b"" if header & 8 else b"\0"
        return pick + size + runs + bytes([header]) + bv + mx
    P = lambda i: bytes([i])
    ymm = bytes([1]) + struct.pack("<HB", 576, 64) + bytes(range(1, 65))
    zmm = (bytes([3]) + struct.pack("<HB", 576, 200) + bytes(range(200)) +
           struct.pack("<HB", 1088, 64) + bytes([0xa5] * 64) + struct.pack("<HB", 1664, 255) + bytes([0x5a] * 255))
    out("xsave", "avx", P(0) + one(P(2), ymm))
    out("xsave", "avx512", P(0) + one(P(3), zmm))
    out("xsave", "legacy_then_avx", P(8) + one(P(1)) + one(P(2), ymm, header=1, bv=struct.pack("<Q", 3)))
    out("xsave", "bad_bv", P(0) + one(P(2), ymm, header=2, bv=struct.pack("<Q", 0x207)))
    out("xsave", "bad_header", P(0) + one(P(2), bytes([1]) + struct.pack("<HB", 520, 8) + bytes([1] * 8), header=4))
    out("xsave", "bad_mxcsr", P(0) + one(P(2), bytes([1]) + struct.pack("<HB", 24, 4) + struct.pack("<I", 0x10000), header=8))
    out("xsave", "short", P(0) + one(P(2), size=bytes([0xf0]) + struct.pack("<H", 600)))
    out("xsave", "hidden_avx", P(2) + one(P(2), ymm))
    out("xsave", "hidden_avx512", P(4) + one(P(3), zmm))
    out("xsave", "no_xsave", P(1) + one(P(1)))
    out("xsave", "raw_xcr0", P(0) + one(bytes([0xf0]) + struct.pack("<Q", 0xe7), zmm, size=bytes([0xe0])))


def lapic_seeds():
    """fuzz_lapic: set-up byte (1 BSP, 2 x2APIC offered, 4 TSC-deadline
    offered, 8 enabled), APIC ID, TSC, then commands ((selector & 15) % 10:
    0/1 write, 2 read, 3 base, 4 TSC deadline, 5 accept, 6 TSC move,
    7 timer run, 8 INTA, 9 EOI, in the low nibble; bit 4 the x2APIC form
    or a read, bit 5 a 64-bit value)."""
    W = lambda reg, v: bytes([0, reg >> 4]) + struct.pack("<I", v)
    W2 = lambda reg, v: bytes([0x10, reg >> 4]) + struct.pack("<I", v)
    R = lambda reg, x2=0: bytes([2 | (0x10 if x2 else 0), reg >> 4])
    ACC = lambda v: bytes([5, v])
    STEP = lambda n: bytes([6 + 0x10 * 0, (n & 0x1f) << 3])
    RUN, INTA, EOI = bytes([7]), bytes([8]), bytes([9])
    hdr = lambda setup, tsc=1000: bytes([setup, 0]) + struct.pack("<Q", tsc)
    sw = W(0xf0, 0x1ff)
    out("lapic", "priorities", hdr(9) + sw + ACC(0x31) + ACC(0x52) + ACC(0x45) + W(0x80, 0x40) +
        INTA + INTA + EOI + INTA + EOI + EOI + R(0xa0) + R(0x100) + R(0x200))
    out("lapic", "oneshot", hdr(9) + sw + W(0x3e0, 0xb) + W(0x320, 0x60) + W(0x380, 50) + R(0x390) +
        STEP(20) + R(0x390) + STEP(31) + RUN + INTA + EOI + R(0x390))
    out("lapic", "periodic", hdr(9) + sw + W(0x3e0, 0xb) + W(0x320, 0x20061) + W(0x380, 1) +
        STEP(5) + RUN + INTA + STEP(31) + RUN + R(0x390) + bytes([6, 4]) + struct.pack("<Q", 3) + RUN + R(0x390))
    out("lapic", "tscdl", hdr(15) + sw + W(0x320, 0x40062) + bytes([4]) + struct.pack("<H", 40) +
        bytes([0x14]) + STEP(31) + RUN + INTA + EOI)
    out("lapic", "x2apic", hdr(15) + bytes([3, 0x10]) + struct.pack("<Q", 0xfee00000 | 0xd00) +
        W2(0xf0, 0x1ff) + W2(0x3f0, 0x61) + INTA + W2(0xb0, 0) + W2(0x20, 5) + R(0x20, 1) + W2(0x300, 0x4031) +
        R(0x310, 1) + W2(0x80, 0x1ff) + bytes([3, 0x10]) + struct.pack("<Q", 0xfee00000 | 0x800))
    out("lapic", "errors", hdr(9) + sw + W(0x370, 0x7e) + ACC(3) + W(0x280, 0) + R(0x280) + W(0x300, 0x4005) +
        W(0x280, 0) + R(0x280) + INTA + EOI)


# ---------------------------------------------------------------- assist
def assist_seeds():
    """fuzz_assist.c: a set-up byte (mode 0 real, 1 flat protected, 2 long;
    +4 the fast path), then commands: 0 write guest bytes, 1 (+8: a 16-bit
    value) set a GPR, 2 (+0x10: DS/ES bases) RFLAGS, 3 script a fault,
    4 script port I/O, 5/6 run, 7 handler failures / range moved."""
    code = 0x8000

    def w16(v):
        return struct.pack("<H", v)

    def wbytes(at, b):
        return bytes([0x00]) + w16(at) + bytes([len(b)]) + bytes(b)

    def gpr16(r, v):
        return bytes([0x09, r]) + w16(v)

    def npf(region, access, off):  # region 0 handler, 1 embedder, 2 hole
        return bytes([0x03, region | access << 2, 0]) + w16(off)

    run = bytes([0x05])
    out("assist", "pm32_load_handler", bytes([1 | 4]) + wbytes(code, [0x8b, 0x05, 0x10, 0x00, 0x0a, 0x00]) +
        npf(0, 1, 0x10) + run)
    out("assist", "pm32_store_embedder", bytes([1]) + wbytes(code, [0x89, 0x05, 0x20, 0x00, 0x0b, 0x00]) +
        npf(1, 2, 0x20) + run)
    # OUT imm8, AL on the handler's port 0x60: handled, size 1, write, length 2.
    out("assist", "long_out_handler", bytes([2 | 4]) + wbytes(code, [0xe6, 0x60]) +
        bytes([0x04, 0x29, 0, 0x00]) + run)
    # REP OUTSB to 0x3f8 (the embedder's): string, write, REP, length 2.
    out("assist", "pm32_rep_outsb", bytes([1]) + gpr16(1, 3) + gpr16(6, 0x9000) + gpr16(2, 0x3f8) +
        wbytes(0x9000, b"abc") + wbytes(code, [0xf3, 0x6e]) + bytes([0x04, 0xb8, 0]) + w16(0x3f8) + run)
    # REP INSW from the handler's port 0x62.
    out("assist", "pm32_rep_insw_handler", bytes([1]) + gpr16(1, 2) + gpr16(7, 0x9100) + gpr16(2, 0x62) +
        wbytes(code, [0xf3, 0x66, 0x6d]) + bytes([0x04, 0xd3, 0, 0x02]) + run)
    # Real mode: DS based at the handler's region.
    out("assist", "real_load_handler", bytes([0]) + bytes([0x12]) + w16(2) + bytes([0xa0, 0xa0]) +
        wbytes(code, [0xa1, 0x10, 0x00]) + npf(0, 1, 0x10) + run)
    # IN AL, 0x61 with the handlers failing.
    out("assist", "pm32_in_handler_fails", bytes([1, 0x37]) + wbytes(code, [0xe4, 0x61]) +
        bytes([0x04, 0x21, 0, 0x01]) + run)
    # REP MOVSD from the handler's region to the embedder's.
    out("assist", "long_rep_movsd", bytes([2]) + gpr16(1, 2) + bytes([0x01, 6]) + struct.pack("<Q", 0xa0100) +
        bytes([0x01, 7]) + struct.pack("<Q", 0xb0200) + wbytes(code, [0xf3, 0xa5]) + npf(0, 1, 0x100) +
        run + run)


def main():
    # Only the seeds named here are rewritten: the other files of a corpus
    # directory (regress-* reproducers, inputs kept from long runs) stay.
    loader_seeds()
    emu_seeds()
    slat_seeds()
    hypercall_seeds()
    xsave_seeds()
    lapic_seeds()
    assist_seeds()


if __name__ == "__main__":
    sys.exit(main())

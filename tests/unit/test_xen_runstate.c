/*
 * Runstate areas (VCPUOP_register_runstate_memory_area,
 * VCPUOP_get_runstate_info) and vm_assist's runstate_update_flag: the
 * layouts, the transitions and their times on the mock host's clock, the
 * update-flag protocol, and the refusals.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "xen/internal.h"
#include "xen_fixture.h"

#define RS_GET      4
#define RS_REGISTER 5
#define VCPU_UP     1
#define VCPU_DOWN   2
#define SCHED_YIELD 0
#define SCHED_BLOCK 1
#define SCHED_POLL  3
#define RUNNING     0
#define RUNNABLE    1
#define BLOCKED     2
#define OFFLINE     3
#define UPDATE_BIT  (1ull << 63)
#define MS          1000000ull

struct rs {
    uint32_t state;
    uint64_t entry;
    uint64_t time[4];
};

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A runstate_info in guest RAM at @p gpa, in the 64-bit or i386 layout. */
static struct rs rs_at(struct xf *f, uint64_t gpa, bool compat)
{
    const uint8_t *p = xf_gpa(f, gpa);
    struct rs r;
    unsigned entry = compat ? 4 : 8, t0 = compat ? 12 : 16;
    r.state = (uint32_t)get_le(p, 4);
    r.entry = get_le(p + entry, 8);
    for (unsigned i = 0; i < 4; i++)
        r.time[i] = get_le(p + t0 + 8 * i, 8);
    return r;
}

static void advance(struct xf *f, uint64_t ns)
{
    f->mh.time += ns;
}

/* Register the area of vCPU @p id at guest-virtual @p gva (argument at XF_BUF2). */
static long reg_area(struct xf *f, uint32_t id, uint64_t gva)
{
    memcpy(xf_gpa(f, XF_BUF2), &gva, 8);
    return xf_call(f, HC_VCPU_OP, RS_REGISTER, id, XF_BUF2, 0, 0, 0);
}

static void check_rs(struct rs r, uint32_t state, uint64_t entry, uint64_t t0, uint64_t t1,
                     uint64_t t2, uint64_t t3)
{
    CU_ASSERT_EQUAL(r.state, state);
    CU_ASSERT_EQUAL(r.entry, entry);
    CU_ASSERT_EQUAL(r.time[0], t0);
    CU_ASSERT_EQUAL(r.time[1], t1);
    CU_ASSERT_EQUAL(r.time[2], t2);
    CU_ASSERT_EQUAL(r.time[3], t3);
}

/* The whole life of one vCPU's area, in either layout: written at
   registration, at each transition (block, yield, HLT) and the next run,
   with the times of the clock; get_runstate_info adds the current state's
   time so far; a null address ends the updates. */
static void transitions(bool compat)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.compat = compat});
    size_t size = compat ? 44 : 48;
    /* 64-bit: a virtual address whose page is elsewhere (gva 0x40000000 ->
       gpa 0x200000); paging off: physical. */
    uint64_t gva = compat ? XF_BUF + 0x100 : XF_ALIAS_GVA + 0x100;
    uint64_t gpa = compat ? XF_BUF + 0x100 : XF_ALIAS_GPA + 0x100;
    memset(xf_gpa(&f, gpa), 0xaa, 64);

    /* Guest time 0 at enable; vCPU 0 runnable until its first run. */
    advance(&f, 1000);
    CU_ASSERT_EQUAL(reg_area(&f, 0, gva), 0);
    check_rs(rs_at(&f, gpa, compat), RUNNING, 1000, 0, 1000, 0, 0);
    CU_ASSERT_EQUAL(*(uint8_t *)xf_gpa(&f, gpa + size), 0xaa); /* nothing beyond */

    /* SCHEDOP_block: blocked from the call to the next run. */
    advance(&f, 5000);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, SCHED_BLOCK, 0, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    check_rs(rs_at(&f, gpa, compat), BLOCKED, 6000, 5000, 1000, 0, 0);
    advance(&f, 7000);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 0, XF_BUF, 0, 0, 0), 0);
    check_rs(rs_at(&f, gpa, compat), RUNNING, 13000, 5000, 1000, 7000, 0);
    check_rs(rs_at(&f, XF_BUF, compat), RUNNING, 13000, 5000, 1000, 7000, 0);

    /* get_runstate_info counts the current state up to now; the area has
       the state as it began. */
    advance(&f, 2000);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 0, XF_BUF, 0, 0, 0), 0);
    check_rs(rs_at(&f, XF_BUF, compat), RUNNING, 13000, 7000, 1000, 7000, 0);
    check_rs(rs_at(&f, gpa, compat), RUNNING, 13000, 5000, 1000, 7000, 0);

    /* SCHEDOP_yield: runnable until the next run. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, SCHED_YIELD, 0, 0, 0, 0, 0), 0);
    check_rs(rs_at(&f, gpa, compat), RUNNABLE, 15000, 7000, 1000, 7000, 0);
    advance(&f, 300);
    xf_enter(&f, f.vcpu);
    check_rs(rs_at(&f, gpa, compat), RUNNING, 15300, 7000, 1300, 7000, 0);

    /* HLT with nothing to deliver: blocked. */
    advance(&f, 100);
    mock_script_kind(f.vcpu, HV_VX_HLT, 0x500);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu, &f.exit), HV_OK);
    CU_ASSERT_EQUAL(f.exit.reason, HV_EXIT_HLT);
    check_rs(rs_at(&f, gpa, compat), BLOCKED, 15400, 7100, 1300, 7000, 0);
    advance(&f, 50);
    xf_enter(&f, f.vcpu);
    check_rs(rs_at(&f, gpa, compat), RUNNING, 15450, 7100, 1300, 7050, 0);

    /* SCHEDOP_poll of a port with nothing pending: blocked too. */
    uint32_t port = 1;
    memcpy(xf_gpa(&f, XF_BUF + 0x800), &port, 4);
    uint8_t poll[24] = {0};
    uint64_t ports = XF_BUF + 0x800;      /* identity-mapped, or paging off */
    memcpy(poll, &ports, compat ? 4 : 8); /* sched_poll: the i386 handle is 4 bytes */
    poll[compat ? 4 : 8] = 1;             /* nr_ports */
    advance(&f, 5);
    memcpy(xf_gpa(&f, XF_BUF + 0x900), poll, sizeof(poll));
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, SCHED_POLL, XF_BUF + 0x900, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.exit.hlt.source, HV_HLT_POLL);
    check_rs(rs_at(&f, gpa, compat), BLOCKED, 15455, 7105, 1300, 7050, 0);
    advance(&f, 45);
    xf_enter(&f, f.vcpu);
    check_rs(rs_at(&f, gpa, compat), RUNNING, 15500, 7105, 1300, 7095, 0);

    /* A null address turns the updates off; the accounting goes on. */
    CU_ASSERT_EQUAL(reg_area(&f, 0, 0), 0);
    advance(&f, 10);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, SCHED_BLOCK, 0, 0, 0, 0, 0), 0);
    check_rs(rs_at(&f, gpa, compat), RUNNING, 15500, 7105, 1300, 7095, 0);
    advance(&f, 20);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 0, XF_BUF, 0, 0, 0), 0);
    check_rs(rs_at(&f, XF_BUF, compat), RUNNING, 15530, 7115, 1300, 7115, 0);
    xf_teardown(&f);
}

static void test_transitions_64(void)
{
    transitions(false);
}

static void test_transitions_32(void)
{
    transitions(true);
}

/* Offline while down, runnable once up until it runs; another vCPU's area
   registered by vCPU 0 is written at once with that vCPU's state; a vCPU
   taking itself down writes offline. */
static void test_offline(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true, .vcpu1_down = true});
    advance(&f, 4000);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 1, XF_BUF, 0, 0, 0), 0);
    check_rs(rs_at(&f, XF_BUF, false), OFFLINE, 0, 0, 0, 0, 4000);
    CU_ASSERT_EQUAL(reg_area(&f, 1, XF_BUF + 0x200), 0);
    check_rs(rs_at(&f, XF_BUF + 0x200, false), OFFLINE, 0, 0, 0, 0, 4000);

    CU_ASSERT_EQUAL(hv_xen_vcpu_set_up(f.vcpu1, true), HV_OK);
    advance(&f, 600);
    xf_enter(&f, f.vcpu1); /* its first run writes its area */
    check_rs(rs_at(&f, XF_BUF + 0x200, false), RUNNING, 4600, 0, 600, 0, 4000);

    /* vCPU 1 takes itself down: offline, written by its own call. */
    advance(&f, 400);
    CU_ASSERT_EQUAL(xf_call_on(&f, f.vcpu1, HC_VCPU_OP, VCPU_DOWN, 1, 0), 0);
    CU_ASSERT_EQUAL(f.exit.hlt.source, HV_HLT_DOWN);
    check_rs(rs_at(&f, XF_BUF + 0x200, false), OFFLINE, 5000, 400, 600, 0, 4000);
    /* While down it does not run: its runs leave the state alone. */
    advance(&f, 100);
    CU_ASSERT_EQUAL(hv_vcpu_run(f.vcpu1, &f.exit), HV_OK);
    CU_ASSERT_EQUAL(f.exit.hlt.source, HV_HLT_DOWN);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 1, XF_BUF, 0, 0, 0), 0);
    check_rs(rs_at(&f, XF_BUF, false), OFFLINE, 5000, 400, 600, 0, 4100);
    /* VCPUOP_up from vCPU 0: runnable until vCPU 1 runs, which writes its
       area (the up left it as it was). */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, VCPU_UP, 1, 0, 0, 0, 0), 0);
    check_rs(rs_at(&f, XF_BUF + 0x200, false), OFFLINE, 5000, 400, 600, 0, 4000);
    advance(&f, 25);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 1, XF_BUF, 0, 0, 0), 0);
    check_rs(rs_at(&f, XF_BUF, false), RUNNABLE, 5100, 400, 625, 0, 4100);
    xf_enter(&f, f.vcpu1);
    check_rs(rs_at(&f, XF_BUF + 0x200, false), RUNNING, 5125, 400, 625, 0, 4100);
    xf_teardown(&f);
}

/* vCPU 1 blocked in SCHEDOP_block at 100 ms and woken by an IPI from
   vCPU 0 (area at XF_BUF + 0x200); returns the IPI's port. */
static uint32_t block_and_wake(struct xf *f)
{
    uint32_t ipi[2] = {1, 0}; /* EVTCHNOP_bind_ipi to vCPU 1 */
    memcpy(xf_gpa(f, XF_BUF), ipi, 8);
    CU_ASSERT_EQUAL(xf_call(f, HC_EVTCHN, 7, XF_BUF, 0, 0, 0, 0), 0);
    uint32_t port;
    memcpy(&port, xf_gpa(f, XF_BUF + 4), 4);
    CU_ASSERT_EQUAL(reg_area(f, 1, XF_BUF + 0x200), 0);
    xf_enter(f, f->vcpu1);
    advance(f, 100 * MS);
    CU_ASSERT_EQUAL(xf_call_on(f, f->vcpu1, HC_SCHED, SCHED_BLOCK, 0, 0), 0);
    CU_ASSERT_EQUAL(f->exit.hlt.source, HV_HLT_BLOCK);
    check_rs(rs_at(f, XF_BUF + 0x200, false), BLOCKED, 100 * MS, 100 * MS, 0, 0, 0);
    advance(f, 300 * MS);
    unsigned wakes = f->wakes;
    memcpy(xf_gpa(f, XF_BUF), &port, 4);
    CU_ASSERT_EQUAL(xf_call(f, HC_EVTCHN, 4, XF_BUF, 0, 0, 0, 0), 0); /* send */
    CU_ASSERT_EQUAL(f->wakes, wakes + 1);
    CU_ASSERT(f->vm->xen->vcpus[1].rs_woken);
    return port;
}

/* An event for a blocked vCPU makes it runnable from the wake until its
   next run. The wake is stamped with the (real) TSC: here it is moved
   600 ms of TSC back from a clock at 1400 ms, so the wake lands at 800 ms
   less the little real time the test itself takes. */
static void test_wake(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true});
    struct hv_xen_vm *x = f.vm->xen;
    block_and_wake(&f);
    advance(&f, 1000 * MS);
    x->vcpus[1].rs_wake_tsc = hv_rdtsc() - (uint64_t)XF_TSC_KHZ * 600; /* 600 ms of ticks */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 1, XF_BUF, 0, 0, 0), 0);
    struct rs r = rs_at(&f, XF_BUF, false);
    CU_ASSERT_EQUAL(r.state, RUNNABLE);
    CU_ASSERT(r.entry <= 800 * MS && r.entry > 750 * MS);
    CU_ASSERT_EQUAL(r.time[RUNNING], 100 * MS);
    CU_ASSERT_EQUAL(r.time[BLOCKED], r.entry - 100 * MS);
    CU_ASSERT_EQUAL(r.time[RUNNABLE], 1400 * MS - r.entry);
    CU_ASSERT_EQUAL(r.time[OFFLINE], 0);
    /* Its next run: running from then, the wait counted as runnable. */
    advance(&f, 50 * MS);
    xf_enter(&f, f.vcpu1);
    check_rs(rs_at(&f, XF_BUF + 0x200, false), RUNNING, 1450 * MS, 100 * MS, 1450 * MS - r.entry,
             r.entry - 100 * MS, 0);
    xf_teardown(&f);

    /* A wake that the TSC places before the block began (the clock read
       before the lock lags): runnable from the block's start, never earlier. */
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true});
    x = f.vm->xen;
    block_and_wake(&f);
    x->vcpus[1].rs_wake_tsc = hv_rdtsc() - (uint64_t)XF_TSC_KHZ * 10000; /* 10 s */
    xf_enter(&f, f.vcpu1);
    check_rs(rs_at(&f, XF_BUF + 0x200, false), RUNNING, 400 * MS, 100 * MS, 300 * MS, 0, 0);
    CU_ASSERT(!x->vcpus[1].rs_woken);
    xf_teardown(&f);

    /* Run without a wake (its timer, the embedder's choice): blocked until
       the run, as before. */
    xf_setup(&f, &(struct xf_opts){.two_vcpus = true});
    CU_ASSERT_EQUAL(reg_area(&f, 1, XF_BUF + 0x200), 0);
    xf_enter(&f, f.vcpu1);
    advance(&f, 100);
    CU_ASSERT_EQUAL(xf_call_on(&f, f.vcpu1, HC_SCHED, SCHED_BLOCK, 0, 0), 0);
    advance(&f, 300);
    xf_enter(&f, f.vcpu1);
    check_rs(rs_at(&f, XF_BUF + 0x200, false), RUNNING, 400, 100, 0, 300, 0);
    xf_teardown(&f);
}

/* With HV_XEN_F_TSC_STABLE guest time is the TSC, so the wake's TSC
   stamp is its exact guest time (here set 100 ns after the block began). */
static void test_wake_stable(void)
{
    struct xf f;
    struct xf_opts o = {.two_vcpus = true};
    o.cfg.flags = HV_XEN_F_TSC_STABLE;
    xf_setup(&f, &o);
    struct hv_xen_vm *x = f.vm->xen;
    struct hv_xen_vcpu *xv = &x->vcpus[1];
    uint32_t ipi[2] = {1, 0};
    memcpy(xf_gpa(&f, XF_BUF), ipi, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, 7, XF_BUF, 0, 0, 0, 0), 0);
    xf_enter(&f, f.vcpu1);
    CU_ASSERT_EQUAL(xf_call_on(&f, f.vcpu1, HC_SCHED, SCHED_BLOCK, 0, 0), 0);
    uint64_t blocked = xv->rs_entry;
    CU_ASSERT(blocked > 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, 4, XF_BUF + 4, 0, 0, 0, 0), 0); /* send */
    CU_ASSERT(xv->rs_woken);
    xv->rs_wake_tsc = x->tsc_base + 2 * (blocked + 100); /* 2 ticks a ns */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 1, XF_BUF2, 0, 0, 0), 0);
    struct rs r = rs_at(&f, XF_BUF2, false);
    CU_ASSERT_EQUAL(r.state, RUNNABLE);
    CU_ASSERT_EQUAL(r.entry, blocked + 100);
    CU_ASSERT_EQUAL(r.time[BLOCKED], 100);
    CU_ASSERT(r.time[RUNNABLE] > 0); /* the get came later */
    xf_teardown(&f);
}

/* Bad addresses: the argument itself -EFAULT; an area that does not
   translate to writable RAM (a hole, a read-only page, straddling into a
   hole) is accepted and never written, and a good one registered later is
   written whole; an area straddling two good pages is written across. */
static void test_bad_areas(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_REGISTER, 0, XF_HOLE, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 0, XF_HOLE, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 0, XF_RO_PAGE, 0, 0, 0), E_FAULT);

    uint8_t before[64];
    memset(xf_gpa(&f, XF_HOLE - 32), 0x55, 32);
    memcpy(before, xf_gpa(&f, XF_HOLE - 32), 32);
    CU_ASSERT_EQUAL(reg_area(&f, 0, XF_HOLE - 20), 0); /* straddles into the hole */
    CU_ASSERT_EQUAL(memcmp(before, xf_gpa(&f, XF_HOLE - 32), 32), 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, SCHED_BLOCK, 0, 0, 0, 0, 0), 0);
    xf_enter(&f, f.vcpu);
    CU_ASSERT_EQUAL(memcmp(before, xf_gpa(&f, XF_HOLE - 32), 32), 0);
    CU_ASSERT_EQUAL(reg_area(&f, 0, XF_HOLE), 0);
    CU_ASSERT_EQUAL(reg_area(&f, 0, ~0ull - 8), 0); /* wraps */
    uint8_t ro[48];
    memcpy(ro, xf_gpa(&f, XF_RO_PAGE), sizeof(ro));
    CU_ASSERT_EQUAL(reg_area(&f, 0, XF_RO_PAGE), 0);
    CU_ASSERT_EQUAL(memcmp(ro, xf_gpa(&f, XF_RO_PAGE), sizeof(ro)), 0);

    /* Straddling two writable pages, misaligned: written across. */
    advance(&f, 40);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, SCHED_BLOCK, 0, 0, 0, 0, 0), 0);
    advance(&f, 30);
    xf_enter(&f, f.vcpu);
    uint64_t at = XF_BUF + 0x1000 - 21;
    memset(xf_gpa(&f, at), 0x55, 48);
    CU_ASSERT_EQUAL(reg_area(&f, 0, at), 0);
    check_rs(rs_at(&f, at, false), RUNNING, 70, 40, 0, 30, 0);
    xf_teardown(&f);
}

/* vCPU ids: out of range or never created: -ENOENT. */
static void test_enoent(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.max_vcpus = 3});
    CU_ASSERT_EQUAL(reg_area(&f, 3, XF_BUF), E_NOENT);
    CU_ASSERT_EQUAL(reg_area(&f, 1, XF_BUF), E_NOENT); /* not created */
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 3, XF_BUF, 0, 0, 0), E_NOENT);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VCPU_OP, RS_GET, 1, XF_BUF, 0, 0, 0), E_NOENT);
    xf_teardown(&f);
}

/* vm_assist: runstate_update_flag only (-EINVAL for any other type),
   enable and disable (-ENOSYS for another command). */
static void test_vm_assist(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    struct hv_xen_vm *x = f.vm->xen;
    for (uint64_t type = 0; type < 70; type++) {
        if (type != 5)
            CU_ASSERT_EQUAL(xf_call(&f, HC_VM_ASSIST, 0, type, 0, 0, 0, 0), E_INVAL);
    }
    CU_ASSERT_EQUAL(xf_call(&f, HC_VM_ASSIST, 0, 0x100000005ull, 0, 0, 0, 0), 0); /* unsigned int */
    CU_ASSERT(x->rs_update_flag);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VM_ASSIST, 2, 5, 0, 0, 0, 0), E_NOSYS);
    CU_ASSERT(x->rs_update_flag);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VM_ASSIST, 1, 5, 0, 0, 0, 0), 0);
    CU_ASSERT(!x->rs_update_flag);
    CU_ASSERT_EQUAL(xf_call(&f, HC_VM_ASSIST, 0, 5, 0, 0, 0, 0), 0);
    /* The area with the flag on ends with the bit clear. */
    advance(&f, 9);
    CU_ASSERT_EQUAL(reg_area(&f, 0, XF_BUF), 0);
    CU_ASSERT_EQUAL(xf_call(&f, HC_SCHED, SCHED_BLOCK, 0, 0, 0, 0, 0), 0);
    check_rs(rs_at(&f, XF_BUF, false), BLOCKED, 9, 9, 0, 0, 0);
    xf_teardown(&f);
}

/* The update-flag protocol step by step: the flag byte set, then the
   whole structure (flag still set), then the flag byte cleared; without
   the flag, one write. */
struct step {
    size_t off, len;
    uint8_t bytes[48];
};
struct steps {
    unsigned n;
    struct step s[4];
};

static void record(void *opaque, size_t off, const uint8_t *src, size_t len)
{
    struct steps *r = opaque;
    CU_ASSERT_FATAL(r->n < 4);
    r->s[r->n].off = off;
    r->s[r->n].len = len;
    memcpy(r->s[r->n].bytes, src, len);
    r->n++;
}

static void protocol(bool compat)
{
    struct hv_xen_vcpu xv;
    memset(&xv, 0, sizeof(xv));
    xv.rs_state = BLOCKED;
    xv.rs_entry = 0x0123456789abcdefull;
    xv.rs_time[2] = 5;
    uint8_t img[48];
    size_t len = xen_runstate_encode(&xv, compat, 0, img);
    CU_ASSERT_EQUAL(len, compat ? 44u : 48u);
    size_t hi = compat ? 11 : 15;
    CU_ASSERT_EQUAL(img[hi], 0x01);

    struct steps r = {0};
    xen_runstate_store(img, len, true, record, &r);
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    CU_ASSERT(r.s[0].off == hi && r.s[0].len == 1 && r.s[0].bytes[0] == 0x81);
    CU_ASSERT(r.s[1].off == 0 && r.s[1].len == len && r.s[1].bytes[hi] == 0x81);
    r.s[1].bytes[hi] = 0x01;
    CU_ASSERT_EQUAL(memcmp(r.s[1].bytes, img, len), 0);
    CU_ASSERT(r.s[2].off == hi && r.s[2].len == 1 && r.s[2].bytes[0] == 0x01);

    memset(&r, 0, sizeof(r));
    xen_runstate_store(img, len, false, record, &r);
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    CU_ASSERT(r.s[0].off == 0 && r.s[0].len == len && !memcmp(r.s[0].bytes, img, len));

    /* get_runstate_info's form: the current state's time up to now. */
    xen_runstate_encode(&xv, compat, xv.rs_entry + 10, img);
    CU_ASSERT_EQUAL(get_le(img + (compat ? 12 : 16) + 16, 8), 15u);
    CU_ASSERT_EQUAL(get_le(img + (compat ? 4 : 8), 8), xv.rs_entry);
}

static void test_protocol(void)
{
    protocol(false);
    protocol(true);
}

/* The layouts of vcpu.h: 48 bytes (8-byte aligned uint64_t) and 44 (i386). */
static void test_layout(void)
{
    CU_ASSERT_EQUAL(sizeof(struct xen_vcpu_runstate_info_64), 48);
    CU_ASSERT_EQUAL(sizeof(struct xen_vcpu_runstate_info_32), 44);
    CU_ASSERT_EQUAL(offsetof(struct xen_vcpu_runstate_info_64, state_entry_time), 8);
    CU_ASSERT_EQUAL(offsetof(struct xen_vcpu_runstate_info_32, state_entry_time), 4);
    CU_ASSERT_EQUAL(offsetof(struct xen_vcpu_runstate_info_64, time), 16);
    CU_ASSERT_EQUAL(offsetof(struct xen_vcpu_runstate_info_32, time), 12);
    CU_ASSERT_EQUAL(UPDATE_BIT, XEN_RUNSTATE_UPDATE);
}

void xen_suite_runstate(void)
{
    CU_pSuite s = CU_add_suite("xen_runstate", NULL, NULL);
    CU_add_test(s, "layout", test_layout);
    CU_add_test(s, "transitions_64", test_transitions_64);
    CU_add_test(s, "transitions_32", test_transitions_32);
    CU_add_test(s, "offline", test_offline);
    CU_add_test(s, "wake", test_wake);
    CU_add_test(s, "wake_stable", test_wake_stable);
    CU_add_test(s, "bad_areas", test_bad_areas);
    CU_add_test(s, "enoent", test_enoent);
    CU_add_test(s, "vm_assist", test_vm_assist);
    CU_add_test(s, "protocol", test_protocol);
}

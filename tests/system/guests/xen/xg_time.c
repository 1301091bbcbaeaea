/*
 * The timearea group (xen.timearea runs it with HV_XEN_F_TSC_STABLE and
 * stable=1 on the command line): a second vcpu_time_info registered with
 * VCPUOP_register_vcpu_time_memory_area, read as Linux's vDSO reads it;
 * written before the call returns, equal to the primary in vcpu_info and
 * giving the same time at the same TSC, both with
 * XEN_PVCLOCK_TSC_STABLE_BIT exactly when stable=1; refreshed together
 * (each registration forces a refresh), the time advancing consistently;
 * the refusals; a null address ending the updates.
 */
#include "xg.h"

#define MS      1000000ull
#define HOLE    ((void *)(ureg)XG_HOLE_GPA)
#define NO_VCPU 200u

static volatile struct vcpu_time_info area __attribute__((aligned(64)));

struct ti {
    uint32_t version;
    uint64_t stamp, sys;
    uint32_t mul;
    int8_t shift;
    uint8_t flags;
};

/* A consistent copy (the version protocol: even and unchanged). */
static struct ti read_ti(volatile struct vcpu_time_info *t)
{
    struct ti r;
    do {
        r.version = t->version;
        xg_barrier();
        r.stamp = t->tsc_timestamp;
        r.sys = t->system_time;
        r.mul = t->tsc_to_system_mul;
        r.shift = t->tsc_shift;
        r.flags = t->flags;
        xg_barrier();
    } while ((r.version & 1) || r.version != t->version);
    return r;
}

static uint64_t ns_at(const struct ti *t, uint64_t tsc)
{
    uint64_t d = tsc - t->stamp;
    d = t->shift < 0 ? d >> -t->shift : d << t->shift;
    uint64_t lo = (uint64_t)(uint32_t)d * t->mul, hi = (d >> 32) * t->mul;
    return t->sys + hi + (lo >> 32);
}

static long reg(unsigned vcpu, ureg gva)
{
    struct vcpu_register_runstate_memory_area r; /* the same union of a pointer and p */
    r.addr.p = gva;
    return HC3(HC_vcpu_op, VCPUOP_register_vcpu_time_memory_area, vcpu, &r);
}

static void same(const struct ti *a, const struct ti *b)
{
    CHECK_EQ(a->version, b->version);
    CHECK_EQ(a->stamp, b->stamp);
    CHECK_EQ(a->sys, b->sys);
    CHECK_EQ(a->mul, b->mul);
    CHECK_EQ(a->shift, b->shift);
    CHECK_EQ(a->flags, b->flags);
}

void xg_test_timearea(void)
{
    CHECK_EQ(sizeof(struct vcpu_time_info), 32);
    memset((void *)&area, 0, sizeof(area));
    CHECK_EQ(reg(0, (ureg)&area), 0);
    /* Written before the call returned, as Linux checks its flags then. */
    struct ti a = read_ti(&area), p = read_ti(&xg_vi->time);
    CHECK(a.version >= 2);
    same(&a, &p);
    /* The bit exactly when the host vouches for the TSC (stable=1: the
       xen.timearea case; not in xen.gzip's run of every group). */
    CHECK_EQ(a.flags & XEN_PVCLOCK_TSC_STABLE_BIT, xg_arg_u32("stable", 0) ? 1u : 0u);
    uint64_t tsc = xg_rdtsc();
    CHECK_EQ(ns_at(&a, tsc), ns_at(&p, tsc));

    /* 20 ms later a registration refreshes both: the versions move on
       together, the time from the area by at least the 20 ms. */
    uint64_t t0 = ns_at(&a, xg_rdtsc());
    xg_spin_ns(20 * MS);
    CHECK_EQ(reg(0, (ureg)&area), 0);
    struct ti b = read_ti(&area);
    p = read_ti(&xg_vi->time);
    same(&b, &p);
    CHECK_EQ(b.version, a.version + 2);
    uint64_t t1 = ns_at(&b, xg_rdtsc());
    CHECK(t1 - t0 >= 20 * MS);
    CHECK(t1 <= xg_now());

    /* Refusals: the argument itself, a vCPU that does not exist. */
    CHECK_EQ(HC3(HC_vcpu_op, VCPUOP_register_vcpu_time_memory_area, 0, HOLE), -EFAULT);
    CHECK_EQ(reg(NO_VCPU, (ureg)&area), -ENOENT);
    CHECK_EQ(reg(1, (ureg)&area), -ENOENT); /* slot 1 never created */

    /* An address that does not translate: accepted, the area left alone. */
    CHECK_EQ(reg(0, XG_HOLE_GPA), 0);
    p = read_ti(&xg_vi->time);
    CHECK_EQ(p.version, b.version + 2);
    CHECK_EQ(read_ti(&area).version, b.version);
    /* A null address ends the updates: the primary moves on alone. */
    CHECK_EQ(reg(0, (ureg)&area), 0);
    CHECK_EQ(read_ti(&area).version, b.version + 4);
    CHECK_EQ(reg(0, 0), 0);
    CHECK_EQ(read_ti(&xg_vi->time).version, b.version + 6);
    CHECK_EQ(read_ti(&area).version, b.version + 4);
}

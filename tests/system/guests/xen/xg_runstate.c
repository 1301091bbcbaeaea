/*
 * The runstate group: vm_assist's runstate_update_flag, a registered
 * runstate area read as Linux reads it (retrying while the update flag is
 * set or the entry time moved), its times across a SCHEDOP_block on a
 * single-shot timer (runnable from the timer's wake to the next run),
 * VCPUOP_get_runstate_info against the area, the refusals, and a null
 * address ending the updates.
 */
#include "xg.h"

#define MS      1000000ull
#define HOLE    ((void *)(ureg)XG_HOLE_GPA)
#define NO_VCPU 200u

static volatile struct vcpu_runstate_info area __attribute__((aligned(64)));

static long vcpuop(unsigned cmd, unsigned vcpu, void *arg)
{
    return HC3(HC_vcpu_op, cmd, vcpu, arg);
}

/* A consistent copy of the area (the guest side of the update flag). */
static struct vcpu_runstate_info snapshot(void)
{
    struct vcpu_runstate_info r;
    uint64_t t;
    do {
        t = area.state_entry_time;
        xg_barrier();
        r.state = area.state;
        r.state_entry_time = area.state_entry_time;
        for (unsigned i = 0; i < 4; i++)
            r.time[i] = area.time[i];
        xg_barrier();
    } while (t != area.state_entry_time || (t & XEN_RUNSTATE_UPDATE));
    return r;
}

static bool same(const struct vcpu_runstate_info *a, const struct vcpu_runstate_info *b)
{
    return a->state == b->state && a->state_entry_time == b->state_entry_time &&
           a->time[0] == b->time[0] && a->time[1] == b->time[1] && a->time[2] == b->time[2] &&
           a->time[3] == b->time[3];
}

static uint64_t sum(const struct vcpu_runstate_info *r)
{
    return r->time[0] + r->time[1] + r->time[2] + r->time[3];
}

/* Sleep in SCHEDOP_block until VIRQ_TIMER on port @p t fires @p ns from now. */
static void block_for(evtchn_port_t t, uint64_t ns)
{
    unsigned fired = xg_fired[t];
    CHECK_EQ(xg_set_timer(xg_now() + ns), 0);
    uint64_t t0 = xg_now();
    while (xg_fired[t] == fired && xg_now() - t0 < 10000 * MS)
        CHECK_EQ(xg_sched(SCHEDOP_block, NULL), 0);
    CHECK(xg_fired[t] != fired);
}

static uint64_t blocked_so_far(void)
{
    struct vcpu_runstate_info g;
    CHECK_EQ(vcpuop(VCPUOP_get_runstate_info, 0, &g), 0);
    return g.time[RUNSTATE_blocked];
}

/* Block for @p ns at a time until the blocked total grew by @p min (a few
   tries: a host that stalls the guest past the deadline before the block
   leaves nothing to wait for). */
static void block_until(evtchn_port_t t, uint64_t ns, uint64_t min)
{
    uint64_t b0 = blocked_so_far();
    for (unsigned i = 0; i < 5 && blocked_so_far() - b0 < min; i++)
        block_for(t, ns);
}

void xg_test_runstate(void)
{
    CHECK_EQ(sizeof(struct vcpu_runstate_info), sizeof(ureg) == 8 ? 48 : 44);
    CHECK_EQ(HC2(HC_vm_assist, VMASST_CMD_enable, 4), -EINVAL);
    CHECK_EQ(HC2(HC_vm_assist, 7, VMASST_TYPE_runstate_update_flag), -ENOSYS);
    CHECK_EQ(HC2(HC_vm_assist, VMASST_CMD_enable, VMASST_TYPE_runstate_update_flag), 0);

    /* Registration writes the area at once: running since before the call,
       every nanosecond since time 0 counted in exactly one state. */
    memset((void *)&area, 0xff, sizeof(area));
    struct vcpu_register_runstate_memory_area r;
    r.addr.p = (ureg)&area;
    uint64_t t0 = xg_now();
    CHECK_EQ(vcpuop(VCPUOP_register_runstate_memory_area, 0, &r), 0);
    struct vcpu_runstate_info a = snapshot();
    CHECK_EQ(a.state, RUNSTATE_running);
    CHECK(a.state_entry_time <= t0);
    CHECK_EQ(sum(&a), a.state_entry_time);

    /* Blocked 20 ms on a single-shot timer: time[2] grew by about that,
       and so did time[0] (the running before and between the blocks). */
    evtchn_port_t t = xg_timer_events();
    uint64_t t1 = xg_now();
    block_until(t, 20 * MS, 10 * MS);
    uint64_t t2 = xg_now();
    struct vcpu_runstate_info b = snapshot();
    CHECK_EQ(b.state, RUNSTATE_running);
    CHECK(b.state_entry_time > a.state_entry_time && b.state_entry_time <= t2);
    CHECK(b.time[2] - a.time[2] >= 10 * MS);
    CHECK(b.time[2] - a.time[2] <= t2 - t1);
    CHECK(b.time[0] > a.time[0]);
    /* Runnable from the timer's wake to the next run: the harness fires
       the timer with hv_xen_vcpu_status(), whose event wakes the vCPU,
       before it runs it again (the time a scheduler takes is steal time). */
    CHECK(b.time[1] > a.time[1]);
    CHECK(b.time[1] - a.time[1] + b.time[2] - a.time[2] <= t2 - t1);
    CHECK_EQ(b.time[3], a.time[3]);
    CHECK_EQ(sum(&b), b.state_entry_time);

    /* get_runstate_info: the area's values, with the running time up to now. */
    struct vcpu_runstate_info g;
    uint64_t t3 = xg_now();
    CHECK_EQ(vcpuop(VCPUOP_get_runstate_info, 0, &g), 0);
    uint64_t t4 = xg_now();
    struct vcpu_runstate_info c = snapshot();
    CHECK_EQ(g.state, RUNSTATE_running);
    CHECK_EQ(g.state_entry_time, c.state_entry_time);
    CHECK_EQ(g.time[1], c.time[1]);
    CHECK_EQ(g.time[2], c.time[2]);
    CHECK_EQ(g.time[3], c.time[3]);
    CHECK(g.time[0] >= c.time[0] + (t3 - c.state_entry_time));
    CHECK(g.time[0] <= c.time[0] + (t4 - c.state_entry_time));

    /* Refusals. */
    CHECK_EQ(vcpuop(VCPUOP_get_runstate_info, 0, HOLE), -EFAULT);
    CHECK_EQ(vcpuop(VCPUOP_register_runstate_memory_area, 0, HOLE), -EFAULT);
    CHECK_EQ(vcpuop(VCPUOP_get_runstate_info, NO_VCPU, &g), -ENOENT);
    CHECK_EQ(vcpuop(VCPUOP_register_runstate_memory_area, NO_VCPU, &r), -ENOENT);
    CHECK_EQ(vcpuop(VCPUOP_get_runstate_info, 1, &g), -ENOENT); /* slot 1 never created */

    /* An address that does not translate: accepted, never written. */
    r.addr.p = XG_HOLE_GPA;
    CHECK_EQ(vcpuop(VCPUOP_register_runstate_memory_area, 0, &r), 0);
    struct vcpu_runstate_info d = snapshot();
    block_until(t, 2 * MS, 1 * MS);
    struct vcpu_runstate_info now = snapshot();
    CHECK(same(&now, &d));
    /* Re-registered: the whole area again, the 2 ms blocked included. */
    r.addr.p = (ureg)&area;
    CHECK_EQ(vcpuop(VCPUOP_register_runstate_memory_area, 0, &r), 0);
    struct vcpu_runstate_info e = snapshot();
    CHECK(e.time[2] - d.time[2] >= 1 * MS);
    /* A null address ends the updates. */
    r.addr.p = 0;
    CHECK_EQ(vcpuop(VCPUOP_register_runstate_memory_area, 0, &r), 0);
    block_until(t, 2 * MS, 1 * MS);
    now = snapshot();
    CHECK(same(&now, &e));
    CHECK_EQ(vcpuop(VCPUOP_get_runstate_info, 0, &g), 0);
    CHECK(g.time[2] - e.time[2] >= 1 * MS);

    CHECK_EQ(HC2(HC_vm_assist, VMASST_CMD_disable, VMASST_TYPE_runstate_update_flag), 0);
    xg_cli();
}

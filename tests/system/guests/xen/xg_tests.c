/*
 * The single-VM test groups of the Xen test guest: every hypercall libhv
 * implements, with valid and invalid arguments, checked against the values
 * Xen documents. The host (examples/kernel/cases/xen_cases.c) creates the
 * VM with: RAM 0..XG_RAM_SIZE, a read-only page at XG_RO_GPA, nothing at
 * XG_HOLE_GPA, 2 vCPU slots (one vCPU created), 64 event channel ports,
 * the domain handle filled with XG_HANDLE_BYTE, HVM_PARAM_STORE_PFN =
 * XG_STORE_PFN, and "input-1234" queued for CONSOLEIO_read.
 */
#include "xg.h"

#define MS         1000000ull
#define VER_4_19   ((4 << 16) | 19)
#define NPORTS     64u /* hv_xen_config::max_evtchn_ports of the test VMs */
#define HOLE       ((void *)(ureg)XG_HOLE_GPA)
#define RO         ((void *)(ureg)XG_RO_GPA)
#define RAM_END_M8 ((void *)(ureg)(XG_RAM_SIZE - 8)) /* 8 bytes of RAM, then nothing */
#define NO_VCPU    200u

static uint8_t buf[4096] __attribute__((aligned(4096)));
static uint8_t page_a[4096] __attribute__((aligned(4096)));
static uint8_t page_b[4096] __attribute__((aligned(4096)));
static uint8_t gnt_page[4096] __attribute__((aligned(4096)));
static uint8_t gnt_page2[4096] __attribute__((aligned(4096)));
static uint8_t shinfo_alt[4096] __attribute__((aligned(4096)));
static uint8_t vi_page[4096] __attribute__((aligned(4096)));

static long xenver(unsigned cmd, void *arg)
{
    return HC2(HC_xen_version, cmd, arg);
}

static long memop(unsigned cmd, void *arg)
{
    return HC2(HC_memory_op, cmd, arg);
}

static long hvmop(unsigned cmd, void *arg)
{
    return HC2(HC_hvm_op, cmd, arg);
}

static long vcpuop(unsigned cmd, unsigned vcpu, void *arg)
{
    return HC3(HC_vcpu_op, cmd, vcpu, arg);
}

static long gnttab(unsigned cmd, void *arg, unsigned count)
{
    return HC3(HC_grant_table_op, cmd, arg, count);
}

static bool ro_intact(void)
{
    return xg_all(RO, XG_RO_BYTE, 4096);
}

static struct evtchn_status status(evtchn_port_t port, long *rc)
{
    struct evtchn_status s;
    memset(&s, 0xee, sizeof(s));
    s.dom = DOMID_SELF;
    s.port = port;
    *rc = xg_evtchn_op(EVTCHNOP_status, &s);
    return s;
}

static bool pending(evtchn_port_t p)
{
    return xg_test_bit(xg_shinfo->evtchn_pending, p);
}

static void clear_all_pending(void)
{
    for (unsigned i = 0; i < XG_LONG_BITS; i++)
        xg_shinfo->evtchn_pending[i] = 0;
    xg_vi->evtchn_pending_sel = 0;
    xg_vi->evtchn_upcall_pending = 0;
}

/* ---- abi: CPUID leaves, the hypercall page and its MSR ---- */

static bool stub_ok(const uint8_t *page, unsigned nr, bool amd)
{
    const uint8_t *s = page + 32 * nr;
    uint8_t want[9] = {0xb8, (uint8_t)nr, 0, 0, 0, 0x0f, 0x01, amd ? 0xd9 : 0xc1, 0xc3};
    return !memcmp(s, want, 9);
}

void xg_test_abi(void)
{
    uint32_t r[4], base = xg_cpuid_base();
    CHECK_EQ(base, XEN_CPUID_FIRST);
    xg_cpuid(base, 0, r);
    CHECK_EQ(r[0], base + 5);
    CHECK(!memcmp(&r[1], "XenV", 4) && !memcmp(&r[2], "MMXe", 4) && !memcmp(&r[3], "nVMM", 4));
    xg_cpuid(base + 1, 0, r);
    CHECK_EQ(r[0], VER_4_19);
    xg_cpuid(base + 2, 0, r);
    CHECK_EQ(r[0], 1);          /* hypercall pages */
    CHECK_EQ(r[1], 0x40000000); /* their MSR */
    xg_cpuid(base + 3, 0, r);
    uint32_t khz = r[2];
    CHECK(khz != 0);
    xg_cpuid(base + 3, 1, r); /* the pvclock scale, as in vcpu_time_info */
    CHECK_EQ(r[2], xg_vi->time.tsc_to_system_mul);
    CHECK_EQ((int8_t)r[3], xg_vi->time.tsc_shift);
    xg_cpuid(base + 3, 2, r);
    CHECK_EQ(r[0], khz);
    xg_cpuid(base + 4, 0, r);
    CHECK(r[0] & XEN_HVM_CPUID_VCPU_ID);
    CHECK(r[0] & XEN_HVM_CPUID_DOMID);
    CHECK(r[0] & XEN_HVM_CPUID_UPCALL_VEC);
    CHECK_EQ(r[1], 0); /* vCPU id */
    CHECK_EQ(r[2], xg_domid);

    /* The page: one stub per hypercall, VMCALL or VMMCALL as the CPU needs. */
    xg_cpuid(0, 0, r);
    bool amd = r[1] == 0x68747541;
    static const unsigned nrs[] = {0, 12, 15, 17, 18, 20, 24, 29, 32, 34, 127};
    for (unsigned i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++)
        CHECK(stub_ok(hypercall_page, nrs[i], amd));
    CHECK(hypercall_page[32 * HC_iret] == 0x0f && hypercall_page[32 * HC_iret + 1] == 0x0b);

    /* The MSR: write-only (reads as zero); a misaligned address or one that
       is not writable RAM raises #GP; another page gets stubs too. */
    CHECK_EQ(xg_rdmsr(0x40000000), 0);
    CHECK(xg_wrmsr_faults(0x40000000, (ureg)buf + 8));
    CHECK(xg_wrmsr_faults(0x40000000, XG_HOLE_GPA));
    CHECK(xg_wrmsr_faults(0x40000000, XG_RO_GPA));
    CHECK(ro_intact());
    memset(buf, 0, sizeof(buf));
    CHECK(!xg_wrmsr_faults(0x40000000, (ureg)buf));
    CHECK(stub_ok(buf, HC_xen_version, amd));
    CHECK_EQ(buf[32 * 1 + 31], 0xcc);

    /* Unknown and PV-only hypercalls; the raw instruction works too. */
    CHECK_EQ(HC1(99, 0), -ENOSYS);
    CHECK_EQ(HC1(127, 0), -ENOSYS);
    CHECK_EQ(HC1(HC_set_trap_table, 0), -ENOSYS);
    CHECK_EQ(HC1(HC_physdev_op, 0), -ENOSYS);
    CHECK_EQ(xg_hcall_raw(HC_xen_version, XENVER_version, 0, 0), VER_4_19);
    CHECK_EQ(xg_hcall_raw(64, 0, 0, 0), -ENOSYS);

    /* From CPL 3 every hypercall is refused, known or not (as Xen does for
       HVM guests); back in ring 0 they work again. */
    CHECK_EQ(xg_user_hypercall(HC_xen_version), -EPERM);
    CHECK_EQ(xg_user_hypercall(99), -EPERM);
    CHECK_EQ(HC1(HC_xen_version, XENVER_version), VER_4_19);
}

/* ---- xen_version ---- */

void xg_test_version(void)
{
    CHECK_EQ(xenver(XENVER_version, NULL), VER_4_19);

    memset(buf, 0xaa, 64);
    CHECK_EQ(xenver(XENVER_extraversion, buf), 0);
    CHECK(!memcmp(buf, ".0", 3));
    CHECK(xg_all(buf + 3, 0, 13)); /* zero-filled: nothing else leaks */
    CHECK(xg_all(buf + 16, 0xaa, 16));

    memset(buf, 0xaa, 200);
    CHECK_EQ(xenver(XENVER_compile_info, buf), 0);
    CHECK(buf[0] != 0 && buf[63] == 0 && buf[64 + 15] == 0 && buf[80 + 31] == 0);
    CHECK(xg_all(buf + 112, 0, 32) || buf[143] == 0); /* compile_date */
    CHECK(xg_all(buf + 144, 0xaa, 16));

    memset(buf, 0xaa, 1100);
    CHECK_EQ(xenver(XENVER_capabilities, buf), 0);
    size_t n = xg_strlen((char *)buf);
    CHECK(n > 0 && n < 1024);
    CHECK(xg_all(buf + n, 0, 1024 - n));
    CHECK(xg_all(buf + 1024, 0xaa, 16));
    const char *want = sizeof(ureg) == 8 ? "hvm-3.0-x86_64" : "hvm-3.0-x86_32p";
    bool found = false;
    for (size_t i = 0; i + xg_strlen(want) <= n; i++)
        found |= !memcmp(buf + i, want, xg_strlen(want));
    CHECK(found);

    memset(buf, 0xaa, 100);
    CHECK_EQ(xenver(XENVER_changeset, buf), 0);
    n = xg_strlen((char *)buf);
    CHECK(n < 64 && xg_all(buf + n, 0, 64 - n) && xg_all(buf + 64, 0xaa, 16));

    memset(buf, 0xaa, 32);
    CHECK_EQ(xenver(XENVER_platform_parameters, buf), 0);
    CHECK(xg_all(buf, 0, sizeof(ureg))); /* virt_start: no hypervisor hole */
    CHECK(xg_all(buf + sizeof(ureg), 0xaa, 8));

    struct xen_feature_info fi = {.submap_idx = 0, .submap = 0x12345678};
    CHECK_EQ(xenver(XENVER_get_features, &fi), 0);
    CHECK_EQ(fi.submap, (1u << XENFEAT_writable_page_tables) |
                            (1u << XENFEAT_auto_translated_physmap) |
                            (1u << XENFEAT_hvm_callback_vector) | (1u << XENFEAT_hvm_safe_pvclock) |
                            (1u << XENFEAT_not_direct_mapped));
    fi.submap_idx = 1;
    CHECK_EQ(xenver(XENVER_get_features, &fi), -EINVAL);
    CHECK_EQ(xenver(XENVER_get_features, HOLE), -EFAULT);

    CHECK_EQ(xenver(XENVER_pagesize, NULL), 4096);
    CHECK_EQ(xenver(XENVER_pagesize, buf), -EINVAL);

    memset(buf, 0xaa, 32);
    CHECK_EQ(xenver(XENVER_guest_handle, buf), 0);
    CHECK(xg_all(buf, XG_HANDLE_BYTE, 16));
    CHECK(xg_all(buf + 16, 0xaa, 16));

    /* What Xen gives an unprivileged domain. */
    memset(buf, 0xaa, 1100);
    CHECK_EQ(xenver(XENVER_commandline, buf), 0);
    CHECK(!memcmp(buf, "<denied>", 9));
    CHECK(xg_all(buf + 9, 0xaa, 1024));
    CHECK_EQ(xenver(XENVER_build_id, buf), -EPERM);
    CHECK_EQ(xenver(11, buf), -ENOSYS);
    CHECK_EQ(xenver(0x7fffffff, buf), -ENOSYS);

    /* Bad buffers: no partial writes. */
    CHECK_EQ(xenver(XENVER_extraversion, HOLE), -EFAULT);
    CHECK_EQ(xenver(XENVER_extraversion, RO), -EFAULT);
    CHECK_EQ(xenver(XENVER_capabilities, RO), -EFAULT);
    CHECK(ro_intact());
    memset(RAM_END_M8, 0x77, 8);
    CHECK_EQ(xenver(XENVER_extraversion, RAM_END_M8), -EFAULT); /* crosses out of RAM */
    CHECK(xg_all(RAM_END_M8, 0x77, 8));
#ifdef __x86_64__
    CHECK_EQ(xenver(XENVER_extraversion, (void *)0x800000000000ul), -EFAULT); /* non-canonical */
    CHECK_EQ(xenver(XENVER_extraversion, (void *)0x40000000ul), -EFAULT);     /* not mapped */
    CHECK_EQ(xenver(XENVER_extraversion, (void *)0xfffffffffffff000ul), -EFAULT);
#endif
}

/* ---- console_io ---- */

void xg_test_console(void)
{
    CHECK_EQ(HC3(HC_console_io, CONSOLEIO_write, 0, NULL), 0);
    CHECK_EQ(HC3(HC_console_io, CONSOLEIO_write, 5, HOLE), -EFAULT);
    CHECK_EQ(HC3(HC_console_io, CONSOLEIO_write, 5, RAM_END_M8 + 6), -EFAULT);
    static const char msg[] = "xg: console write \x01\x7f"
                              "filtered\n";
    CHECK_EQ(HC3(HC_console_io, CONSOLEIO_write, sizeof(msg) - 1, msg), 0);

    /* The host queued "input-1234". */
    memset(buf, 0, 64);
    CHECK_EQ(HC3(HC_console_io, CONSOLEIO_read, 4, buf), 4);
    CHECK(!memcmp(buf, "inpu", 4) && buf[4] == 0);
    CHECK_EQ(HC3(HC_console_io, CONSOLEIO_read, 16, HOLE), -EFAULT);
    CHECK_EQ(HC3(HC_console_io, CONSOLEIO_read, 0x80000000u, buf), -E2BIG);
    CHECK_EQ(HC3(HC_console_io, CONSOLEIO_read, 64, buf), 6); /* nothing was lost */
    CHECK(!memcmp(buf, "t-1234", 6));
    CHECK_EQ(HC3(HC_console_io, CONSOLEIO_read, 64, buf), 0);
    CHECK_EQ(HC3(HC_console_io, 2, 64, buf), -ENOSYS);
}

/* ---- sched_op ---- */

void xg_test_sched(void)
{
    CHECK_EQ(xg_sched(SCHEDOP_yield, NULL), 0);
    CHECK_EQ(xg_sched(SCHEDOP_shutdown, HOLE), -EFAULT);
    CHECK_EQ(xg_sched(SCHEDOP_shutdown_code, HOLE), -EFAULT);
    CHECK_EQ(xg_sched(SCHEDOP_watchdog, buf), -ENOSYS);
    CHECK_EQ(xg_sched(99, buf), -ENOSYS);
    memset(buf, 0, 16);
    CHECK_EQ(xg_sched(SCHEDOP_pin_override, buf), -EPERM);
    struct sched_remote_shutdown rs = {.domain_id = 0x7000, .reason = SHUTDOWN_poweroff};
    CHECK_EQ(xg_sched(SCHEDOP_remote_shutdown, &rs), -ESRCH);
    rs.domain_id = 0; /* the host exists, but an unprivileged guest may not */
    CHECK_EQ(xg_sched(SCHEDOP_remote_shutdown, &rs), -EPERM);
    rs.domain_id = (uint16_t)xg_domid;
    CHECK_EQ(xg_sched(SCHEDOP_remote_shutdown, &rs), -EPERM);
    CHECK_EQ(xg_sched(SCHEDOP_remote_shutdown, HOLE), -EFAULT);

    /* Poll: a timeout ends it; a pending port returns at once. */
    evtchn_port_t p;
    CHECK_EQ(xg_bind_ipi(0, &p), 0);
    uint64_t t0 = xg_now();
    CHECK_EQ(xg_poll(&p, 1, t0 + 10 * MS), 0);
    uint64_t dt = xg_now() - t0;
    CHECK(dt >= 10 * MS);
    CHECK(!pending(p));
    CHECK_EQ(xg_send(p), 0);
    t0 = xg_now();
    CHECK_EQ(xg_poll(&p, 1, t0 + 10000 * MS), 0);
    CHECK(xg_now() - t0 < 5000 * MS); /* did not wait for the timeout */
    /* A masked port still ends a poll: the timer fires into it while the
       guest waits. */
    evtchn_port_t t;
    CHECK_EQ(xg_bind_virq(VIRQ_TIMER, 0, &t), 0);
    xg_set_bit(xg_shinfo->evtchn_mask, t);
    t0 = xg_now();
    CHECK_EQ(xg_set_timer(t0 + 10 * MS), 0);
    evtchn_port_t both[2] = {p, t};
    xg_clear_bit(xg_shinfo->evtchn_pending, p);
    CHECK_EQ(xg_poll(both, 2, t0 + 10000 * MS), 0);
    dt = xg_now() - t0;
    CHECK(dt >= 10 * MS && dt < 5000 * MS);
    CHECK(pending(t));
    xg_clear_bit(xg_shinfo->evtchn_mask, t);
    /* Bad arguments. */
    evtchn_port_t many[129];
    for (unsigned i = 0; i < 129; i++)
        many[i] = p;
    CHECK_EQ(xg_poll(many, 129, 0), -EINVAL);
    /* The limit is the 2-level ABI's (64 x 64 or 32 x 32 ports), as in
       Xen's do_poll, not the number of ports the domain may allocate. */
    evtchn_port_t bad[2] = {p, XG_LONG_BITS * XG_LONG_BITS};
    xg_clear_bit(xg_shinfo->evtchn_pending, p);
    CHECK_EQ(xg_poll(bad, 2, xg_now() + 1000 * MS), -EINVAL);
    CHECK_EQ(xg_poll(HOLE, 1, 0), -EFAULT);
    CHECK_EQ(xg_sched(SCHEDOP_poll, HOLE), -EFAULT);
    CHECK_EQ(xg_close(p), 0);
    CHECK_EQ(xg_close(t), 0);
}

/* ---- timers waking a blocked guest ---- */

void xg_test_timer(void)
{
    evtchn_port_t t = xg_timer_events();

    /* SCHEDOP_block: the vCPU sleeps until the timer's event is delivered. */
    uint64_t t0 = xg_now();
    CHECK_EQ(xg_set_timer(t0 + 20 * MS), 0);
    CHECK_EQ(xg_sched(SCHEDOP_block, NULL), 0);
    uint64_t dt = xg_now() - t0;
    CHECK(dt >= 20 * MS);
    CHECK_EQ(xg_fired[t], 1);
    CHECK_EQ(xg_last_vector, XG_VEC_CALLBACK);

    /* HLT with a single-shot timer. */
    /* t0 before the deadline is computed: the timer may fire 10 ms after
       the deadline's base, which is earlier than a clock read after it. */
    t0 = xg_now();
    struct vcpu_set_singleshot_timer ss = {.timeout_abs_ns = t0 + 10 * MS};
    CHECK_EQ(vcpuop(VCPUOP_set_singleshot_timer, 0, &ss), 0);
    while (xg_fired[t] < 2 && xg_now() - t0 < 10000 * MS)
        __asm__ volatile("sti; hlt" ::: "memory");
    CHECK_EQ(xg_fired[t], 2);
    CHECK(xg_now() - t0 >= 10 * MS);

    /* set_timer_op(0) cancels; a time in the past fires at once. */
    CHECK_EQ(xg_set_timer(xg_now() + 10000 * MS), 0); /* far off: a stalled host cannot reach it */
    CHECK_EQ(xg_set_timer(0), 0);
    xg_spin_ns(20 * MS);
    CHECK_EQ(xg_fired[t], 2);
    CHECK_EQ(xg_set_timer(xg_now() - 1 * MS), 0);
    CHECK_EQ(xg_fired[t], 3);

    /* A periodic timer: below 1 ms is refused. */
    struct vcpu_set_periodic_timer per = {.period_ns = MS / 2};
    CHECK_EQ(vcpuop(VCPUOP_set_periodic_timer, 0, &per), -EINVAL);
    per.period_ns = 5 * MS;
    t0 = xg_now();
    CHECK_EQ(vcpuop(VCPUOP_set_periodic_timer, 0, &per), 0);
    while (xg_fired[t] < 5 && xg_now() - t0 < 10000 * MS)
        CHECK_EQ(xg_sched(SCHEDOP_block, NULL), 0);
    CHECK_EQ(xg_fired[t], 5);
    CHECK(xg_now() - t0 >= 10 * MS);
    CHECK_EQ(vcpuop(VCPUOP_stop_periodic_timer, 0, NULL), 0);
    /* One more period may have ended before the stop (a loaded host);
       none after it. */
    unsigned stopped_at = xg_fired[t];
    CHECK(stopped_at <= 6);
    xg_spin_ns(15 * MS);
    CHECK_EQ(xg_fired[t], stopped_at);
    xg_cli();
}

/* ---- memory_op ---- */

void xg_test_memory(void)
{
    struct e820entry map[16];
    memset(map, 0xaa, sizeof(map));
    struct xen_memory_map m = {.nr_entries = 16, .buffer = map};
    CHECK_EQ(memop(XENMEM_memory_map, &m), 0);
    CHECK_EQ(m.nr_entries, xg_si->memmap_entries);
    const struct hvm_memmap_table_entry *sm =
        (const struct hvm_memmap_table_entry *)(ureg)xg_si->memmap_paddr;
    for (unsigned i = 0; i < m.nr_entries && i < 16; i++) {
        CHECK_EQ(map[i].addr, sm[i].addr);
        CHECK_EQ(map[i].size, sm[i].size);
        CHECK_EQ(map[i].type, sm[i].type);
    }
    CHECK_EQ(map[0].addr, 0);
    CHECK_EQ(map[0].size, XG_RAM_SIZE);
    CHECK_EQ(map[0].type, 1);
    m.nr_entries = 1;
    memset(map, 0xaa, sizeof(map));
    CHECK_EQ(memop(XENMEM_memory_map, &m), 0);
    CHECK_EQ(m.nr_entries, 1);
    CHECK(xg_all(&map[1], 0xaa, sizeof(map[1])));
    CHECK_EQ(memop(XENMEM_memory_map, HOLE), -EFAULT);
    m.nr_entries = 16;
    m.buffer = HOLE;
    CHECK_EQ(memop(XENMEM_memory_map, &m), -EFAULT);
    m.buffer = RO;
    CHECK_EQ(memop(XENMEM_memory_map, &m), -EFAULT);
    CHECK(ro_intact());
    CHECK_EQ(memop(XENMEM_machine_memory_map, &m), -ENOSYS);
    CHECK_EQ(memop(63, &m), -ENOSYS);

    /* shared_info moves to another frame and back, keeping its contents. */
    struct xen_add_to_physmap a = {.domid = DOMID_SELF,
                                   .space = XENMAPSPACE_shared_info,
                                   .idx = 0,
                                   .gpfn = (ureg)shinfo_alt >> 12};
    struct shared_info *home = xg_shinfo;
    xg_set_bit(home->evtchn_mask, 63);
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), 0);
    xg_shinfo = (struct shared_info *)shinfo_alt;
    xg_vi = &xg_shinfo->vcpu_info[0];
    CHECK(xg_test_bit(xg_shinfo->evtchn_mask, 63));
    CHECK(xg_now() > 0);
    a.gpfn = (ureg)home >> 12;
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), 0);
    xg_shinfo = home;
    xg_vi = &home->vcpu_info[0];
    xg_clear_bit(home->evtchn_mask, 63);
    /* shinfo_alt's frame is empty now: never touched again. */
    a.idx = 1;
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), -EINVAL);

    /* Grant-table frames: placed where the guest says, within the limit. */
    a.space = XENMAPSPACE_grant_table;
    a.idx = 0;
    a.gpfn = (ureg)gnt_page >> 12;
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), 0);
    CHECK(xg_all(gnt_page, 0, 4096)); /* a fresh frame */
    a.idx = 1;
    a.gpfn = (ureg)gnt_page2 >> 12;
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), 0);
    struct gnttab_query_size q = {.dom = DOMID_SELF};
    CHECK_EQ(gnttab(GNTTABOP_query_size, &q, 1), 0);
    CHECK_EQ(q.nr_frames, 2);
    a.idx = 32;
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), -EINVAL);
    a.idx = XENMAPIDX_grant_table_status;
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), -EINVAL);
    a.idx = 0;
    a.space = XENMAPSPACE_gmfn_foreign;
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), -ENOSYS);
    a.space = 99;
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), -EINVAL);
    a.space = XENMAPSPACE_grant_table;
    a.domid = 0x7000;
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), -ESRCH);
    a.domid = 0;
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), -EPERM);
    a.domid = DOMID_SELF;
    CHECK_EQ(memop(XENMEM_add_to_physmap | (0x10000u << 6), &a), -EDOM);
    CHECK_EQ(memop(XENMEM_add_to_physmap, HOLE), -EFAULT);
}

/* ---- hvm_op ---- */

void xg_test_hvm(void)
{
    uint64_t v = 0;
    CHECK_EQ(xg_get_param(HVM_PARAM_STORE_PFN, &v), 0);
    CHECK_EQ(v, XG_STORE_PFN);
    CHECK_EQ(xg_set_param(HVM_PARAM_STORE_PFN, 1), -EPERM); /* the toolstack's */
    CHECK_EQ(xg_set_param(HVM_PARAM_CONSOLE_PFN, 1), -EPERM);
    CHECK_EQ(xg_set_param(HVM_PARAM_STORE_EVTCHN, 5), 0);
    CHECK_EQ(xg_get_param(HVM_PARAM_STORE_EVTCHN, &v), 0);
    CHECK_EQ(v, 5);
    CHECK_EQ(xg_set_param(HVM_PARAM_CONSOLE_EVTCHN, 6), 0);
    CHECK_EQ(xg_get_param(HVM_PARAM_CONSOLE_PFN, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(xg_get_param(HVM_PARAM_IOREQ_PFN, &v), -EPERM);
    CHECK_EQ(xg_get_param(HVM_NR_PARAMS, &v), -EINVAL);
    CHECK_EQ(xg_set_param(0xffffffffu, 0), -EINVAL);
    uint64_t cb = (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | XG_VEC_CALLBACK;
    CHECK_EQ(xg_set_param(HVM_PARAM_CALLBACK_IRQ, cb), 0);
    CHECK_EQ(xg_get_param(HVM_PARAM_CALLBACK_IRQ, &v), 0);
    CHECK_EQ(v, cb);
    CHECK_EQ(xg_set_param(HVM_PARAM_CALLBACK_IRQ, 0), 0);

    struct xen_hvm_param p = {.domid = 0x7000, .index = HVM_PARAM_STORE_PFN};
    CHECK_EQ(hvmop(HVMOP_get_param, &p), -ESRCH);
    p.domid = 0;
    CHECK_EQ(hvmop(HVMOP_get_param, &p), -EPERM);
    CHECK_EQ(hvmop(HVMOP_get_param, HOLE), -EFAULT);
    CHECK_EQ(hvmop(HVMOP_get_param, RAM_END_M8), -EFAULT); /* half of it in RAM */

    struct xen_hvm_get_time gt;
    uint64_t before = xg_now();
    CHECK_EQ(hvmop(HVMOP_get_time, &gt), 0);
    uint64_t after = xg_now();
    CHECK(gt.now + 50 * MS >= before && gt.now <= after + 50 * MS);

    struct xen_hvm_evtchn_upcall_vector uv = {.vcpu = 0, .vector = 0x0f};
    CHECK_EQ(hvmop(HVMOP_set_evtchn_upcall_vector, &uv), -EINVAL);
    uv.vcpu = NO_VCPU;
    uv.vector = XG_VEC_UPCALL;
    CHECK_EQ(hvmop(HVMOP_set_evtchn_upcall_vector, &uv), -ENOENT);
    CHECK_EQ(hvmop(HVMOP_set_evtchn_upcall_vector, HOLE), -EFAULT);
    CHECK_EQ(hvmop(99, &p), -ENOSYS);
}

/* ---- event channels ---- */

#ifdef __x86_64__
/*
 * EVTCHNOP_send's port read through a window (linear 1 GiB - 2 MiB, the
 * last slot of the identity map's directory) that the guest maps to a page
 * holding an unbound port (the send is dropped: 0) or one holding an
 * out-of-range port (-EINVAL), by rewriting the leaf entry and then the
 * directory entry between the calls, without an exit: the library reads
 * the port through its memo of the last data walk, which must notice.
 */
static uint32_t remap_page[2][1024] __attribute__((aligned(4096)));
static uint64_t remap_pt[2][512] __attribute__((aligned(4096)));

#define REMAP_LA  0x3fe00000ul
#define REMAP_OFF 0x124u /* byte offset of the port in both pages */

static void invlpg(ureg la)
{
    __asm__ volatile("invlpg (%0)" ::"r"(la) : "memory");
}

static void remapped_port(void)
{
    ureg cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    const uint64_t addr = 0x000ffffffffff000ull; /* the entries' address bits */
    uint64_t *pml4 = (uint64_t *)(cr3 & addr);   /* identity-mapped tables */
    uint64_t *pd = (uint64_t *)(((uint64_t *)(pml4[0] & addr))[0] & addr);
    evtchn_port_t *win = (evtchn_port_t *)(REMAP_LA + REMAP_OFF);
    evtchn_port_t u;
    CHECK_EQ(xg_alloc_unbound(DOMID_SELF, &u), 0);
    remap_page[0][REMAP_OFF / 4] = u;
    remap_page[1][REMAP_OFF / 4] = NPORTS;
    remap_pt[0][0] = (uint64_t)(ureg)remap_page[0] | 7;
    remap_pt[1][0] = (uint64_t)(ureg)remap_page[1] | 7;
    uint64_t saved = pd[511];
    pd[511] = (uint64_t)(ureg)remap_pt[0] | 7;
    invlpg(REMAP_LA);
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_send, win), 0);
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_send, win), 0);      /* through the memo */
    remap_pt[0][0] = (uint64_t)(ureg)remap_page[1] | 7; /* the leaf entry */
    invlpg(REMAP_LA);
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_send, win), -EINVAL);
    remap_pt[0][0] = (uint64_t)(ureg)remap_page[0] | 7;
    invlpg(REMAP_LA);
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_send, win), 0);
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_send, win), 0);
    pd[511] = (uint64_t)(ureg)remap_pt[1] | 7; /* the directory entry */
    invlpg(REMAP_LA);
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_send, win), -EINVAL);
    pd[511] = saved;
    invlpg(REMAP_LA);
    CHECK_EQ(xg_close(u), 0);
}
#endif

void xg_test_evtchn(void)
{
    long rc;
    evtchn_port_t p1, p2;
    CHECK_EQ(xg_alloc_unbound(DOMID_SELF, &p1), 0);
    CHECK(p1 > 0 && p1 < NPORTS);
    struct evtchn_status s = status(p1, &rc);
    CHECK_EQ(rc, 0);
    CHECK_EQ(s.status, EVTCHNSTAT_unbound);
    CHECK_EQ(s.u.unbound.dom, xg_domid);
    CHECK_EQ(s.vcpu, 0);

    /* A loopback interdomain channel. */
    struct evtchn_bind_interdomain bi = {.remote_dom = DOMID_SELF, .remote_port = p1};
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_interdomain, &bi), 0);
    p2 = bi.local_port;
    CHECK(p2 != p1 && p2 > 0);
    CHECK(pending(p2)); /* Xen sets the new local port pending */
    s = status(p2, &rc);
    CHECK_EQ(s.status, EVTCHNSTAT_interdomain);
    CHECK_EQ(s.u.interdomain.dom, xg_domid);
    CHECK_EQ(s.u.interdomain.port, p1);
    s = status(p1, &rc);
    CHECK_EQ(s.status, EVTCHNSTAT_interdomain);
    CHECK_EQ(s.u.interdomain.port, p2);
    clear_all_pending();
    CHECK_EQ(xg_send(p2), 0);
    CHECK(pending(p1) && !pending(p2));
    CHECK(xg_test_bit(&xg_vi->evtchn_pending_sel, p1 / XG_LONG_BITS));
    CHECK_EQ(xg_vi->evtchn_upcall_pending, 1);
    clear_all_pending();
    CHECK_EQ(xg_send(p1), 0);
    CHECK(pending(p2) && !pending(p1));
    /* Masked: pending is set, the selector and upcall flag are not. */
    clear_all_pending();
    xg_set_bit(xg_shinfo->evtchn_mask, p1);
    CHECK_EQ(xg_send(p2), 0);
    CHECK(pending(p1));
    CHECK_EQ(xg_vi->evtchn_pending_sel, 0);
    CHECK_EQ(xg_vi->evtchn_upcall_pending, 0);
    /* Unmask: the pending event now reaches the selector and the flag. */
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_unmask, &p1), 0);
    CHECK(!xg_test_bit(xg_shinfo->evtchn_mask, p1));
    CHECK(xg_test_bit(&xg_vi->evtchn_pending_sel, p1 / XG_LONG_BITS));
    CHECK_EQ(xg_vi->evtchn_upcall_pending, 1);
    clear_all_pending();
    bi.remote_port = p1; /* already bound */
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_interdomain, &bi), -EINVAL);
    bi.remote_port = NPORTS;
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_interdomain, &bi), -EINVAL);
    bi.remote_dom = 0x7000;
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_interdomain, &bi), -ESRCH);

    /* Closing one end leaves the other unbound; sends to it are dropped. */
    CHECK_EQ(xg_close(p1), 0);
    s = status(p2, &rc);
    CHECK_EQ(s.status, EVTCHNSTAT_unbound);
    CHECK_EQ(xg_send(p2), 0);
    CHECK(!pending(p1) && !pending(p2));
    CHECK_EQ(xg_close(p2), 0);
    CHECK_EQ(xg_close(p2), -EINVAL);
    s = status(p2, &rc);
    CHECK_EQ(rc, 0);
    CHECK_EQ(s.status, EVTCHNSTAT_closed);
    evtchn_port_t again;
    CHECK_EQ(xg_alloc_unbound(DOMID_SELF, &again), 0);
    CHECK_EQ(again, p1 < p2 ? p1 : p2); /* the lowest free port */
    CHECK_EQ(xg_close(again), 0);
    struct evtchn_alloc_unbound au = {.dom = 0x7000, .remote_dom = DOMID_SELF};
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_alloc_unbound, &au), -ESRCH);
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_alloc_unbound, HOLE), -EFAULT);

    /* VIRQs and IPIs. */
    evtchn_port_t vt, ip;
    CHECK_EQ(xg_bind_virq(VIRQ_TIMER, 0, &vt), 0);
    CHECK_EQ(xg_bind_virq(VIRQ_TIMER, 0, &again), -EEXIST);
    CHECK_EQ(xg_bind_virq(99, 0, &again), -EINVAL);
    CHECK_EQ(xg_bind_virq(VIRQ_TIMER, NO_VCPU, &again), -ENOENT);
    s = status(vt, &rc);
    CHECK_EQ(s.status, EVTCHNSTAT_virq);
    CHECK_EQ(s.u.virq, VIRQ_TIMER);
    CHECK_EQ(xg_bind_ipi(0, &ip), 0);
    CHECK_EQ(xg_bind_ipi(NO_VCPU, &again), -ENOENT);
    s = status(ip, &rc);
    CHECK_EQ(s.status, EVTCHNSTAT_ipi);
    CHECK_EQ(s.vcpu, 0);
    clear_all_pending();
    CHECK_EQ(xg_send(ip), 0);
    CHECK(pending(ip));
    /* bind_vcpu: per-vCPU VIRQs and IPIs stay where they are. */
    struct evtchn_bind_vcpu bv = {.port = ip, .vcpu = 0};
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_vcpu, &bv), -EINVAL);
    bv.port = vt;
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_vcpu, &bv), -EINVAL);
    CHECK_EQ(xg_alloc_unbound(DOMID_SELF, &p1), 0);
    bv.port = p1;
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_vcpu, &bv), 0);
    bv.vcpu = NO_VCPU;
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_vcpu, &bv), -ENOENT);

    /* Out-of-range ports. */
    evtchn_port_t bad = NPORTS;
    CHECK_EQ(xg_send(0), -EINVAL);
    CHECK_EQ(xg_send(bad), -EINVAL);
    CHECK_EQ(xg_close(0), -EINVAL);
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_unmask, &bad), -EINVAL);
    status(bad, &rc);
    CHECK_EQ(rc, -EINVAL);
    struct evtchn_status so = {.dom = 0x7000, .port = 1};
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_status, &so), -ESRCH);
    /* Ports beyond any the domain could have (NPORTS itself may still be
       inside the last page of the port table). */
    evtchn_port_t huge = 0x7fffffff;
    CHECK_EQ(xg_send(huge), -EINVAL);
    CHECK_EQ(xg_close(huge), -EINVAL);
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_unmask, &huge), -EINVAL);
    status(huge, &rc);
    CHECK_EQ(rc, -EINVAL);
    struct evtchn_bind_vcpu hbv = {.port = huge, .vcpu = 0};
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_vcpu, &hbv), -EINVAL);
    struct evtchn_bind_interdomain hbi = {.remote_dom = DOMID_SELF, .remote_port = huge};
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_interdomain, &hbi), -EINVAL);

#ifdef __x86_64__
    remapped_port();
#endif

    /* No FIFO ABI, no priorities, no physical IRQs; unknown sub-ops. */
    struct evtchn_init_control ic;
    memset(&ic, 0, sizeof(ic));
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_init_control, &ic), -EOPNOTSUPP);
    uint64_t gfn = 0;
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_expand_array, &gfn), -EOPNOTSUPP);
    struct evtchn_set_priority sp = {.port = ip, .priority = 3};
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_set_priority, &sp), -ENOSYS);
    memset(buf, 0, 16);
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_pirq, buf), -EINVAL);
    CHECK_EQ(xg_evtchn_op(99, buf), -ENOSYS);

    /* Every port in use: -ENOSPC; EVTCHNOP_reset closes them all. */
    unsigned got = 0;
    for (unsigned i = 0; i < NPORTS; i++) {
        evtchn_port_t q;
        rc = xg_alloc_unbound(DOMID_SELF, &q);
        if (rc)
            break;
        got++;
    }
    CHECK_EQ(rc, -ENOSPC);
    CHECK_EQ(got, NPORTS - 1 - 3); /* port 0 and the three still open */
    uint16_t self = DOMID_SELF;
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_reset, &self), 0);
    s = status(vt, &rc);
    CHECK_EQ(s.status, EVTCHNSTAT_closed);
    CHECK_EQ(xg_bind_virq(VIRQ_TIMER, 0, &vt), 0); /* free again */
    CHECK_EQ(vt, 1);
}

/* ---- upcalls: delivered, masked, and held while IF = 0 ---- */

void xg_test_upcall(void)
{
    evtchn_port_t p;
    CHECK_EQ(xg_bind_ipi(0, &p), 0);
    clear_all_pending();

    /* No delivery method set: the bits change, nothing is injected. */
    xg_sti();
    CHECK_EQ(xg_send(p), 0);
    xg_spin_ns(1 * MS);
    CHECK_EQ(xg_upcalls, 0);
    CHECK_EQ(xg_vi->evtchn_upcall_pending, 1);
    xg_cli();
    clear_all_pending();

    CHECK_EQ(xg_set_param(HVM_PARAM_CALLBACK_IRQ,
                          (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | XG_VEC_CALLBACK),
             0);
    xg_sti();
    CHECK_EQ(xg_send(p), 0); /* delivered as the hypercall returns */
    CHECK_EQ(xg_upcalls, 1);
    CHECK_EQ(xg_last_vector, XG_VEC_CALLBACK);
    CHECK_EQ(xg_fired[p], 1);
    CHECK(!pending(p));
    CHECK_EQ(xg_vi->evtchn_upcall_pending, 0);

    /* Masked: only the pending bit. */
    xg_set_bit(xg_shinfo->evtchn_mask, p);
    CHECK_EQ(xg_send(p), 0);
    CHECK_EQ(xg_upcalls, 1);
    CHECK(pending(p));
    CHECK_EQ(xg_vi->evtchn_upcall_pending, 0);
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_unmask, &p), 0); /* now delivered */
    CHECK_EQ(xg_upcalls, 2);
    CHECK_EQ(xg_fired[p], 2);

    /* IF = 0 holds it; STI lets it in. */
    xg_cli();
    CHECK_EQ(xg_send(p), 0);
    xg_spin_ns(1 * MS);
    CHECK_EQ(xg_upcalls, 2);
    CHECK_EQ(xg_vi->evtchn_upcall_pending, 1);
    __asm__ volatile("sti; nop; nop" ::: "memory");
    CHECK_EQ(xg_upcalls, 3);
    CHECK_EQ(xg_fired[p], 3);

    /* The per-vCPU upcall vector takes over; setting it raises one upcall. */
    struct xen_hvm_evtchn_upcall_vector uv = {.vcpu = 0, .vector = XG_VEC_UPCALL};
    CHECK_EQ(hvmop(HVMOP_set_evtchn_upcall_vector, &uv), 0);
    CHECK_EQ(xg_upcalls, 4);
    CHECK_EQ(xg_last_vector, XG_VEC_UPCALL);
    CHECK_EQ(xg_send(p), 0);
    CHECK_EQ(xg_upcalls, 5);
    CHECK_EQ(xg_last_vector, XG_VEC_UPCALL);
    CHECK_EQ(xg_fired[p], 4);
    xg_cli();
}

/* ---- grant table v1 ---- */

static void copy_op(struct gnttab_copy *op, ureg src, uint16_t sdom, uint16_t soff, ureg dst,
                    uint16_t ddom, uint16_t doff, uint16_t len, uint16_t flags)
{
    memset(op, 0, sizeof(*op));
    if (flags & GNTCOPY_source_gref)
        op->source.u.ref = (grant_ref_t)src;
    else
        op->source.u.gmfn = src;
    op->source.domid = sdom;
    op->source.offset = soff;
    if (flags & GNTCOPY_dest_gref)
        op->dest.u.ref = (grant_ref_t)dst;
    else
        op->dest.u.gmfn = dst;
    op->dest.domid = ddom;
    op->dest.offset = doff;
    op->len = len;
    op->flags = flags;
    op->status = 0x55;
}

void xg_test_grant(void)
{
    struct gnttab_query_size q = {.dom = DOMID_SELF};
    CHECK_EQ(gnttab(GNTTABOP_query_size, &q, 1), 0);
    CHECK_EQ(q.status, GNTST_okay);
    CHECK(q.nr_frames >= 1);
    CHECK_EQ(q.max_nr_frames, 32);
    CHECK_EQ(gnttab(GNTTABOP_query_size, &q, 2), -EINVAL);
    q.dom = 0x7000;
    CHECK_EQ(gnttab(GNTTABOP_query_size, &q, 1), 0);
    CHECK_EQ(q.status, GNTST_bad_domain);
    q.dom = 0;
    CHECK_EQ(gnttab(GNTTABOP_query_size, &q, 1), 0);
    CHECK_EQ(q.status, GNTST_permission_denied);
    CHECK_EQ(gnttab(GNTTABOP_query_size, HOLE, 1), -EFAULT);

    struct xen_add_to_physmap a = {.domid = DOMID_SELF,
                                   .space = XENMAPSPACE_grant_table,
                                   .idx = 0,
                                   .gpfn = (ureg)gnt_page >> 12};
    CHECK_EQ(memop(XENMEM_add_to_physmap, &a), 0);
    ureg frames[2] = {0x1111, 0x2222};
    struct gnttab_setup_table st = {.dom = DOMID_SELF, .nr_frames = 1, .frame_list = frames};
    CHECK_EQ(gnttab(GNTTABOP_setup_table, &st, 1), 0);
    CHECK_EQ(st.status, GNTST_okay);
    CHECK_EQ(frames[0], (ureg)gnt_page >> 12);
    CHECK_EQ(frames[1], 0x2222);
    st.nr_frames = 33;
    CHECK_EQ(gnttab(GNTTABOP_setup_table, &st, 1), 0);
    CHECK_EQ(st.status, GNTST_general_error);
    st.nr_frames = 1;
    st.frame_list = HOLE;
    CHECK_EQ(gnttab(GNTTABOP_setup_table, &st, 1), 0);
    CHECK_EQ(st.status, -5); /* GNTST_bad_virt_addr */
    st.frame_list = frames;
    st.dom = 0x7000;
    CHECK_EQ(gnttab(GNTTABOP_setup_table, &st, 1), 0);
    CHECK_EQ(st.status, GNTST_bad_domain);
    CHECK_EQ(gnttab(GNTTABOP_setup_table, &st, 2), -EINVAL);

    struct gnttab_get_version gv = {.dom = DOMID_SELF, .version = 77};
    CHECK_EQ(gnttab(GNTTABOP_get_version, &gv, 1), 0);
    CHECK_EQ(gv.version, 1);
    gv.dom = 0x7000;
    CHECK_EQ(gnttab(GNTTABOP_get_version, &gv, 1), -ESRCH);
    struct gnttab_set_version sv = {.version = 1};
    CHECK_EQ(gnttab(GNTTABOP_set_version, &sv, 1), 0);
    sv.version = 2;
    CHECK_EQ(gnttab(GNTTABOP_set_version, &sv, 1), -ENOSYS);
    CHECK_EQ(sv.version, 1);
    sv.version = 3;
    CHECK_EQ(gnttab(GNTTABOP_set_version, &sv, 1), -EINVAL);
    CHECK_EQ(gnttab(99, &sv, 1), -ENOSYS);

    /* Copies. Grant 8: page_a to ourselves; 9: read-only; 10: to dom 5. */
    volatile struct grant_entry_v1 *g = (volatile struct grant_entry_v1 *)gnt_page;
    for (unsigned i = 0; i < 4096; i++)
        page_a[i] = (uint8_t)(i * 7 + 1);
    memset(page_b, 0, 4096);
    g[8].domid = (uint16_t)xg_domid;
    g[8].frame = (uint32_t)((ureg)page_a >> 12);
    g[9].domid = (uint16_t)xg_domid;
    g[9].frame = (uint32_t)((ureg)page_a >> 12);
    g[10].domid = 5;
    g[10].frame = (uint32_t)((ureg)page_a >> 12);
    xg_barrier();
    g[8].flags = GTF_permit_access;
    g[9].flags = GTF_permit_access | GTF_readonly;
    g[10].flags = GTF_permit_access;

    struct gnttab_copy ops[4];
    ureg b = (ureg)page_b >> 12;
    copy_op(&ops[0], 8, DOMID_SELF, 16, b, DOMID_SELF, 100, 64, GNTCOPY_source_gref);
    CHECK_EQ(gnttab(GNTTABOP_copy, ops, 1), 0);
    CHECK_EQ(ops[0].status, GNTST_okay);
    CHECK(!memcmp(page_b + 100, page_a + 16, 64));
    CHECK(xg_all(page_b, 0, 100) && xg_all(page_b + 164, 0, 4096 - 164));
    CHECK_EQ(g[8].flags, GTF_permit_access); /* GTF_reading only during the copy */

    /* Into a grant: page_b -> grant 8 (page_a). */
    page_b[0] = 0xee;
    copy_op(&ops[0], b, DOMID_SELF, 0, 8, DOMID_SELF, 4095, 1, GNTCOPY_dest_gref);
    CHECK_EQ(gnttab(GNTTABOP_copy, ops, 1), 0);
    CHECK_EQ(ops[0].status, GNTST_okay);
    CHECK_EQ(page_a[4095], 0xee);

    /* Several ops, each with its own status. */
    copy_op(&ops[0], 10000, DOMID_SELF, 0, b, DOMID_SELF, 0, 8, GNTCOPY_source_gref);
    copy_op(&ops[1], 11, DOMID_SELF, 0, b, DOMID_SELF, 0, 8, GNTCOPY_source_gref);
    copy_op(&ops[2], 10, DOMID_SELF, 0, b, DOMID_SELF, 0, 8, GNTCOPY_source_gref);
    copy_op(&ops[3], b, DOMID_SELF, 0, 9, DOMID_SELF, 0, 8, GNTCOPY_dest_gref);
    CHECK_EQ(gnttab(GNTTABOP_copy, ops, 4), 0);
    CHECK_EQ(ops[0].status, GNTST_bad_gntref);
    CHECK_EQ(ops[1].status, GNTST_general_error); /* not granted */
    CHECK_EQ(ops[2].status, GNTST_general_error); /* granted to someone else */
    CHECK_EQ(ops[3].status, GNTST_general_error); /* read-only grant as destination */
    copy_op(&ops[0], 9, DOMID_SELF, 0, b, DOMID_SELF, 0, 8, GNTCOPY_source_gref);
    copy_op(&ops[1], 8, DOMID_SELF, 4000, b, DOMID_SELF, 0, 200, GNTCOPY_source_gref);
    copy_op(&ops[2], 8, DOMID_SELF, 0, XG_HOLE_GPA >> 12, DOMID_SELF, 0, 8, GNTCOPY_source_gref);
    copy_op(&ops[3], 8, DOMID_SELF, 0, XG_RO_GPA >> 12, DOMID_SELF, 0, 8, GNTCOPY_source_gref);
    CHECK_EQ(gnttab(GNTTABOP_copy, ops, 4), 0);
    CHECK_EQ(ops[0].status, GNTST_okay);         /* reading a read-only grant */
    CHECK_EQ(ops[1].status, GNTST_bad_copy_arg); /* crosses the page end */
    CHECK_EQ(ops[2].status, GNTST_bad_page);     /* not RAM */
    CHECK_EQ(ops[3].status, GNTST_bad_page);     /* not writable */
    CHECK(ro_intact());
    /* The destination's end is checked too: nothing lands past its page.
       A frame number whose address does not fit in 64 bits is no page
       (64-bit guests: a 32-bit one cannot name it). */
    CHECK(xg_all(page_b + 4000, 0, 96));
    unsigned n = 1;
    copy_op(&ops[0], 8, DOMID_SELF, 0, b, DOMID_SELF, 4000, 200, GNTCOPY_source_gref);
#ifdef __x86_64__
    copy_op(&ops[1], (1ul << 52) | b, DOMID_SELF, 0, b, DOMID_SELF, 0, 8, 0);
    n = 2;
#endif
    CHECK_EQ(gnttab(GNTTABOP_copy, ops, n), 0);
    CHECK_EQ(ops[0].status, GNTST_bad_copy_arg);
    CHECK(xg_all(page_b + 4000, 0, 96));
#ifdef __x86_64__
    CHECK_EQ(ops[1].status, GNTST_bad_page);
#endif
    copy_op(&ops[0], b, 0x7000, 0, b, DOMID_SELF, 0, 8, 0);
    copy_op(&ops[1], 8, 0x7000, 0, b, DOMID_SELF, 0, 8, GNTCOPY_source_gref);
    CHECK_EQ(gnttab(GNTTABOP_copy, ops, 2), 0);
    CHECK_EQ(ops[0].status, GNTST_permission_denied); /* frames of another domain by number */
    CHECK_EQ(ops[1].status, GNTST_bad_domain);
    CHECK_EQ(gnttab(GNTTABOP_copy, HOLE, 1), -EFAULT);
    CHECK_EQ(gnttab(GNTTABOP_copy, ops, 0), 0);
    CHECK_EQ(g[8].flags, GTF_permit_access);
    CHECK_EQ(g[9].flags, GTF_permit_access | GTF_readonly);
    g[8].flags = g[9].flags = g[10].flags = 0;
}

/* ---- vcpu_op and the pvclock ---- */

void xg_test_vcpu(void)
{
    CHECK_EQ(vcpuop(VCPUOP_is_up, 0, NULL), 1);
    CHECK_EQ(vcpuop(VCPUOP_is_up, 1, NULL), 0);
    CHECK_EQ(vcpuop(VCPUOP_is_up, NO_VCPU, NULL), -ENOENT);
    CHECK_EQ(vcpuop(77, 0, NULL), -ENOSYS);

    /* The pvclock: consistent version, advancing time. */
    CHECK_EQ(xg_vi->time.version & 1, 0);
    CHECK(xg_vi->time.tsc_to_system_mul != 0);
    uint64_t t0 = xg_now();
    xg_spin_ns(2 * MS);
    CHECK(xg_now() - t0 >= 2 * MS);

    /* register_vcpu_info: the structure moves into the guest's page. */
    struct vcpu_register_vcpu_info r = {.mfn = (ureg)vi_page >> 12, .offset = 4090};
    CHECK_EQ(vcpuop(VCPUOP_register_vcpu_info, 0, &r), -EINVAL);
    r.mfn = XG_HOLE_GPA >> 12;
    r.offset = 64;
    CHECK_EQ(vcpuop(VCPUOP_register_vcpu_info, 0, &r), -EINVAL);
    CHECK_EQ(vcpuop(VCPUOP_register_vcpu_info, 0, HOLE), -EFAULT);
    r.mfn = (ureg)vi_page >> 12;
    xg_vi->evtchn_upcall_mask = 1;
    CHECK_EQ(vcpuop(VCPUOP_register_vcpu_info, 0, &r), 0);
    CHECK_EQ(vcpuop(VCPUOP_register_vcpu_info, 0, &r), -EINVAL); /* once */
    struct vcpu_info *old = xg_vi, *nvi = (struct vcpu_info *)(vi_page + 64);
    CHECK_EQ(nvi->evtchn_upcall_mask, 1); /* carried over */
    CHECK_EQ(nvi->evtchn_upcall_pending, 1);
    CHECK_EQ(nvi->evtchn_pending_sel, ~(ureg)0);
    CHECK_EQ(nvi->time.version & 1, 0);
    CHECK(nvi->time.version != 0);
    CHECK_EQ(nvi->time.tsc_to_system_mul, old->time.tsc_to_system_mul);
    xg_vi = nvi;
    uint64_t t1 = xg_now();
    CHECK(t1 >= t0);
    clear_all_pending();
    old->evtchn_upcall_pending = 0;
    evtchn_port_t p;
    CHECK_EQ(xg_bind_ipi(0, &p), 0);
    CHECK_EQ(xg_send(p), 0);
    CHECK_EQ(nvi->evtchn_upcall_pending, 1);
    CHECK_EQ(old->evtchn_upcall_pending, 0);
    nvi->evtchn_upcall_mask = 0;
    clear_all_pending();

    /* Single-shot timers fire into VIRQ_TIMER (polled here, IF = 0). */
    evtchn_port_t t;
    CHECK_EQ(xg_bind_virq(VIRQ_TIMER, 0, &t), 0);
    t0 = xg_now(); /* first: the deadline is counted from it */
    struct vcpu_set_singleshot_timer ss = {.timeout_abs_ns = t0 + 5 * MS};
    CHECK_EQ(vcpuop(VCPUOP_set_singleshot_timer, 0, &ss), 0);
    CHECK(xg_wait_port(t, 10000 * MS));
    CHECK(xg_now() - t0 >= 5 * MS);
    /* A stopped timer never fires. Its deadline is far off (10 s) so that a
       host stalled between the two calls (a loaded emulator) cannot let it
       expire before the stop. */
    ss.timeout_abs_ns = xg_now() + 10000 * MS;
    CHECK_EQ(vcpuop(VCPUOP_set_singleshot_timer, 0, &ss), 0);
    CHECK_EQ(vcpuop(VCPUOP_stop_singleshot_timer, 0, NULL), 0);
    CHECK(!xg_wait_port(t, 20 * MS));
    ss.timeout_abs_ns = xg_now() - 1; /* already passed: at once */
    ss.flags = 1;                     /* VCPU_SSHOTTMR_future: ignored, as Xen does */
    CHECK_EQ(vcpuop(VCPUOP_set_singleshot_timer, 0, &ss), 0);
    CHECK(pending(t));
    CHECK_EQ(vcpuop(VCPUOP_set_singleshot_timer, 1, &ss), -EINVAL); /* not our vCPU */
    CHECK_EQ(vcpuop(VCPUOP_set_singleshot_timer, 0, HOLE), -EFAULT);
    CHECK_EQ(vcpuop(VCPUOP_stop_singleshot_timer, 1, NULL), -EINVAL);
    CHECK_EQ(vcpuop(VCPUOP_set_singleshot_timer, NO_VCPU, &ss), -ENOENT);
}

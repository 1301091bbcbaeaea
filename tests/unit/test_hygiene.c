/*
 * Memory hygiene: nothing of the host reaches guest-visible memory.
 *
 * Before every hypercall (and the PVH load) the stack below the caller is
 * filled with a poison byte, so any uninitialized byte the library copies
 * to the guest (structure padding, a short copy) arrives as poison. After
 * each call the test scans every guest-visible page (guest RAM, and the
 * library pages mapped into the guest: shared_info, grant-table frames)
 * for runs of the stack poison, of the mock host's guard bytes (an
 * over-read of a library object) and of its free poison (a use after
 * free), and for any 8-byte word that is a host pointer (into a live mock
 * allocation or the stack) or a host-physical address the mock handed out.
 * Calls run in 64-bit and in 32-bit (compat) mode, with sub-ops that write
 * structures back.
 *
 * Library pages handed to a guest start zeroed: a domain that wrote secrets
 * into its shared_info and grant frames is torn down, the next domain's
 * pages (same host allocator) hold none of them.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define HV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HV_ASAN 1
#endif
#endif
#ifndef HV_ASAN
#define HV_ASAN 0
#endif

#include <hv/hv.h>
#include <hv/pvh.h>
#include <hv/xen.h>
#include "core/objects.h"
#include "xen_fixture.h"

#define STACK_POISON 0xEBu
#define GNT_GFN      0x310u /* where the tests map grant-table frames */

static uintptr_t stack_hi, stack_lo;

/* Fill the stack the next call will use with the poison byte. */
static __attribute__((noinline)) void poison_stack(void)
{
    volatile uint8_t area[128 * 1024];
    for (size_t i = 0; i < sizeof(area); i++)
        area[i] = STACK_POISON;
    stack_lo = (uintptr_t)&area[0];
    __asm__ volatile("" ::"r"(area) : "memory");
}

struct finding {
    unsigned count;
    char first[200];
};

static void note(struct finding *fd, const char *what, uint64_t gpa, uint64_t v)
{
    if (fd->count++ == 0)
        snprintf(fd->first, sizeof(fd->first), "%s at gpa %#llx (%#llx)", what,
                 (unsigned long long)gpa, (unsigned long long)v);
}

static bool host_pointer(struct xf *f, uint64_t w)
{
    if (stack_lo && w >= stack_lo - 65536 && w < stack_hi + 65536)
        return true; /* the host stack */
    if (w < 4096 || (w & 7))
        return false;
    if (mock_virt_to_phys(&f->mh, (const void *)(uintptr_t)w) != UINT64_MAX)
        return true; /* a library page or guest RAM's host mapping */
    /* Where Linux puts a PIE's code, heap, mmap areas and stack: any
       host object or function pointer lands here. */
    return w >= 0x500000000000ull && w < 0x800000000000ull;
}

/* Where the vCPU's vcpu_info goes once registered (VCPUOP_register_vcpu_info). */
#define VCPU_INFO_GPA 0x21040ull

/*
 * The vcpu_time_info blocks (bytes 32-63 of each 64-byte vcpu_info, both
 * layouts: shared_info's and the registered one) hold TSC-derived values:
 * their low bytes can be the poison pair by chance, and a TSC of a host
 * up for some hours lies where host pointers do. Not scanned (the byte
 * before a block too, for a pair that starts there).
 */
static bool time_block(uint64_t gpa)
{
    uint64_t off = gpa & 4095;
    if ((gpa >> 12) == SHINFO_GFN)
        return off < 2048 && (off % 64) >= 31;
    return gpa >= VCPU_INFO_GPA + 31 && gpa < VCPU_INFO_GPA + 64;
}

static void scan_page(struct xf *f, uint64_t gpa, const uint8_t *p, struct finding *fd)
{
    for (unsigned i = 0; i < 4096; i++) {
        bool pvclock = time_block(gpa + i);
        if (i + 1 < 4096 && !pvclock && p[i] == STACK_POISON && p[i + 1] == STACK_POISON)
            note(fd, "stack poison", gpa + i, p[i]);
        if (i + 3 < 4096 && p[i] == MOCK_GUARD_BYTE && p[i + 1] == MOCK_GUARD_BYTE &&
            p[i + 2] == MOCK_GUARD_BYTE && p[i + 3] == MOCK_GUARD_BYTE)
            note(fd, "guard bytes", gpa + i, p[i]);
        if (i + 3 < 4096 && p[i] == MOCK_POISON_BYTE && p[i + 1] == MOCK_POISON_BYTE &&
            p[i + 2] == MOCK_POISON_BYTE && p[i + 3] == MOCK_POISON_BYTE)
            note(fd, "freed-memory poison", gpa + i, p[i]);
    }
    for (unsigned i = 0; i < 4096; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (time_block(gpa + i))
            continue;
        if (w >= MOCK_HPA_BASE && w < f->mh.next_hpa && mock_phys_to_virt(&f->mh, w))
            note(fd, "host-physical address", gpa + i, w);
        else if (host_pointer(f, w))
            note(fd, "host pointer", gpa + i, w);
    }
}

/* Every page the guest can see: its RAM and library pages mapped at high gfns. */
static void scan_guest(struct xf *f, const char *after)
{
    struct finding fd = {0, ""};
    for (uint64_t gpa = 0; gpa < (2ull << 20); gpa += 4096) {
        struct hv_mapping mp;
        if (hv_vm_query(f->vm, gpa, &mp) != HV_OK)
            continue;
        const uint8_t *p = mock_phys_to_virt(&f->mh, mp.hpa + (gpa - mp.gpa));
        if (p)
            scan_page(f, gpa, p, &fd);
    }
    CU_ASSERT_EQUAL(fd.count, 0);
    if (fd.count)
        fprintf(stderr, "\n    after %s: %u findings, first: %s\n", after, fd.count, fd.first);
}

static void put(struct xf *f, uint64_t gpa, const void *v, size_t n)
{
    memcpy(xf_gpa(f, gpa), v, n);
}

/* One hypercall with a freshly poisoned stack, then a scan. */
static long call(struct xf *f, const char *name, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    poison_stack();
    long r = xf_call(f, nr, a0, a1, a2, 0, 0, 0);
    scan_guest(f, name);
    return r;
}

/* struct xen_add_to_physmap in the caller's layout. */
static long add_to_physmap(struct xf *f, uint32_t space, uint64_t idx, uint64_t gfn)
{
    uint8_t a[24];
    memset(a, 0, sizeof(a));
    uint16_t dom = 0x7ff0;
    memcpy(a, &dom, 2);
    if (f->compat) {
        uint32_t s = space, i = (uint32_t)idx, g = (uint32_t)gfn;
        memcpy(a + 4, &s, 4);
        memcpy(a + 8, &i, 4);
        memcpy(a + 12, &g, 4);
    } else {
        memcpy(a + 4, &space, 4);
        memcpy(a + 8, &idx, 8);
        memcpy(a + 16, &gfn, 8);
    }
    put(f, XF_BUF2, a, sizeof(a));
    return call(f, "add_to_physmap", HC_MEMORY_OP, 7, XF_BUF2, 0);
}

static void exercise(struct xf *f)
{
    stack_hi = (uintptr_t)__builtin_frame_address(0);
    CU_ASSERT_EQUAL(add_to_physmap(f, 0, 0, SHINFO_GFN), 0);
    CU_ASSERT_EQUAL(add_to_physmap(f, 1, 0, GNT_GFN), 0);
    CU_ASSERT_EQUAL(add_to_physmap(f, 1, 1, GNT_GFN + 1), 0);
    scan_guest(f, "setup");

    /* xen_version: every sub-op that writes a structure or a string. */
    for (uint64_t op = 0; op <= 12; op++) {
        memset(xf_gpa(f, XF_BUF), 0, 4096);
        call(f, "xen_version", HC_VERSION, op, XF_BUF, 0);
    }
    /* memory_op: the memory map and the numeric queries. */
    uint8_t mm[16];
    memset(mm, 0, sizeof(mm));
    uint32_t n = 8;
    memcpy(mm, &n, 4);
    uint64_t buf = XF_BUF + 0x100;
    if (f->compat)
        memcpy(mm + 4, &buf, 4);
    else
        memcpy(mm + 8, &buf, 8);
    put(f, XF_BUF, mm, sizeof(mm));
    call(f, "memory_map", HC_MEMORY_OP, 9, XF_BUF, 0);
    for (uint64_t op = 0; op < 20; op++)
        call(f, "memory_op", HC_MEMORY_OP, op, XF_BUF + 0x800, 0);

    /* Event channels: allocate, bind, status (a union written back), send, close. */
    uint8_t ev[32];
    memset(ev, 0, sizeof(ev));
    uint16_t self = 0x7ff0;
    memcpy(ev, &self, 2);
    put(f, XF_BUF, ev, sizeof(ev));
    CU_ASSERT_EQUAL(call(f, "alloc_unbound", HC_EVTCHN, 6, XF_BUF, 0), 0);
    uint32_t port;
    memcpy(&port, xf_gpa(f, XF_BUF + 4), 4);
    memset(ev, 0, sizeof(ev));
    put(f, XF_BUF, ev, sizeof(ev)); /* bind_virq: virq 0 (timer), vcpu 0 */
    CU_ASSERT_EQUAL(call(f, "bind_virq", HC_EVTCHN, 1, XF_BUF, 0), 0);
    put(f, XF_BUF, ev, sizeof(ev));
    CU_ASSERT_EQUAL(call(f, "bind_ipi", HC_EVTCHN, 7, XF_BUF, 0), 0);
    for (uint32_t p = 0; p < 6; p++) {
        memset(ev, 0, sizeof(ev));
        memcpy(ev, &self, 2);
        memcpy(ev + 4, &p, 4);
        put(f, XF_BUF, ev, sizeof(ev));
        call(f, "evtchn_status", HC_EVTCHN, 5, XF_BUF, 0);
    }
    memset(ev, 0, sizeof(ev));
    memcpy(ev, &port, 4);
    put(f, XF_BUF, ev, sizeof(ev));
    call(f, "send", HC_EVTCHN, 4, XF_BUF, 0);
    call(f, "unmask", HC_EVTCHN, 9, XF_BUF, 0);
    call(f, "init_control", HC_EVTCHN, 11, XF_BUF, 0);
    call(f, "close", HC_EVTCHN, 3, XF_BUF, 0);

    /* Grant tables: query_size, get_version, setup_table, a self copy. */
    uint8_t g[64];
    memset(g, 0, sizeof(g));
    memcpy(g, &self, 2);
    put(f, XF_BUF, g, sizeof(g));
    call(f, "query_size", HC_GNTTAB, 6, XF_BUF, 1);
    put(f, XF_BUF, g, sizeof(g));
    call(f, "get_version", HC_GNTTAB, 10, XF_BUF, 1);
    memset(g, 0, sizeof(g));
    memcpy(g, &self, 2);
    uint32_t frames = 2;
    memcpy(g + 4, &frames, 4);
    uint64_t list = XF_BUF + 0x200;
    if (f->compat)
        memcpy(g + 12, &list, 4);
    else
        memcpy(g + 16, &list, 8);
    put(f, XF_BUF, g, sizeof(g));
    call(f, "setup_table", HC_GNTTAB, 2, XF_BUF, 1);

    /* vCPU ops: runstate, vcpu_info registration, timers, is_up. */
    for (uint64_t op = 0; op <= 12; op++) {
        uint8_t z[64];
        memset(z, 0, sizeof(z));
        uint64_t mfn = VCPU_INFO_GPA >> 12, off = VCPU_INFO_GPA & 4095;
        if (op == 10) {
            memcpy(z, &mfn, 8);
            memcpy(z + 8, &off, 4);
        }
        put(f, XF_BUF, z, sizeof(z));
        call(f, "vcpu_op", HC_VCPU_OP, op, 0, XF_BUF);
    }
    /* HVM params and time, set_timer, console read. */
    for (uint32_t idx = 0; idx < 40; idx++) {
        uint8_t h[16];
        memset(h, 0, sizeof(h));
        memcpy(h, &self, 2);
        memcpy(h + 4, &idx, 4);
        put(f, XF_BUF, h, sizeof(h));
        call(f, "get_param", HC_HVM, 1, XF_BUF, 0);
    }
    call(f, "get_time", HC_HVM, 10, XF_BUF, 0);
    call(f, "set_timer", HC_SET_TIMER, 2000000000ull, 0, 0);
    size_t acc;
    CU_ASSERT_EQUAL(hv_xen_console_input(f->vm, "abc", 3, &acc), HV_OK);
    call(f, "console read", HC_CONSOLE, 1, 64, XF_BUF + 0x400);
    xf_enter(f, f->vcpu); /* event delivery and timers touch shared_info */
    scan_guest(f, "entry");
}

static void test_hypercalls_64(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    exercise(&f);
    xf_teardown(&f);
}

static void test_hypercalls_compat(void)
{
    struct xf_opts o;
    memset(&o, 0, sizeof(o));
    o.compat = true;
    struct xf f;
    xf_setup(&f, &o);
    exercise(&f);
    xf_teardown(&f);
}

static void test_pvh_load(void)
{
    struct xf_opts o;
    memset(&o, 0, sizeof(o));
    o.no_xen = true;
    struct xf f;
    xf_setup(&f, &o);
    stack_hi = (uintptr_t)__builtin_frame_address(0);
    memset(f.ram, 0, XF_RAM_SIZE);
    static uint8_t img[1 << 16];
    FILE *fp = fopen(HV_TOP_DIR "/tests/unit/data/loader_pvh_guest64.elf.gz", "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    size_t len = fread(img, 1, sizeof(img), fp);
    fclose(fp);
    struct hv_pvh_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.cmdline = "console=hvc0 root=/dev/xvda";
    struct hv_pvh_module mod = {"initrd bytes", 0, 12, "initrd"};
    cfg.modules = &mod;
    cfg.module_count = 1;
    struct hv_pvh_info info;
    poison_stack();
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, img, len, &cfg, &info), HV_OK);
    scan_guest(&f, "hv_pvh_load");
    xf_teardown(&f);
}

/* Library pages a guest saw start zeroed for the next domain. */
static void test_pages_start_zeroed(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    stack_hi = (uintptr_t)__builtin_frame_address(0);
    CU_ASSERT_EQUAL(add_to_physmap(&f, 0, 0, SHINFO_GFN), 0);
    CU_ASSERT_EQUAL(add_to_physmap(&f, 1, 0, GNT_GFN), 0);
    /* The guest fills both pages with a secret (through its own mapping). */
    uint64_t gfns[2] = {SHINFO_GFN, GNT_GFN};
    for (int i = 0; i < 2; i++) {
        struct hv_mapping mp;
        CU_ASSERT_EQUAL_FATAL(hv_vm_query(f.vm, gfns[i] << 12, &mp), HV_OK);
        memset(mock_phys_to_virt(&f.mh, mp.hpa), 0x3C, 4096);
    }
    /* A second domain in the same context, after the first is gone. */
    CU_ASSERT_EQUAL(hv_xen_disable(f.vm), HV_OK);
    struct xf g;
    xf_setup_peer(&g, &f, NULL);
    g.compat = false;
    for (int i = 0; i < 2; i++) {
        long r;
        uint8_t a[24];
        memset(a, 0, sizeof(a));
        uint16_t dom = 0x7ff0;
        uint32_t space = (uint32_t)i;
        uint64_t gfn = gfns[i];
        memcpy(a, &dom, 2);
        memcpy(a + 4, &space, 4);
        memcpy(a + 16, &gfn, 8);
        memcpy(xf_gpa(&g, XF_BUF2), a, sizeof(a));
        r = xf_call_on(&g, g.vcpu, HC_MEMORY_OP, 7, XF_BUF2, 0);
        CU_ASSERT_EQUAL(r, 0);
        struct hv_mapping mp;
        CU_ASSERT_EQUAL_FATAL(hv_vm_query(g.vm, gfn << 12, &mp), HV_OK);
        /* The library writes time values into shared_info at once, whose
           bytes may happen to be 0x3C: the secret shows as a run of it
           (8 bytes in a row by chance: 2^-64). */
        const uint8_t *p = mock_phys_to_virt(&f.mh, mp.hpa);
        unsigned run = 0, longest = 0;
        for (unsigned k = 0; k < 4096; k++) {
            run = p[k] == 0x3C ? run + 1 : 0;
            longest = run > longest ? run : longest;
        }
        CU_ASSERT(longest < 8);
    }
    xf_teardown_peer(&g);
    xf_teardown(&f);
}

/* The scanner finds each kind of leak, and the stack poison reaches callees. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
static __attribute__((noinline)) uint8_t uninitialized_byte(void)
{
    /* Far enough below the caller's frame to be inside the poisoned area
       whatever the compiler puts at the top of its frames. */
    volatile uint8_t b[2048];
    __asm__ volatile("" ::"r"(b) : "memory"); /* a real frame, not the red zone */
    return b[16];                             /* deliberately uninitialized */
}
#pragma GCC diagnostic pop

static void test_scanner_self_check(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    stack_hi = (uintptr_t)__builtin_frame_address(0);
    poison_stack();
    /* Valgrind would rightly report the branch on an uninitialized byte;
       ASan lays its frame metadata where the callee's locals land. */
    if (!RUNNING_ON_VALGRIND && !HV_ASAN)
        CU_ASSERT_EQUAL(uninitialized_byte(), STACK_POISON);
    /* A stack address, a host mapping of a mock page, a host-physical
       address, stack poison, and a heap object (whose addresses the
       heuristic range covers natively but not under Valgrind). */
    const uint64_t leaks[5] = {(uint64_t)(uintptr_t)&f, (uint64_t)(uintptr_t)(f.ram + 0x100),
                               f.ram_hpa, 0xEBEB, (uint64_t)(uintptr_t)f.vm};
    for (unsigned i = 0; i < (RUNNING_ON_VALGRIND ? 4u : 5u); i++) {
        struct finding fd = {0, ""};
        memset(f.ram + 0x7000, 0, 4096);
        memcpy(f.ram + 0x7000 + 8 * i, &leaks[i], 8);
        scan_page(&f, 0x7000, f.ram + 0x7000, &fd);
        CU_ASSERT_EQUAL(fd.count, 1);
    }
    memset(f.ram + 0x7000, 0, 4096);
    xf_teardown(&f);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("hygiene", NULL, NULL);
    CU_add_test(s, "the scanner finds planted leaks", test_scanner_self_check);
    CU_add_test(s, "hypercalls copy no host bytes (64-bit)", test_hypercalls_64);
    CU_add_test(s, "hypercalls copy no host bytes (compat)", test_hypercalls_compat);
    CU_add_test(s, "PVH load copies no host bytes", test_pvh_load);
    CU_add_test(s, "guest-visible library pages start zeroed", test_pages_start_zeroed);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

/*
 * xen.grub: a third-party Xen PVH guest, unmodified. GRUB 2's i386-xen_pvh
 * image (grub-mkimage -O i386-xen_pvh, built by
 * tests/system/guests/grub/) comes in as a multiboot module whose command
 * line contains "grub-pvh". This kernel plays the Xen toolstack and
 * domain 0 for it (xen_domu.h: RAM, reserved console and xenstore pages,
 * the PV console, a minimal xenstore, the HVM debug console where GRUB
 * writes its panics); GRUB lists device/vbd in xenstore at start-up and
 * waits for the answer.
 *
 * GRUB finds the rest itself: CPUID leaves, the hypercall page MSR, the
 * memory map, grant table and shared_info frames (XENMEM_add_to_physmap
 * into the first hole above RAM), the pvclock for its TSC calibration.
 * Its embedded configuration (tests/system/guests/grub/grub.cfg) prints
 * known lines and halts, which on Xen is SCHEDOP_shutdown(poweroff).
 */
#ifdef HV_XEN_GUESTS
#include "core/util.h"
#include "xen_domu.h"

#define GRUB_RAM_SIZE   (8u << 20)
#define GRUB_OUT_CAP    16384u
#define GRUB_TIMEOUT_NS (60ull * 1000000000ull)

#define SHUTDOWN_POWEROFF 0 /* sched.h */

/* What the embedded grub.cfg prints (tests/system/guests/grub/grub.cfg). */
static const char *const expected[] = {
    "libhv-grub-ok",             /* echo */
    "platform=xen_pvh cpu=i386", /* GRUB's own variables */
    "test: running on xen_pvh",  /* the script's if/test */
    "Ref Count",                 /* lsmod's header */
    "minicmd",                   /* lsmod lists the module that provides it */
    "memdisk",                   /* and the one that held the script */
    "libhv-grub-sleep-end",      /* after `sleep 1` */
    "libhv-grub-halting",        /* the line before halt */
};

/* When the markers around `sleep 1` arrived. */
struct grub_times {
    uint64_t sleep_start_ns, sleep_end_ns;
};

static void grub_line(struct xdomu *u, const char *line)
{
    struct grub_times *t = u->arg;
    if (!t->sleep_start_ns && xh_contains(line, "libhv-grub-sleep-start"))
        t->sleep_start_ns = ktime_ns();
    if (!t->sleep_end_ns && xh_contains(line, "libhv-grub-sleep-end"))
        t->sleep_end_ns = ktime_ns();
}

static const struct xdomu_config grub_config = {
    .label = "grub",
    .module = "grub-pvh",
    .missing = "the GRUB image was not handed over (grub-xen-bin missing?)",
    .ram_size = GRUB_RAM_SIZE,
    .out_cap = GRUB_OUT_CAP,
    .timeout_ns = GRUB_TIMEOUT_NS,
    .on_line = grub_line,
};

static int grub_check(struct xdomu *u, const struct grub_times *t)
{
    struct kcase_ctx *kc = u->h.kc;
    struct xh_dom *d = xdomu_dom(u);
    if (!d->done)
        return kcase_fail(kc, "GRUB did not shut down");
    if (d->shutdown != SHUTDOWN_POWEROFF)
        return kcase_fail(kc, "GRUB shut down with reason %u, expected poweroff", d->shutdown);
    for (size_t i = 0; i < HV_ARRAY_SIZE(expected); i++)
        if (!xh_contains(u->out, expected[i]))
            return kcase_fail(kc, "no \"%s\" on GRUB's PV console", expected[i]);
    /* GRUB's start-up asked xenstore for its disks (and got none). */
    if (!xdomu_asked(u, "device/vbd"))
        return kcase_fail(kc, "GRUB never listed device/vbd in xenstore");
    /* `sleep 1` measures time with the TSC, scaled by the pvclock
       parameters in shared_info (GRUB's Xen TSC calibration): it must take
       about a second of host time (console lines arrive within a 50 ms
       time slice of being written). */
    uint64_t slept = t->sleep_end_ns - t->sleep_start_ns;
    kprintf("  grub: sleep 1 took %llu ms of host time\n", (unsigned long long)(slept / 1000000));
    if (!t->sleep_start_ns || !t->sleep_end_ns || slept < 900000000ull || slept > 1500000000ull)
        return kcase_fail(kc, "GRUB's sleep 1 took %llu ms of host time, expected 1000",
                          (unsigned long long)(slept / 1000000));
    /* It put the grant table and shared_info (XENMEM_add_to_physmap) in the
       first two frames of the memory map's first hole, above the special
       pages, as its PVH code chooses them. */
    struct hv_mapping m;
    for (uint64_t gpa = u->store_gpa + PAGE_SIZE; gpa <= u->store_gpa + 2 * PAGE_SIZE;
         gpa += PAGE_SIZE)
        if (hv_vm_query(d->vm, gpa, &m) != HV_OK)
            return kcase_fail(kc, "nothing mapped at 0x%llx: GRUB's add_to_physmap went elsewhere",
                              (unsigned long long)gpa);
    return 0;
}

static int case_grub(struct kcase_ctx *kc)
{
    struct xdomu *u = heap_alloc(sizeof(*u));
    struct grub_times t = {0, 0};
    if (!u)
        return kcase_fail(kc, "out of memory");
    int rc = xdomu_boot(u, kc, &grub_config, &t);
    if (!rc)
        rc = grub_check(u, &t);
    xdomu_fini(u);
    heap_free(u, sizeof(*u));
    return rc;
}

static const struct kcase grub_cases[] KCASE_TABLE = {
    {"xen.grub", case_grub, 0},
};

#endif /* HV_XEN_GUESTS */

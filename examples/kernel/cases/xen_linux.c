/*
 * xen.linux: Debian's Linux kernel, unmodified, as a Xen PVH domain U
 * (xen_domu.h: this kernel plays toolstack and dom0). Two multiboot
 * modules come from tests/system/guests/linux/: the ELF vmlinux extracted
 * from Debian's bzImage ("linux-pvh"), which the PVH loader starts at its
 * XEN_ELFNOTE_PHYS32_ENTRY, and a one-file initramfs ("linux-initrd",
 * start_info's first module) whose /init prints a line and exits.
 *
 * Linux gets 128 MiB (its image alone spans 16 to 74 MiB), two vCPUs, no
 * ACPI (acpi=off: no tables are built here; no nokaslr either: the PVH
 * entry bypasses the decompressor that randomizes) and what xen_platform.h
 * describes in place of Xen's ACPI tables: an MP table listing both CPUs,
 * without which Linux would run with no timer interrupt at all, and
 * libhv's local APIC (hv/lapic.h) in place of Xen's emulated one. Linux
 * (arch/x86/xen/smp_hvm.c) starts its second CPU the native way, with
 * INIT-SIPI-SIPI through that APIC: vCPU 1 is down at Xen's level until
 * the SIPI brings it up, then runs Linux's real-mode trampoline and takes
 * its Xen timer and event-channel IPIs, which the BSP bound for it. Ports
 * and MMIO nothing claims answer as in a Xen PVH domain without a device
 * model (xh::null_io): Linux probes PCI configuration ports, the PIT, the
 * PIC and the RTC and finds nothing.
 *
 * What it must do: detect Xen through the CPUID leaves, take its memory
 * map from start_info, print the banner on the early Xen console
 * (console_io) and the rest on hvc0 (the PV console ring), set up event
 * delivery by the HVM callback vector, Xen's timer (VIRQ_TIMER and
 * VCPUOP_set_singleshot_timer) and clock source (the pvclock), the grant
 * table and xenbus (the fixed xenstore), unpack the initramfs and run
 * /init, whose exit panics Linux ("Attempted to kill init!"), which its
 * Xen panic notifier turns into SCHEDOP_shutdown(crash): the case's end.
 */
#ifdef HV_XEN_GUESTS
#include "core/util.h"
#include "xen_domu.h"

#define LINUX_RAM_SIZE   (128u << 20)
#define LINUX_OUT_CAP    (64u << 10)
#define LINUX_TIMEOUT_NS (100ull * 1000000000ull)

#define SHUTDOWN_CRASH 3 /* sched.h */

/* Debian's CONFIG_HZ: the jiffy that Linux's delay loop counts in. */
#define LINUX_HZ 250u

#define LINUX_CMDLINE "console=hvc0 earlyprintk=xen acpi=off"

/* On its consoles (console_io until hvc0 takes over), in boot order. */
static const char *const expected[] = {
    "Linux version 6.",                                      /* the banner */
    "Hypervisor detected: Xen HVM",                          /* CPUID 0x40000000 */
    "found SMP MP-table at [mem 0x000f0000",                 /* xen_platform.c */
    "Booting kernel on Xen PVH",                             /* the PVH entry */
    "Xen HVM callback vector for event delivery is enabled", /* HVM_PARAM_CALLBACK_IRQ */
    "printk: console [hvc0] enabled",                        /* the PV console ring */
    "installing Xen timer for CPU 0",                        /* VIRQ_TIMER */
    "installing Xen timer for CPU 1",                        /* bound for vCPU 1 */
    "smp: Brought up 1 node, 2 CPUs",                        /* vCPU 1 ran Linux */
    "Grant table initialized",                               /* GNTTABOP, add_to_physmap */
    "clocksource: Switched to clocksource xen",              /* the pvclock */
    "Trying to unpack rootfs image as initramfs",            /* start_info's module */
    "Run /init as init process",
    "libhv-linux-init: user space runs",           /* tests/system/guests/linux/init.S */
    "Attempted to kill init! exitcode=0x00002a00", /* its exit(42) */
};

static const struct xdomu_config linux_config = {
    .label = "linux",
    .module = "linux-pvh",
    .missing = "the vmlinux was not handed over (tests/system/guests/linux/get-linux.sh)",
    .initrd = "linux-initrd",
    .ram_size = LINUX_RAM_SIZE,
    .cmdline = LINUX_CMDLINE, /* and lpj= (linux_cmdline) */
    .out_cap = LINUX_OUT_CAP,
    .timeout_ns = LINUX_TIMEOUT_NS,
    .null_io = true,
    .platform = true,
    .vcpus = 2,
    .tsc_stable = true,
};

/* The first @p what in @p s, or NULL. */
static const char *find(const char *s, const char *what)
{
    size_t n = hv_strlen(what);
    for (; *s; s++)
        if (!hv_memcmp(s, what, n))
            return s;
    return NULL;
}

static int linux_check(struct xdomu *u)
{
    struct kcase_ctx *kc = u->h.kc;
    struct xh_dom *d = xdomu_dom(u);
    if (!d->done)
        return kcase_fail(kc, "Linux did not shut down");
    const char *at = u->out;
    for (size_t i = 0; i < HV_ARRAY_SIZE(expected); i++) {
        /* In order: each line after the one before. */
        const char *p = find(at, expected[i]);
        if (!p)
            return kcase_fail(kc, "no \"%s\" on Linux's consoles (after \"%s\")", expected[i],
                              i ? expected[i - 1] : "the start");
        at = p + hv_strlen(expected[i]);
    }
    /* The stable pvclock: Linux registered vCPU 0's vcpu_time_info area
       (xen_setup_vsyscall_time_info) and kept it, which its vDSO reads;
       it prints nothing on success, only when the call fails or the copy
       lacks XEN_PVCLOCK_TSC_STABLE_BIT. */
    if (find(u->out, "VCLOCK_PVCLOCK not supported"))
        return kcase_fail(kc, "Linux says \"xen: VCLOCK_PVCLOCK not supported\"");
    struct hv_xen_vcpu_status vs;
    if (hv_xen_vcpu_status(d->vcpu, &vs) != HV_OK || !vs.time_area)
        return kcase_fail(kc, "Linux registered no vcpu_time_info area");
    /* vCPU 1 came up by the SIPI and ran guest code of its own. */
    if (hv_xen_vcpu_status(d->vcpu1, &vs) != HV_OK || vs.down)
        return kcase_fail(kc, "vCPU 1 is down at the end");
    if (d->exits1 < 100)
        return kcase_fail(kc, "vCPU 1 had only %u exits", d->exits1);
    if (d->shutdown != SHUTDOWN_CRASH)
        return kcase_fail(kc, "Linux shut down with reason %u, expected crash (its panic)",
                          d->shutdown);
    /* xenbus read its tree: the device directory (empty: no PV devices),
       and its shutdown handler watches control/shutdown (xen_store.h). */
    if (!xdomu_asked(u, "device"))
        return kcase_fail(kc, "Linux's xenbus never listed \"device\" in xenstore");
    if (!xdomu_asked(u, "control/shutdown"))
        return kcase_fail(kc, "Linux never watched control/shutdown in xenstore");
    return 0;
}

/*
 * The command line with lpj=, the delay loop's loops per jiffy, at the TSC
 * rate (Linux's delay loop counts TSC ticks, and its boot CPU computes this
 * same value from the TSC frequency). Without it, vCPU 1 calibrates its
 * own against jiffies that vCPU 0 advances, which fails when both share
 * this one CPU ("calibrate_delay_direct() failed"): its udelay then runs
 * some 12 times too long and the driver probes that run on it take
 * seconds more.
 */
static void linux_cmdline(char *buf, size_t cap)
{
    hv_snprintf(buf, cap, "%s lpj=%llu", LINUX_CMDLINE, (unsigned long long)(tsc_hz() / LINUX_HZ));
}

static int case_linux(struct kcase_ctx *kc)
{
    struct xdomu *u = heap_alloc(sizeof(*u));
    if (!u)
        return kcase_fail(kc, "out of memory");
    /* xen_linux_timeout=<seconds> on the command line, for emulators whose
       clock follows their instruction count (Bochs at its default 2 MIPS). */
    struct xdomu_config cfg = linux_config;
    char cmdline[sizeof(LINUX_CMDLINE) + 32];
    linux_cmdline(cmdline, sizeof(cmdline));
    cfg.cmdline = cmdline;
    char arg[12];
    if (boot_arg("xen_linux_timeout", arg, sizeof(arg))) {
        uint64_t sec = 0;
        for (const char *p = arg; *p >= '0' && *p <= '9' && sec < 100000; p++)
            sec = sec * 10 + (uint64_t)(*p - '0');
        cfg.timeout_ns = sec * 1000000000ull;
    }
    uint64_t t0 = ktime_ns();
    int rc = xdomu_boot(u, kc, &cfg, NULL);
    kprintf("  linux: %llu ms from load to shutdown\n",
            (unsigned long long)((ktime_ns() - t0) / 1000000));
    if (!rc)
        rc = linux_check(u);
    xdomu_fini(u);
    heap_free(u, sizeof(*u));
    return rc;
}

static const struct kcase linux_cases[] KCASE_TABLE = {
    {"xen.linux", case_linux, KCASE_EXPLICIT},
};

#endif /* HV_XEN_GUESTS */

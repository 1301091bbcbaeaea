/*
 * Harness of the Xen system-test cases (cases/xen_*.c): boots PVH guests
 * (tests/system/guests/xen) in VMs with libhv's Xen layer and schedules
 * them on this kernel's one CPU the way an embedder must:
 *
 *   - run a runnable vCPU for a time slice (the timer tick kicks it out);
 *   - HV_EXIT_HLT: the vCPU sleeps (SCHEDOP_block/poll, HLT) until an
 *     event wakes it (hv_xen_config::wake) or its timer is due
 *     (hv_exit::hlt.deadline_ns, hv_xen_vcpu_status());
 *   - HV_EXIT_GUEST_SHUTDOWN: the domain is done;
 *   - with every vCPU asleep, wait for the earliest deadline with the CPU
 *     halted (this kernel's tick wakes it).
 *
 * Each VM: 4 MiB of RAM at gpa 0, a read-only page and a hole (xg_layout.h),
 * 2 vCPU slots with vCPU 0 created (and vCPU 1, down until the guest
 * brings it up, with xh_dom_opts::smp), 64 event channel ports, the domain
 * handle filled with XG_HANDLE_BYTE, HVM_PARAM_STORE_PFN set, "input-1234"
 * queued for CONSOLEIO_read; the guest's console_io output is collected
 * and echoed to the serial port.
 */
#ifndef KERNEL_CASES_XEN_HARNESS_H
#define KERNEL_CASES_XEN_HARNESS_H

#include <hv/hv.h>
#include <hv/pvh.h>
#include <hv/xen.h>

#include "kcase.h"

#define XH_MAX_DOMS    2
#define XH_CONSOLE_CAP 8192

/* A guest image embedded by tests/system/guests/xen/CMakeLists.txt. */
struct xh_image {
    const char *name;
    const uint8_t *start, *end;
};

struct xh;

struct xh_dom {
    struct xh *h;
    const char *label;
    struct hv_vm *vm;
    struct hv_vcpu *vcpu;
    struct hv_vcpu *vcpu1; /* xh_dom_opts::smp */
    uint8_t *ram, *ro_page;
    uint32_t domid;
    bool xen_on;
    bool done;           /* shut down */
    uint32_t shutdown;   /* its reason */
    volatile bool woken; /* set by the wake callback */
    unsigned exits, hlts, kicks;
    unsigned exits1;        /* the part of exits that vCPU 1 made */
    unsigned null_io;       /* accesses answered by xh::null_io */
    uint16_t null_ports[8]; /* the first distinct ports among them, for the log */
    unsigned null_nports;
    uint64_t null_mmio; /* the first such MMIO address, or 0 */
    struct hv_pvh_info info;
    char *con; /* console_io output, NUL-terminated (echoed lines go when it fills) */
    size_t con_len;
    size_t line_start; /* of the console line not yet echoed */
};

struct xh {
    struct kcase_ctx *kc;
    struct hv_ctx *ctx;
    struct hv_xen_hub *hub;
    struct xh_dom doms[XH_MAX_DOMS];
    unsigned ndoms;
    /* Slice control (timer tick). */
    struct hv_vcpu *volatile running;
    volatile uint64_t slice_end;
    bool tick_armed;
    /* Take OUTs to Xen's HVM debug console port 0xe9 into the console text
       instead of failing on them (guests such as GRUB report panics there). */
    bool debugcon;
    /* Answer any other port I/O and MMIO exit as Xen does for a PVH domain
       without a device model (its null handler, hvm/emulate.c): reads
       return all ones, writes are dropped. Counted in xh_dom::null_io. */
    bool null_io;
    /* Called with console_io output as it is read (before echoing), or NULL. */
    void (*on_console)(struct xh *h, struct xh_dom *d, const char *s, size_t n);
    /* Called after every exit of any domain (host-side work); non-zero fails. */
    int (*on_exit)(struct xh *h, struct xh_dom *d);
    void *arg;
};

/* Answer d's port I/O as xh::null_io does, but inside hv_vcpu_run (a port
   handler, hv_vm_pio_register) for every port except 0xe9; 0 or
   kcase_fail(). */
int xh_null_ports(struct xh *h, struct xh_dom *d);

/* Options of xh_dom_create(). */
struct xh_dom_opts {
    const char *test;                   /* the guest's test= argument */
    uint32_t peer;                      /* its peer= argument (a domain id) */
    uint32_t domid;                     /* 0: the lowest free one */
    bool no_input;                      /* do not queue console input */
    bool hub;                           /* join the harness's hub (two-VM cases) */
    bool smp;                           /* create vCPU 1 too (the guest brings it up) */
    const struct hv_pvh_memmap *memmap; /* start_info's map, or NULL (derived) */
    uint32_t memmap_count;
    bool tsc_stable; /* HV_XEN_F_TSC_STABLE (the emulators' TSC is one, fixed-rate) */
    bool lapic;      /* libhv's local APIC (hv/lapic.h) in the VM */
};

int xh_init(struct xh *h, struct kcase_ctx *kc);
/* Create a VM, enable Xen, load @p img by PVH with the command line
   "test=<test> dom=<domid> peer=<peer>". */
int xh_dom_create(struct xh *h, struct xh_dom *d, const struct xh_image *img,
                  const struct xh_dom_opts *o);
/* Schedule every domain until all have shut down (or @p timeout_ns passes). */
int xh_run(struct xh *h, uint64_t timeout_ns);
/* Require a poweroff (or @p reason) and "xg: all ok" on the console. */
int xh_expect_ok(struct xh *h, struct xh_dom *d, uint32_t reason, const char *marker);
/* Tear everything down (safe on partial set-up). */
void xh_fini(struct xh *h);

/* Does the NUL-terminated console text contain @p s? */
bool xh_contains(const char *text, const char *s);

#endif /* KERNEL_CASES_XEN_HARNESS_H */

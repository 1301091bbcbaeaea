/*
 * A third-party Xen PVH guest, unmodified, as a domain U: this kernel
 * plays the Xen toolstack and domain 0 for it (cases xen.grub, xen.linux).
 * The image comes in as a multiboot module whose command line contains a
 * given name. The domain gets:
 *
 *   - RAM at gpa 0 and two special pages just above it, marked reserved in
 *     the memory map (start_info and XENMEM_memory_map), so that a guest
 *     that takes every RAM entry (GRUB's heap, Linux's page allocator)
 *     leaves them alone;
 *   - the PV console ring in the first (hv_xen_pvcons_attach: sets
 *     HVM_PARAM_CONSOLE_PFN/EVTCHN), read here as dom0's xenconsoled does;
 *   - the xenstore ring in the second (HVM_PARAM_STORE_PFN/EVTCHN), served
 *     by a minimal fixed-tree xenstore (xen_store.h);
 *   - Xen's HVM debug console (port 0xe9) and console_io, kept with the
 *     harness's console text (xh_dom::con).
 *
 * The guest finds the rest itself (CPUID leaves, the hypercall page MSR,
 * shared_info and grant frames by XENMEM_add_to_physmap, the pvclock).
 * PV console lines are echoed to the serial port without control
 * characters; the text of both consoles is kept in the order it was read
 * (up to xdomu_config::out_cap bytes) for the checks.
 */
#ifndef KERNEL_CASES_XEN_DOMU_H
#define KERNEL_CASES_XEN_DOMU_H

#include "xen_harness.h"
#include "xen_platform.h"
#include "xen_store.h"

struct xdomu;

struct xdomu_config {
    const char *label;   /* the domain's name in the log */
    const char *module;  /* a substring of the image module's command line */
    const char *missing; /* what the failure says when no module has that name */
    const char *initrd;  /* the module handed on as start_info's first module, or NULL */
    uint64_t ram_size;   /* bytes of RAM at gpa 0, a multiple of 4 KiB */
    const char *cmdline; /* the guest's command line, or NULL */
    size_t out_cap;      /* PV console bytes kept (the rest is only echoed) */
    uint64_t timeout_ns; /* until the guest must have shut down */
    bool null_io;        /* xh::null_io: ports and MMIO without a device model */
    /* An MP table listing the vCPUs and libhv's local APIC (hv/lapic.h),
       vCPU 1 waiting for the guest's SIPI (xen_platform.h). */
    bool platform;
    unsigned vcpus; /* 1 or 2 (0 is 1); 2 needs platform */
    /* HV_XEN_F_TSC_STABLE: this kernel vouches for the TSC (true of the
       emulators it is tested on: QEMU's TCG and Bochs keep one TSC for the
       whole machine, at a fixed rate). */
    bool tsc_stable;
    /* Called for each complete PV console line (NUL-terminated), or NULL. */
    void (*on_line)(struct xdomu *u, const char *line);
};

struct xdomu {
    struct xh h;
    const struct xdomu_config *cfg;
    void *arg;    /* the case's own state */
    uint8_t *mem; /* RAM and the special pages */
    uint64_t cons_gpa, store_gpa;
    struct xstore *xs;
    char *out;             /* PV console output kept, NUL-terminated */
    size_t out_len, total; /* kept, and received in all */
    char line[160];        /* the line being gathered, control characters left out */
    size_t line_len;
    bool esc; /* inside an escape sequence (ESC [ parameters letter) */
};

/* Create the domain from the module, run it until it shuts down (or the
   timeout), and log what it asked xenstore. Non-zero: the case failed. */
int xdomu_boot(struct xdomu *u, struct kcase_ctx *kc, const struct xdomu_config *cfg, void *arg);

/* The domain (after xdomu_boot). */
static inline struct xh_dom *xdomu_dom(struct xdomu *u)
{
    return &u->h.doms[0];
}

/* Did the guest's xenstore log hold a request for @p path? */
bool xdomu_asked(const struct xdomu *u, const char *path);

/* Tear down (safe after any failure of xdomu_boot). */
void xdomu_fini(struct xdomu *u);

#endif /* KERNEL_CASES_XEN_DOMU_H */

/*
 * The guest-state checks VM entry performs (SDM Vol. 3C 26.3.1), as a pure
 * function. Used twice: to diagnose an entry that failed with "invalid
 * guest state" (the CPU only says that some check failed), and by
 * set_state to refuse a state the CPU would refuse.
 */
#ifndef HV_VMX_CHECK_H
#define HV_VMX_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vmx/vmx_controls.h"

struct vmx_seg_state {
    uint16_t sel;
    uint64_t base;
    uint32_t limit;
    uint32_t ar; /* VMX access-rights format */
};

/* Guest-state area and the controls its checks depend on. */
struct vmx_guest_state {
    uint64_t cr0, cr3, cr4, dr7, efer, pat, rflags, rip;
    struct vmx_seg_state seg[8]; /* enum hv_seg order */
    uint64_t gdtr_base, idtr_base;
    uint32_t gdtr_limit, idtr_limit;
    uint32_t interruptibility, activity;
    uint64_t link_ptr;
    uint32_t pin_ctls, proc2_ctls, entry_ctls;
    uint32_t entry_intr_info;
};

/*
 * Returns true when every implemented check passes. Otherwise false, with
 * a NUL-terminated reason naming the first failing check in `reason`.
 * `cfg` gives the fixed-bit MSRs and the physical-address width.
 */
bool vmx_check_guest(const struct vmx_guest_state *g, const struct vmx_config *cfg, char *reason,
                     size_t size);

#endif /* HV_VMX_CHECK_H */

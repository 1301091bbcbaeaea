/*
 * Guest page-table walker: linear (guest-virtual) to guest-physical
 * translation through the guest's own paging structures, with the access
 * rights, fault error codes and accessed/dirty updates of the CPU
 * (SDM Vol. 3A chapter 4; AMD APM Vol. 2 chapter 5).
 */
#ifndef HV_EMU_WALK_H
#define HV_EMU_WALK_H

#include "emu/emu.h"

/* Access kinds (pick one of READ/WRITE/EXEC, optionally or IMPLICIT). */
#define HV_WALK_READ  0u
#define HV_WALK_WRITE 1u
#define HV_WALK_EXEC  2u
/*
 * Implicit supervisor-mode access (GDT/LDT/IDT/TSS reads, SDM Vol. 3A
 * 4.6): supervisor rules even at CPL 3, and SMAP ignores RFLAGS.AC.
 */
#define HV_WALK_IMPLICIT 4u

/* Page-fault error code bits (SDM Vol. 3A 4.7). */
#define HV_PF_P    HV_BIT(0) /* 0: not present; 1: protection/reserved */
#define HV_PF_W    HV_BIT(1) /* the access was a write */
#define HV_PF_U    HV_BIT(2) /* the access was a user-mode access */
#define HV_PF_RSVD HV_BIT(3) /* a reserved bit was set in an entry */
#define HV_PF_I    HV_BIT(4) /* instruction fetch (with NXE or SMEP only) */
#define HV_PF_PK   HV_BIT(5) /* protection-key violation */

enum hv_walk_outcome {
    HV_WALK_OK = 0,        /* gpa is valid */
    HV_WALK_PAGE_FAULT,    /* inject #PF(error_code), CR2 = the linear address */
    HV_WALK_TABLE_NOT_RAM, /* a paging-structure entry at table_gpa is not RAM */
};

struct hv_walk_result {
    enum hv_walk_outcome outcome;
    uint64_t gpa;        /* HV_WALK_OK: guest-physical address of the byte */
    uint64_t page_size;  /* HV_WALK_OK: 4 KiB, 2/4 MiB or 1 GiB (paging off: 4 KiB) */
    uint32_t error_code; /* HV_WALK_PAGE_FAULT: HV_PF_* */
    uint64_t table_gpa;  /* HV_WALK_TABLE_NOT_RAM: address of the entry */
};

/*
 * Translate linear address @p la for an access of kind @p access at
 * regs->cpl under regs->cr0/cr3/cr4/efer/rflags.AC (and pdpte/pkru/pkrs).
 * The paging mode follows from CR0.PG, CR4.PAE, EFER.LMA and CR4.LA57.
 *
 * On a successful walk sets the accessed flag of every entry used and, for
 * a write, the dirty flag of the leaf (SDM Vol. 3A 4.8), writing back only
 * entries that change. A failed walk changes nothing.
 *
 * Returns HV_OK when @p res->outcome is set, HV_ERR_INVALID_ARG, or the
 * status of a gpa_read/gpa_write callback that failed with something
 * other than HV_ERR_GUEST_FAULT. HV_ERR_AGAIN: a page-table entry kept
 * changing under the accessed/dirty update; retry later.
 */
hv_status_t hv_walk(const struct hv_emu_env *env, const struct hv_emu_regs *regs, uint64_t la,
                    unsigned access, struct hv_walk_result *res);

/* Most paging-structure entries one walk reads (5-level paging). */
#define HV_WALK_MAX_ENTRIES 5

/*
 * The paging-structure entries a successful walk used, in walk order, with
 * the values they hold after it (accessed/dirty flags set): as long as
 * every entry still holds that value and the registers are the same, the
 * same walk gives the same translation and changes nothing.
 */
struct hv_walk_trace {
    unsigned n;
    uint64_t gpa[HV_WALK_MAX_ENTRIES];
    uint64_t val[HV_WALK_MAX_ENTRIES];
    uint8_t size[HV_WALK_MAX_ENTRIES]; /* 4 or 8 bytes */
};

/*
 * hv_walk() that also fills @p trace (not NULL) when res->outcome is
 * HV_WALK_OK; trace->n is 0 otherwise (and with paging off).
 */
hv_status_t hv_walk_traced(const struct hv_emu_env *env, const struct hv_emu_regs *regs,
                           uint64_t la, unsigned access, struct hv_walk_result *res,
                           struct hv_walk_trace *trace);

#endif /* HV_EMU_WALK_H */

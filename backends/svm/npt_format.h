/*
 * AMD NPT entry format for the SLAT engine. Nested page tables use the
 * standard long-mode page-table entries (APM Vol. 2 15.25, 5.3.3 and the
 * 4-level entry figures in 5.4), walked with the host's paging modes.
 *
 * Choices and assumptions:
 * - U/S is set at every level: nested walks are treated as user accesses
 *   (APM Vol. 2 15.25.5), so a supervisor-only entry would fault.
 * - No-execute is bit 63 (NX). It is only defined when the host runs with
 *   EFER.NXE = 1, which libhv requires of an SVM host.
 * - Memory types use PWT/PCD with the PAT bit clear, i.e. PAT entries 0..3,
 *   which the architectural reset value of the host PAT (APM Vol. 2 7.8.2:
 *   WB, WT, UC-, UC) fixes as: WB = 0, WT = PWT, UC = PCD|PWT. WC and WP
 *   would need a host PAT entry libhv does not own, so the format does not
 *   offer them (the engine answers HV_ERR_UNSUPPORTED). The guest PAT
 *   still combines with this type (APM Vol. 2 15.25.8).
 * - Every entry is readable when present: no write-only and no
 *   execute-only mappings (exec_only is false).
 */
#ifndef HV_SVM_NPT_FORMAT_H
#define HV_SVM_NPT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include "slat/slat.h"

#define NPT_P         (1ull << 0)
#define NPT_RW        (1ull << 1)
#define NPT_US        (1ull << 2)
#define NPT_PWT       (1ull << 3)
#define NPT_PCD       (1ull << 4)
#define NPT_A         (1ull << 5)
#define NPT_D         (1ull << 6)  /* leaves */
#define NPT_PS        (1ull << 7)  /* PDPE / PDE: maps a 1 GiB / 2 MiB page */
#define NPT_PAT_4K    (1ull << 7)  /* PTE: PAT index bit 2 (always clear here) */
#define NPT_PAT_LARGE (1ull << 12) /* large leaves: PAT index bit 2 (always clear here) */
#define NPT_NX        (1ull << 63)
#define NPT_ADDR_MASK 0x000ffffffffff000ull /* bits 51:12 */

/*
 * Fill `fmt` with the NPT functions. page_sizes: 4K and 2M always (long
 * mode), 1G when CPUID Fn8000_0001 EDX bit 26 (Page1GB) is set. The CPU
 * always maintains A/D bits in nested tables.
 */
void hv_npt_format_init(struct hv_slat_format *fmt, uint32_t page_sizes);

/* The format functions themselves (exposed for the unit tests). */
uint64_t hv_npt_make_table(uint64_t table_hpa);
uint64_t hv_npt_make_leaf(uint64_t hpa, uint32_t flags, int level);
bool hv_npt_is_present(uint64_t e);
bool hv_npt_is_leaf(uint64_t e, int level);
uint64_t hv_npt_leaf_hpa(uint64_t e, int level);
uint64_t hv_npt_table_hpa(uint64_t e);
uint32_t hv_npt_leaf_flags(uint64_t e, int level);
bool hv_npt_is_dirty(uint64_t e);
uint64_t hv_npt_clear_dirty(uint64_t e);
uint64_t hv_npt_set_dirty(uint64_t e);

#endif /* HV_SVM_NPT_FORMAT_H */

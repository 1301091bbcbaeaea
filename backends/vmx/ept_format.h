/*
 * Intel EPT entry format for the SLAT engine (SDM Vol. 3C 29.3.2, the EPT
 * paging-structure entries; 29.3.7 memory typing; 25.6.11 the EPTP field).
 */
#ifndef HV_VMX_EPT_FORMAT_H
#define HV_VMX_EPT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include "slat/slat.h"

/* Entry bits (SDM Vol. 3C Tables 29-1 to 29-6). */
#define EPT_READ       (1ull << 0)
#define EPT_WRITE      (1ull << 1)
#define EPT_EXEC       (1ull << 2) /* supervisor execute with mode-based control */
#define EPT_MT_SHIFT   3           /* leaves: memory type, bits 5:3 */
#define EPT_MT_MASK    (7ull << EPT_MT_SHIFT)
#define EPT_IGNORE_PAT (1ull << 6)           /* leaves: ignore the guest PAT */
#define EPT_LARGE      (1ull << 7)           /* PDPTE / PDE: maps a 1 GiB / 2 MiB page */
#define EPT_ACCESSED   (1ull << 8)           /* only with EPTP bit 6 (A/D enable) */
#define EPT_DIRTY      (1ull << 9)           /* leaves, only with EPTP bit 6 */
#define EPT_ADDR_MASK  0x000ffffffffff000ull /* bits 51:12 (MAXPHYADDR <= 52) */

/* EPT memory types (SDM Vol. 3C 29.3.7; same encoding as the MTRR/PAT types). */
#define EPT_MT_UC 0u
#define EPT_MT_WC 1u
#define EPT_MT_WT 4u
#define EPT_MT_WP 5u
#define EPT_MT_WB 6u

/* EPTP fields (SDM Vol. 3C 25.6.11). */
#define EPTP_MT_WB     6ull        /* bits 2:0: type used to access the tables */
#define EPTP_WALK_4    (3ull << 3) /* bits 5:3: page-walk length minus 1 */
#define EPTP_AD_ENABLE (1ull << 6) /* bit 6: CPU maintains accessed/dirty bits */

/*
 * Fill `fmt` with the EPT functions and the CPU's facts, all taken from
 * IA32_VMX_EPT_VPID_CAP (SDM Vol. 3D A.10): page_sizes = 4K | 2M if bit 16
 * | 1G if bit 17; ad = bit 21; exec_only = bit 0. Every memory type is
 * expressible. Leaves leave "ignore PAT" clear, so the guest's PAT still
 * combines with the EPT type (SDM Vol. 3C 29.3.7.2): a guest may make its
 * own mappings of RAM uncacheable.
 */
void hv_ept_format_init(struct hv_slat_format *fmt, uint32_t page_sizes, bool ad, bool exec_only);

/* EPTP for a 4-level EPT rooted at root_hpa, tables accessed write-back. */
uint64_t hv_ept_eptp(uint64_t root_hpa, bool ad);

/* The format functions themselves (exposed for the unit tests). */
uint64_t hv_ept_make_table(uint64_t table_hpa);
uint64_t hv_ept_make_leaf(uint64_t hpa, uint32_t flags, int level);
bool hv_ept_is_present(uint64_t e);
bool hv_ept_is_leaf(uint64_t e, int level);
uint64_t hv_ept_leaf_hpa(uint64_t e, int level);
uint64_t hv_ept_table_hpa(uint64_t e);
uint32_t hv_ept_leaf_flags(uint64_t e, int level);
bool hv_ept_is_dirty(uint64_t e);
uint64_t hv_ept_clear_dirty(uint64_t e);
uint64_t hv_ept_set_dirty(uint64_t e);

#endif /* HV_VMX_EPT_FORMAT_H */

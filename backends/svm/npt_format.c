/* AMD NPT entries for the SLAT engine (see npt_format.h). */
#include "svm/npt_format.h"

static inline uint64_t page_mask(int level)
{
    return (1ull << (12 + 9 * level)) - 1;
}

/* Table entries grant everything (rights combine across levels, APM Vol. 2 5.6). */
uint64_t hv_npt_make_table(uint64_t table_hpa)
{
    return (table_hpa & NPT_ADDR_MASK) | NPT_P | NPT_RW | NPT_US;
}

uint64_t hv_npt_make_leaf(uint64_t hpa, uint32_t flags, int level)
{
    uint64_t e = (hpa & NPT_ADDR_MASK & ~page_mask(level)) | NPT_P | NPT_US;
    if (flags & HV_MEM_WRITE)
        e |= NPT_RW;
    if (!(flags & HV_MEM_EXEC))
        e |= NPT_NX;
    switch (flags & HV_MEMTYPE_MASK) {
    case HV_MEMTYPE_UC:
        e |= NPT_PCD | NPT_PWT; /* PAT entry 3: UC */
        break;
    case HV_MEMTYPE_WT:
        e |= NPT_PWT; /* PAT entry 1: WT */
        break;
    default: /* WB: PAT entry 0; WC/WP are refused before reaching here */
        break;
    }
    if (level > 0)
        e |= NPT_PS;
    return e;
}

bool hv_npt_is_present(uint64_t e)
{
    return (e & NPT_P) != 0;
}

/* PS in a PDPE/PDE selects a page; a PTE is always one; a PML4E never. */
bool hv_npt_is_leaf(uint64_t e, int level)
{
    if (level == 0)
        return true;
    if (level > 2)
        return false;
    return (e & NPT_PS) != 0;
}

/* For large leaves the mask also drops bit 12, the PAT bit. */
uint64_t hv_npt_leaf_hpa(uint64_t e, int level)
{
    return e & NPT_ADDR_MASK & ~page_mask(level);
}

uint64_t hv_npt_table_hpa(uint64_t e)
{
    return e & NPT_ADDR_MASK;
}

uint32_t hv_npt_leaf_flags(uint64_t e, int level)
{
    uint32_t flags = HV_MEM_READ;
    if (e & NPT_RW)
        flags |= HV_MEM_WRITE;
    if (!(e & NPT_NX))
        flags |= HV_MEM_EXEC;
    uint64_t pat = level == 0 ? NPT_PAT_4K : NPT_PAT_LARGE;
    if (e & pat)
        return flags | HV_MEMTYPE_MASK; /* PAT entries 4..7: not produced by libhv */
    switch (e & (NPT_PCD | NPT_PWT)) {
    case 0:
        return flags | HV_MEMTYPE_WB;
    case NPT_PWT:
        return flags | HV_MEMTYPE_WT;
    default: /* PCD (UC-) and PCD|PWT (UC) */
        return flags | HV_MEMTYPE_UC;
    }
}

bool hv_npt_is_dirty(uint64_t e)
{
    return (e & NPT_D) != 0;
}

uint64_t hv_npt_clear_dirty(uint64_t e)
{
    return e & ~NPT_D;
}

uint64_t hv_npt_set_dirty(uint64_t e)
{
    return e | NPT_D;
}

void hv_npt_format_init(struct hv_slat_format *fmt, uint32_t page_sizes)
{
    fmt->name = "npt";
    fmt->page_sizes = HV_PAGE_4K | HV_PAGE_2M | (page_sizes & HV_PAGE_1G);
    /* WB, UC, WT (see the PAT note in npt_format.h). */
    fmt->memtypes = (1u << (HV_MEMTYPE_WB >> HV_MEMTYPE_SHIFT)) |
                    (1u << (HV_MEMTYPE_UC >> HV_MEMTYPE_SHIFT)) |
                    (1u << (HV_MEMTYPE_WT >> HV_MEMTYPE_SHIFT));
    fmt->has_ad = true;
    fmt->exec_only = false;
    fmt->ad_mask = NPT_A | NPT_D;
    fmt->make_table = hv_npt_make_table;
    fmt->make_leaf = hv_npt_make_leaf;
    fmt->is_present = hv_npt_is_present;
    fmt->is_leaf = hv_npt_is_leaf;
    fmt->leaf_hpa = hv_npt_leaf_hpa;
    fmt->table_hpa = hv_npt_table_hpa;
    fmt->leaf_flags = hv_npt_leaf_flags;
    fmt->is_dirty = hv_npt_is_dirty;
    fmt->clear_dirty = hv_npt_clear_dirty;
    fmt->set_dirty = hv_npt_set_dirty;
}

/* Intel EPT entries for the SLAT engine (see ept_format.h). */
#include "vmx/ept_format.h"

/* HV_MEMTYPE_* index -> EPT memory type. */
static const uint8_t ept_mt_of[5] = {
    [HV_MEMTYPE_WB >> HV_MEMTYPE_SHIFT] = EPT_MT_WB,
    [HV_MEMTYPE_UC >> HV_MEMTYPE_SHIFT] = EPT_MT_UC,
    [HV_MEMTYPE_WC >> HV_MEMTYPE_SHIFT] = EPT_MT_WC,
    [HV_MEMTYPE_WT >> HV_MEMTYPE_SHIFT] = EPT_MT_WT,
    [HV_MEMTYPE_WP >> HV_MEMTYPE_SHIFT] = EPT_MT_WP,
};

/* Offset-within-page mask of a level-`level` leaf. */
static inline uint64_t page_mask(int level)
{
    return (1ull << (12 + 9 * level)) - 1;
}

/* Rights of all levels combine (SDM Vol. 3C 29.3.2): a table entry grants all, the leaf decides. */
uint64_t hv_ept_make_table(uint64_t table_hpa)
{
    return (table_hpa & EPT_ADDR_MASK) | EPT_READ | EPT_WRITE | EPT_EXEC;
}

uint64_t hv_ept_make_leaf(uint64_t hpa, uint32_t flags, int level)
{
    uint32_t type = (flags & HV_MEMTYPE_MASK) >> HV_MEMTYPE_SHIFT;
    uint64_t e = (hpa & EPT_ADDR_MASK & ~page_mask(level)) | (flags & HV_MEM_RWX);
    if (type < sizeof(ept_mt_of))
        e |= (uint64_t)ept_mt_of[type] << EPT_MT_SHIFT;
    if (level > 0)
        e |= EPT_LARGE;
    return e;
}

/* Without mode-based execute control, bits 2:0 all clear = not present (29.3.2). */
bool hv_ept_is_present(uint64_t e)
{
    return (e & (EPT_READ | EPT_WRITE | EPT_EXEC)) != 0;
}

/* Bit 7 of a PDPTE/PDE selects a page; a PTE is always one; a PML4E never. */
bool hv_ept_is_leaf(uint64_t e, int level)
{
    if (level == 0)
        return true;
    if (level > 2)
        return false;
    return (e & EPT_LARGE) != 0;
}

uint64_t hv_ept_leaf_hpa(uint64_t e, int level)
{
    return e & EPT_ADDR_MASK & ~page_mask(level);
}

uint64_t hv_ept_table_hpa(uint64_t e)
{
    return e & EPT_ADDR_MASK;
}

uint32_t hv_ept_leaf_flags(uint64_t e, int level)
{
    (void)level;
    uint32_t flags = (uint32_t)(e & HV_MEM_RWX);
    switch ((e & EPT_MT_MASK) >> EPT_MT_SHIFT) {
    case EPT_MT_WB:
        return flags | HV_MEMTYPE_WB;
    case EPT_MT_UC:
        return flags | HV_MEMTYPE_UC;
    case EPT_MT_WC:
        return flags | HV_MEMTYPE_WC;
    case EPT_MT_WT:
        return flags | HV_MEMTYPE_WT;
    case EPT_MT_WP:
        return flags | HV_MEMTYPE_WP;
    default: /* 2, 3, 7 are reserved: report a type no caller accepts */
        return flags | HV_MEMTYPE_MASK;
    }
}

bool hv_ept_is_dirty(uint64_t e)
{
    return (e & EPT_DIRTY) != 0;
}

uint64_t hv_ept_clear_dirty(uint64_t e)
{
    return e & ~EPT_DIRTY;
}

uint64_t hv_ept_set_dirty(uint64_t e)
{
    return e | EPT_DIRTY;
}

void hv_ept_format_init(struct hv_slat_format *fmt, uint32_t page_sizes, bool ad, bool exec_only)
{
    fmt->name = "ept";
    fmt->page_sizes = HV_PAGE_4K | (page_sizes & (HV_PAGE_2M | HV_PAGE_1G));
    fmt->memtypes = 0x1fu; /* WB, UC, WC, WT, WP */
    fmt->has_ad = ad;
    fmt->exec_only = exec_only;
    fmt->ad_mask = EPT_ACCESSED | EPT_DIRTY;
    fmt->make_table = hv_ept_make_table;
    fmt->make_leaf = hv_ept_make_leaf;
    fmt->is_present = hv_ept_is_present;
    fmt->is_leaf = hv_ept_is_leaf;
    fmt->leaf_hpa = hv_ept_leaf_hpa;
    fmt->table_hpa = hv_ept_table_hpa;
    fmt->leaf_flags = hv_ept_leaf_flags;
    fmt->is_dirty = hv_ept_is_dirty;
    fmt->clear_dirty = hv_ept_clear_dirty;
    fmt->set_dirty = hv_ept_set_dirty;
}

uint64_t hv_ept_eptp(uint64_t root_hpa, bool ad)
{
    return (root_hpa & EPT_ADDR_MASK) | EPTP_MT_WB | EPTP_WALK_4 | (ad ? EPTP_AD_ENABLE : 0);
}

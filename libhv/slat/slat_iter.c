/*
 * Visiting every leaf of a SLAT (hv_slat_for_each_leaf): the teardown scrub
 * of HV_VM_SCRUB zeroes the guest RAM the map still points at.
 */
#include "slat/slat_internal.h"

/* The table `hw` of level L (shadow `dir`, NULL at level 0) covers [base, ...). */
static void visit(const struct hv_slat *s, const uint64_t *hw, const struct hv_slat_dir *dir, int L,
                  uint64_t base, hv_slat_leaf_fn fn, void *arg)
{
    for (unsigned i = 0; i < SLAT_ENTRIES; i++) {
        uint64_t e = slat_load(&hw[i]);
        if (!slat_present(s, e))
            continue;
        uint64_t gpa = base + (uint64_t)i * slat_entry_size(L);
        if (slat_is_leaf(s, e, L)) {
            fn(arg, gpa, s->fmt->leaf_hpa(e, L), slat_entry_size(L), s->fmt->leaf_flags(e, L));
            continue;
        }
        void *sub = slat_load_sub(&dir->sub[i]);
        if (sub)
            visit(s, slat_child_hw(sub, L), L >= 2 ? (const struct hv_slat_dir *)sub : NULL, L - 1,
                  gpa, fn, arg);
    }
}

void hv_slat_for_each_leaf(const struct hv_slat *s, hv_slat_leaf_fn fn, void *arg)
{
    if (!s || !s->root || !fn)
        return;
    visit(s, s->root->hw, s->root, SLAT_ROOT_LEVEL, 0, fn, arg);
}

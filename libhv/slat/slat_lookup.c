/*
 * Lookups: translate (the hot path used by guest memory accessors) and
 * query. A walk reads the shadows' child pointers down to the entry that
 * maps the address: a few dependent loads, no lock, no allocation, no call
 * to the host.
 */
#include "slat/slat_internal.h"

/*
 * Find the entry mapping `gpa`: returns it and its level. A non-present
 * entry means "not mapped". Concurrent writers publish a child before the
 * entry that points to it (slat_child_or_entry) and keep retired tables
 * until no walk can be in them, so the walk always lands in a table that
 * holds a consistent translation, but for the retired list's link in a
 * level-0 table's entry 0: a walk that meets it sets *level to -1, and the
 * caller starts again (slat_pt_entry; a tail call, so that the common
 * path keeps no registers for it).
 */
static inline __attribute__((always_inline)) uint64_t walk(const struct hv_slat *s, uint64_t gpa,
                                                           int *level)
{
    const struct hv_slat_dir *d3 = s->root;
    const struct hv_slat_dir *d2 = slat_load_sub(&d3->sub[slat_index(gpa, 3)]);
    uint64_t e = 0;
    if (!d2) {
        *level = 3; /* a root entry is never a leaf: a present one has a child */
        return 0;
    }
    const struct hv_slat_dir *d1 =
        slat_child_or_entry(s, d2->hw, d2->sub, slat_index(gpa, 2), 2, &e);
    if (!d1) {
        *level = 2;
        return e;
    }
    unsigned i1 = slat_index(gpa, 1);
    const uint64_t *pt = slat_child_or_entry(s, d1->hw, d1->sub, i1, 1, &e);
    if (!pt) {
        *level = 1;
        return e;
    }
    bool gone;
    e = slat_pt_entry(s, pt, slat_index(gpa, 0), &d1->sub[i1], &gone);
    *level = gone ? -1 : 0;
    return e;
}

/* Does leaf e grant permission p (0 = R, 1 = W, 2 = X)? Masks from init (slat.h). */
static inline bool grants(const struct hv_slat *s, uint64_t e, int p)
{
    return (e & s->perm_mask[p]) == s->perm_want[p];
}

hv_status_t hv_slat_translate(const struct hv_slat *s, uint64_t gpa, uint32_t access, uint64_t *hpa)
{
    if (HV_UNLIKELY(!s || !hpa || !s->root || (access & ~(uint32_t)HV_MEM_RWX)))
        return HV_ERR_INVALID_ARG;
    if (HV_UNLIKELY(gpa >= s->gpa_limit))
        return HV_ERR_RANGE;
    int l;
    uint64_t e = walk(s, gpa, &l);
    if (HV_UNLIKELY(l < 0))
        return hv_slat_translate(s, gpa, access, hpa);
    if (!slat_present(s, e))
        return HV_ERR_NOT_FOUND;
    if (((access & HV_MEM_READ) && !grants(s, e, 0)) ||
        ((access & HV_MEM_WRITE) && !grants(s, e, 1)) ||
        ((access & HV_MEM_EXEC) && !grants(s, e, 2)))
        return HV_ERR_GUEST_FAULT;
    *hpa = slat_leaf_hpa(s, e, l) | (gpa & (slat_entry_size(l) - 1));
    return HV_OK;
}

hv_status_t hv_slat_query(const struct hv_slat *s, uint64_t gpa, struct hv_mapping *out)
{
    if (!s || !out || !s->root)
        return HV_ERR_INVALID_ARG;
    if (gpa >= s->gpa_limit)
        return HV_ERR_RANGE;
    const struct hv_slat_format *f = s->fmt;
    int l;
    uint64_t e = walk(s, gpa, &l);
    if (HV_UNLIKELY(l < 0))
        return hv_slat_query(s, gpa, out);
    if (!slat_present(s, e))
        return HV_ERR_NOT_FOUND;
    uint64_t size = slat_entry_size(l);
    out->gpa = gpa & ~(size - 1);
    out->hpa = f->leaf_hpa(e, l);
    out->page_size = size;
    out->flags = f->leaf_flags(e, l);
    return HV_OK;
}

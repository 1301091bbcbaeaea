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
 * entry that points to it and keep retired tables until the flush, so the
 * walk always lands in a table that holds a consistent translation.
 */
static inline uint64_t walk(const struct hv_slat *s, uint64_t gpa, int *level)
{
    const struct hv_slat_dir *d = s->root;
    int l = SLAT_ROOT_LEVEL;
    for (;;) {
        unsigned i = slat_index(gpa, l);
        void *sub = slat_load_sub(&d->sub[i]);
        if (!sub) {
            *level = l;
            /* A root entry is never a leaf: a present one always has a child. */
            return l == SLAT_ROOT_LEVEL ? 0 : slat_load(&d->hw[i]);
        }
        if (l == 1) {
            *level = 0;
            return slat_load((const uint64_t *)sub + slat_index(gpa, 0));
        }
        d = sub;
        l--;
    }
}

hv_status_t hv_slat_translate(const struct hv_slat *s, uint64_t gpa, uint32_t access, uint64_t *hpa)
{
    if (HV_UNLIKELY(!s || !hpa || !s->root || (access & ~(uint32_t)HV_MEM_RWX)))
        return HV_ERR_INVALID_ARG;
    if (HV_UNLIKELY(gpa >= s->gpa_limit))
        return HV_ERR_RANGE;
    int l;
    uint64_t e = walk(s, gpa, &l);
    if (!(e & s->present_mask))
        return HV_ERR_NOT_FOUND;
    /* Masks derived from the format at init (slat.h): no call per lookup. */
    uint32_t granted = 0;
    for (int p = 0; p < 3; p++)
        if ((e & s->perm_mask[p]) == s->perm_want[p])
            granted |= 1u << p;
    if ((granted & access) != access)
        return HV_ERR_GUEST_FAULT;
    *hpa = (e & s->addr_mask[l]) | (gpa & (slat_entry_size(l) - 1));
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
    if (!slat_present(s, e))
        return HV_ERR_NOT_FOUND;
    uint64_t size = slat_entry_size(l);
    out->gpa = gpa & ~(size - 1);
    out->hpa = f->leaf_hpa(e, l);
    out->page_size = size;
    out->flags = f->leaf_flags(e, l);
    return HV_OK;
}

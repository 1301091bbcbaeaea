/*
 * Dirty harvest: copy the dirty bits of a range into a caller bitmap and
 * clear them, so the CPU sets them again on the next write (SDM Vol. 3C
 * 29.3.5 for EPT with A/D enabled; APM Vol. 2 15.25 for NPT, whose entries
 * carry the usual D bit).
 */
#include "slat/slat_internal.h"

struct harvest {
    const struct hv_slat *s;
    const struct hv_slat_format *f;
    uint64_t gpa0; /* start of the range: bit 0 of the bitmap */
    uint64_t *bitmap;
    bool cleared; /* a dirty bit was cleared: flush needed */
};

/* Set bits [first, first+count) of the bitmap. */
static void set_bits(uint64_t *bm, uint64_t first, uint64_t count)
{
    for (; count && (first & 63); first++, count--)
        bm[first >> 6] |= 1ull << (first & 63);
    for (; count >= 64; first += 64, count -= 64)
        bm[first >> 6] = ~0ull;
    for (; count; first++, count--)
        bm[first >> 6] |= 1ull << (first & 63);
}

static void harvest(struct harvest *h, uint64_t *hw, const struct hv_slat_dir *dir, int L,
                    uint64_t a, uint64_t b)
{
    const struct hv_slat_format *f = h->f;
    for (uint64_t lo = a, hi; lo < b; lo = hi) {
        hi = slat_entry_end(L, lo, b);
        unsigned i = slat_index(lo, L);
        uint64_t e = slat_load(&hw[i]);
        if (!slat_present(h->s, e))
            continue;
        if (slat_is_leaf(h->s, e, L)) {
            if (!f->is_dirty(e))
                continue;
            set_bits(h->bitmap, (lo - h->gpa0) >> 12, (hi - lo) >> 12);
            /*
             * A large page the range covers in part stays dirty: clearing it
             * would lose the writes to its other part.
             */
            if (!slat_entry_full(L, lo, hi))
                continue;
            while (!slat_cas(&hw[i], &e, f->clear_dirty(e)))
                ;
            h->cleared = true;
            continue;
        }
        void *sub = dir->sub[i];
        harvest(h, slat_child_hw(sub, L), L >= 2 ? sub : NULL, L - 1, lo, hi);
    }
}

hv_status_t hv_slat_dirty_harvest(struct hv_slat *s, uint64_t gpa, uint64_t len, uint64_t *bitmap)
{
    if (!s || !s->root || !bitmap)
        return HV_ERR_INVALID_ARG;
    if (!s->fmt->has_ad)
        return HV_ERR_UNSUPPORTED;
    hv_status_t st = slat_check_range(s, gpa, len);
    if (st != HV_OK)
        return st;
    uint64_t pages = len >> 12;
    hv_memset(bitmap, 0, (size_t)((pages + 63) / 64) * sizeof(uint64_t));
    struct harvest h = {.s = s, .f = s->fmt, .gpa0 = gpa, .bitmap = bitmap, .cleared = false};
    harvest(&h, s->root->hw, s->root, SLAT_ROOT_LEVEL, gpa, gpa + len);
    if (h.cleared)
        s->flush_pending = true;
    return HV_OK;
}

/*
 * Visiting the leaves of a SLAT in address order: every one
 * (hv_slat_for_each_leaf: the teardown scrub of HV_VM_SCRUB zeroes the
 * guest RAM the map still points at; the Xen layer's derived memory map)
 * or the first at or above an address (hv_slat_query_next: enumerating the
 * mappings without probing the holes between them page by page).
 */
#include "slat/slat_internal.h"

struct visit {
    const struct hv_slat *s;
    uint64_t from;      /* leaves that end above it */
    bool again;         /* a table left the tree under the walk: start again at from */
    uint64_t left;      /* bytes not visited yet: 0 ends a walk from 0 */
    hv_slat_leaf_fn fn; /* returns true to stop */
    void *arg;
};

/*
 * The table `hw` of level L (shadow `dir`, NULL at level 0; linked by its
 * parent's shadow slot `link`, NULL for the root) covers [base, base + 512
 * entries): its leaves that end above v->from, in order. Returns true to
 * end the walk: fn asked to, or every mapped byte has been seen (so the
 * empty tail of each table is not scanned), or a level-0 table was retired
 * under the walk (v->again: slat_pt_entry). Empty subtrees cost one load
 * each.
 */
static bool visit(struct visit *v, const uint64_t *hw, const struct hv_slat_dir *dir,
                  void *const *link, int L, uint64_t base);

/* Present entry i (value e) of visit()'s table: its subtree or its leaf.
   Returns true to end the walk. */
static inline __attribute__((always_inline)) bool visit_entry(struct visit *v, const uint64_t *hw,
                                                              const struct hv_slat_dir *dir, int L,
                                                              uint64_t base, unsigned i, uint64_t e)
{
    const struct hv_slat *s = v->s;
    void *sub = slat_is_leaf(s, e, L) ? NULL : slat_child_or_entry(s, hw, dir->sub, i, L, &e);
    uint64_t gpa = base + (uint64_t)i * slat_entry_size(L);
    if (sub)
        return visit(v, slat_child_hw(sub, L), L >= 2 ? (const struct hv_slat_dir *)sub : NULL,
                     &dir->sub[i], L - 1, gpa);
    if (!slat_present(s, e))
        return false; /* unmapped since the first load */
    uint64_t size = slat_entry_size(L);
    if (v->fn(v->arg, gpa, s->fmt->leaf_hpa(e, L), size, s->fmt->leaf_flags(e, L)))
        return true;
    v->left -= HV_MIN(v->left, size);
    return !v->left;
}

static bool visit(struct visit *v, const uint64_t *hw, const struct hv_slat_dir *dir,
                  void *const *link, int L, uint64_t base)
{
    const struct hv_slat *s = v->s;
    unsigned i = v->from > base ? slat_index(v->from, L) : 0;
    if (L == 0 && i == 0) {
        /* Entry 0 of a level-0 table on its own: the one a retirement
           under the walk overwrites (slat_pt_entry). */
        bool gone;
        uint64_t e = slat_pt_entry(s, hw, 0, link, &gone);
        if (gone) {
            v->from = HV_MAX(v->from, base);
            v->again = true;
            return true;
        }
        if (slat_present(s, e) && visit_entry(v, hw, dir, L, base, 0, e))
            return true;
        i = 1;
    }
    for (; i < SLAT_ENTRIES; i++) {
        /* An empty entry costs this one load; a table's entry is read
           again with its child (slat_child_or_entry). */
        uint64_t e = __atomic_load_n(&hw[i], __ATOMIC_ACQUIRE);
        if (slat_present(s, e) && visit_entry(v, hw, dir, L, base, i, e))
            return true;
    }
    return false;
}

/* visit() from the root, again from v->from while a retired table sends
   it back. Returns visit's result. */
static bool visit_from_root(struct visit *v)
{
    for (;;) {
        v->again = false;
        bool end = visit(v, v->s->root->hw, v->s->root, NULL, SLAT_ROOT_LEVEL, 0);
        if (!v->again)
            return end;
    }
}

void hv_slat_for_each_leaf(const struct hv_slat *s, hv_slat_leaf_fn fn, void *arg)
{
    if (!s || !s->root || !fn)
        return;
    struct visit v = {.s = s, .from = 0, .left = s->mapped_bytes, .fn = fn, .arg = arg};
    if (v.left)
        visit_from_root(&v);
}

static bool take_first(void *arg, uint64_t gpa, uint64_t hpa, uint64_t size, uint32_t flags)
{
    struct hv_mapping *out = arg;
    out->gpa = gpa;
    out->hpa = hpa;
    out->page_size = size;
    out->flags = flags;
    return true;
}

hv_status_t hv_slat_query_next(const struct hv_slat *s, uint64_t gpa, struct hv_mapping *out)
{
    if (!s || !out || !s->root)
        return HV_ERR_INVALID_ARG;
    if (gpa >= s->gpa_limit)
        return HV_ERR_RANGE;
    /* `left` cannot end this walk early: the leaves below gpa are not seen. */
    struct visit v = {.s = s, .from = gpa, .left = UINT64_MAX, .fn = take_first, .arg = out};
    if (!visit_from_root(&v))
        return HV_ERR_NOT_FOUND;
    return HV_OK;
}

/*
 * Map, unmap and protect: the tree-changing operations.
 *
 * Each call runs in two phases over the same walk:
 *  1. plan: check the range against the tree (overlap for map, holes for
 *     protect) and count the table pages and shadows the call will need
 *     (new tables, splits), touching nothing;
 *  2. apply: with everything allocated up front (slat_reserve), change the
 *     tree; this phase cannot fail.
 * So a failing call (bad range, overlap, hole, no memory) changes nothing.
 * Merges run bottom-up as apply returns from each table it changed, and
 * empty tables are retired, which keeps the tree canonical (slat.h).
 */
#include "slat/slat_internal.h"

struct slat_op {
    struct hv_slat *s;
    const struct hv_slat_format *f;
    uint64_t delta;       /* map: hpa - gpa (mod 2^64) */
    const uint64_t *tmpl; /* leaf bits without the address for the new flags, per level */
    uint64_t ad;          /* fmt->ad_mask */
    uint64_t pages;       /* plan: table pages to allocate */
    uint64_t dirs;        /* plan: shadows to allocate */
    uint64_t removed;     /* unmap: bytes unmapped */
    hv_status_t status;
};

/* Shadow of the child below sub (a level-`L` table's entry), NULL for level 0. */
static inline struct hv_slat_dir *child_dir(void *sub, int L)
{
    return L >= 2 ? (struct hv_slat_dir *)sub : NULL;
}

/* Account for one new table at `child_level` in the plan. */
static inline void plan_table(struct slat_op *op, int child_level)
{
    op->pages++;
    if (child_level >= 1)
        op->dirs++;
}

/* Link a new, empty child table under entry i of a level-`L` table. */
static void *new_table(struct slat_op *op, uint64_t *hw, struct hv_slat_dir *dir, unsigned i, int L)
{
    uint64_t hpa;
    uint64_t *page = slat_take_page(op->s, &hpa);
    void *sub = page;
    if (L - 1 >= 1) {
        struct hv_slat_dir *d = slat_take_dir(op->s);
        d->hw = page;
        sub = d;
    }
    dir->cnt[i] = 0;
    slat_store_sub(&dir->sub[i], sub);
    slat_store(&hw[i], op->f->make_table(hpa));
    return sub;
}

/* Write `n` consecutive leaves: tmpl | (h + k * step). */
static void fill(uint64_t *hw, unsigned first, unsigned n, uint64_t tmpl, uint64_t h, uint64_t step)
{
    for (unsigned k = 0; k < n; k++, h += step)
        slat_store(&hw[first + k], tmpl | h);
}

/*
 * Replace the leaf at *p by `n` (no A/D bits), keeping its dirty state: the
 * CPU may set the dirty bit at any moment (SDM Vol. 3C 29.3.5), so the swap
 * is a compare-exchange against the value just read.
 */
static void set_leaf_keep_dirty(const struct hv_slat_format *f, uint64_t *p, uint64_t n)
{
    uint64_t old = slat_load(p);
    for (;;) {
        uint64_t v = f->is_dirty(old) ? f->set_dirty(n) : n;
        if (slat_cas(p, &old, v))
            return;
    }
}

/*
 * Split the leaf of entry i of a level-`L` table (L >= 1) into a table of
 * 512 leaves one level down with the same flags; the dirty state of the
 * large page is copied to every piece. The new table is complete before it
 * is linked, so a concurrent walker sees the same translation throughout.
 */
static void split(struct slat_op *op, uint64_t *hw, struct hv_slat_dir *dir, unsigned i, int L)
{
    const struct hv_slat_format *f = op->f;
    int c = L - 1;
    uint64_t hpa;
    uint64_t *page = slat_take_page(op->s, &hpa);
    void *sub = page;
    if (c >= 1) {
        struct hv_slat_dir *d = slat_take_dir(op->s);
        d->hw = page;
        sub = d;
    }
    uint64_t e = slat_load(&hw[i]);
    for (;;) {
        uint64_t t = f->make_leaf(0, f->leaf_flags(e, L), c);
        if (f->is_dirty(e))
            t = f->set_dirty(t);
        fill(page, 0, SLAT_ENTRIES, t, slat_leaf_hpa(op->s, e, L), slat_entry_size(c));
        dir->cnt[i] = SLAT_ENTRIES;
        slat_store_sub(&dir->sub[i], sub);
        if (slat_cas(&hw[i], &e, f->make_table(hpa)))
            break;
    }
    /* A page-size change needs an invalidation (SDM Vol. 3C 29.4.3). */
    op->s->flush_pending = true;
}

/*
 * Merge the child of entry i of a level-`L` table into one leaf when it is
 * uniform: 512 leaves, contiguous host addresses starting at an address
 * aligned to the new page, identical flags, and the page size allowed.
 * Accessed/dirty bits are ignored for the comparison; the merged leaf is
 * dirty if any piece was.
 */
static void merge(struct hv_slat *s, uint64_t *hw, struct hv_slat_dir *dir, unsigned i, int L)
{
    const struct hv_slat_format *f = s->fmt;
    int c = L - 1;
    void *sub = dir->sub[i];
    uint64_t *ch = slat_child_hw(sub, L);
    uint64_t e0 = slat_load(&ch[0]);
    if (!slat_present(s, e0) || !slat_is_leaf(s, e0, c))
        return;
    uint64_t base = slat_leaf_hpa(s, e0, c);
    if (!HV_ALIGNED(base, slat_entry_size(L)))
        return;
    uint64_t step = slat_entry_size(c), ad = f->ad_mask;
    uint64_t want = e0 & ~ad, acc = e0 & ad;
    for (unsigned k = 1; k < SLAT_ENTRIES; k++) {
        uint64_t e = slat_load(&ch[k]);
        want += step;
        if ((e & ~ad) != want)
            return;
        acc |= e & ad;
    }
    uint64_t leaf = f->make_leaf(base, f->leaf_flags(e0, c), L);
    if (f->is_dirty(acc))
        leaf = f->set_dirty(leaf);
    slat_xchg(&hw[i], leaf);
    slat_store_sub(&dir->sub[i], NULL);
    dir->cnt[i] = 0;
    slat_retire(s, sub, c);
}

/* The checks every caller repeats, inline: only levels 1-2 with the size allowed merge. */
static inline void try_merge(struct hv_slat *s, uint64_t *hw, struct hv_slat_dir *dir, unsigned i,
                             int L)
{
    /* Only a full child can be uniform: skip the scan otherwise. */
    if (L <= 2 && slat_leaf_ok(s, L) && dir->cnt[i] == SLAT_ENTRIES)
        merge(s, hw, dir, i, L);
}

/* ---- map ---------------------------------------------------------------- */

/* Does [lo, hi) in a level-`L` entry become one leaf? */
static inline bool map_leaf_here(const struct slat_op *op, int L, uint64_t lo, uint64_t hi)
{
    uint64_t sz = slat_entry_size(L);
    return hi - lo == sz && slat_leaf_ok(op->s, L) && HV_ALIGNED(lo + op->delta, sz);
}

/* Plan inside a table that does not exist yet (level L >= 1). */
static void map_plan_new(struct slat_op *op, int L, uint64_t a, uint64_t b)
{
    for (uint64_t lo = a, hi; lo < b; lo = hi) {
        hi = slat_entry_end(L, lo, b);
        if (map_leaf_here(op, L, lo, hi))
            continue;
        plan_table(op, L - 1);
        if (L - 1 >= 1)
            map_plan_new(op, L - 1, lo, hi);
    }
}

static void map_plan(struct slat_op *op, const uint64_t *hw, struct hv_slat_dir *dir, int L,
                     uint64_t a, uint64_t b)
{
    if (L == 0) {
        for (unsigned i = slat_index(a, 0), n = (unsigned)((b - a) >> 12); n; n--, i++)
            if (slat_present(op->s, slat_load(&hw[i]))) {
                op->status = HV_ERR_EXISTS;
                return;
            }
        return;
    }
    for (uint64_t lo = a, hi; lo < b; lo = hi) {
        hi = slat_entry_end(L, lo, b);
        unsigned i = slat_index(lo, L);
        uint64_t e = slat_load(&hw[i]);
        if (slat_present(op->s, e)) {
            if (slat_is_leaf(op->s, e, L)) {
                op->status = HV_ERR_EXISTS;
                return;
            }
            void *sub = dir->sub[i];
            map_plan(op, slat_child_hw(sub, L), child_dir(sub, L), L - 1, lo, hi);
            if (op->status != HV_OK)
                return;
        } else if (!map_leaf_here(op, L, lo, hi)) {
            plan_table(op, L - 1);
            if (L - 1 >= 1)
                map_plan_new(op, L - 1, lo, hi);
        }
    }
}

/* `cnt` counts the present entries of the table `hw` (kept by its parent). */
static void map_apply(struct slat_op *op, uint64_t *hw, struct hv_slat_dir *dir, uint16_t *cnt,
                      int L, uint64_t a, uint64_t b)
{
    if (L == 0) {
        unsigned n = (unsigned)((b - a) >> 12);
        fill(hw, slat_index(a, 0), n, op->tmpl[0], a + op->delta, HV_PAGE_SIZE);
        *cnt = (uint16_t)(*cnt + n);
        return;
    }
    for (uint64_t lo = a, hi; lo < b; lo = hi) {
        hi = slat_entry_end(L, lo, b);
        unsigned i = slat_index(lo, L);
        uint64_t e = slat_load(&hw[i]);
        if (slat_present(op->s, e)) {
            /* An existing table (the plan excluded leaves): may become uniform. */
            void *sub = dir->sub[i];
            map_apply(op, slat_child_hw(sub, L), child_dir(sub, L), &dir->cnt[i], L - 1, lo, hi);
            try_merge(op->s, hw, dir, i, L);
        } else if (map_leaf_here(op, L, lo, hi)) {
            slat_store(&hw[i], op->tmpl[L] | (lo + op->delta));
            (*cnt)++;
        } else {
            /*
             * A new table is never uniform: it exists because this level
             * could not hold a leaf (partial range, size not allowed or
             * host address misaligned), which also forbids a merge.
             */
            void *sub = new_table(op, hw, dir, i, L);
            (*cnt)++;
            map_apply(op, slat_child_hw(sub, L), child_dir(sub, L), &dir->cnt[i], L - 1, lo, hi);
        }
    }
}

/* ---- splits in plans ------------------------------------------------------ */

/*
 * Plan inside the table a split of a large leaf would create at level
 * c >= 1: its entries are leaves, and those [a, b) cuts in part split again.
 */
static void plan_split(struct slat_op *op, int c, uint64_t a, uint64_t b)
{
    for (uint64_t lo = a, hi; lo < b; lo = hi) {
        hi = slat_entry_end(c, lo, b);
        if (slat_entry_full(c, lo, hi))
            continue;
        plan_table(op, c - 1);
        if (c - 1 >= 1)
            plan_split(op, c - 1, lo, hi);
    }
}

/* ---- unmap ---------------------------------------------------------------- */

/* Only entries cut in part by the range can need a split (level L >= 1). */
static void unmap_plan(struct slat_op *op, const uint64_t *hw, struct hv_slat_dir *dir, int L,
                       uint64_t a, uint64_t b)
{
    for (uint64_t lo = a, hi; lo < b; lo = hi) {
        hi = slat_entry_end(L, lo, b);
        if (slat_entry_full(L, lo, hi))
            continue;
        unsigned i = slat_index(lo, L);
        uint64_t e = slat_load(&hw[i]);
        if (!slat_present(op->s, e))
            continue;
        if (slat_is_leaf(op->s, e, L)) {
            plan_table(op, L - 1);
            if (L - 1 >= 1)
                plan_split(op, L - 1, lo, hi);
        } else if (L - 1 >= 1) {
            void *sub = dir->sub[i];
            unmap_plan(op, slat_child_hw(sub, L), child_dir(sub, L), L - 1, lo, hi);
        }
    }
}

static void unmap_apply(struct slat_op *op, uint64_t *hw, struct hv_slat_dir *dir, uint16_t *cnt,
                        int L, uint64_t a, uint64_t b)
{
    if (L == 0) {
        for (unsigned i = slat_index(a, 0), n = (unsigned)((b - a) >> 12); n; n--, i++) {
            if (slat_present(op->s, slat_load(&hw[i]))) {
                slat_store(&hw[i], 0);
                op->removed += HV_PAGE_SIZE;
                (*cnt)--;
            }
        }
        return;
    }
    for (uint64_t lo = a, hi; lo < b; lo = hi) {
        hi = slat_entry_end(L, lo, b);
        unsigned i = slat_index(lo, L);
        uint64_t e = slat_load(&hw[i]);
        if (!slat_present(op->s, e))
            continue;
        if (slat_is_leaf(op->s, e, L)) {
            if (slat_entry_full(L, lo, hi)) {
                slat_xchg(&hw[i], 0);
                op->removed += slat_entry_size(L);
                (*cnt)--;
                continue;
            }
            split(op, hw, dir, i, L);
        }
        void *sub = dir->sub[i];
        unmap_apply(op, slat_child_hw(sub, L), child_dir(sub, L), &dir->cnt[i], L - 1, lo, hi);
        if (dir->cnt[i] == 0) {
            slat_store(&hw[i], 0);
            slat_store_sub(&dir->sub[i], NULL);
            slat_retire(op->s, sub, L - 1);
            (*cnt)--;
        }
    }
}

/* ---- protect -------------------------------------------------------------- */

/* Leaf bits for the new flags at the leaf's own address (A/D excluded). */
static inline uint64_t reflag(const struct slat_op *op, uint64_t e, int L)
{
    return op->tmpl[L] | (e & op->s->addr_mask[L]);
}

static void protect_plan(struct slat_op *op, const uint64_t *hw, struct hv_slat_dir *dir, int L,
                         uint64_t a, uint64_t b)
{
    if (L == 0) {
        for (unsigned i = slat_index(a, 0), n = (unsigned)((b - a) >> 12); n; n--, i++)
            if (!(slat_present(op->s, slat_load(&hw[i])))) {
                op->status = HV_ERR_NOT_FOUND;
                return;
            }
        return;
    }
    for (uint64_t lo = a, hi; lo < b; lo = hi) {
        hi = slat_entry_end(L, lo, b);
        unsigned i = slat_index(lo, L);
        uint64_t e = slat_load(&hw[i]);
        if (!slat_present(op->s, e)) {
            op->status = HV_ERR_NOT_FOUND;
            return;
        }
        if (slat_is_leaf(op->s, e, L)) {
            /* A large page cut by the range splits only if its flags change. */
            if (!slat_entry_full(L, lo, hi) && (e & ~op->ad) != reflag(op, e, L)) {
                plan_table(op, L - 1);
                if (L - 1 >= 1)
                    plan_split(op, L - 1, lo, hi);
            }
            continue;
        }
        void *sub = dir->sub[i];
        protect_plan(op, slat_child_hw(sub, L), child_dir(sub, L), L - 1, lo, hi);
        if (op->status != HV_OK)
            return;
    }
}

/* Returns true when an entry of this table or below changed. */
static bool protect_apply(struct slat_op *op, uint64_t *hw, struct hv_slat_dir *dir, int L,
                          uint64_t a, uint64_t b)
{
    const struct hv_slat_format *f = op->f;
    bool changed = false;
    if (L == 0) {
        for (unsigned i = slat_index(a, 0), n = (unsigned)((b - a) >> 12); n; n--, i++) {
            uint64_t e = slat_load(&hw[i]);
            uint64_t n_e = reflag(op, e, 0);
            if ((e & ~op->ad) != n_e) {
                set_leaf_keep_dirty(f, &hw[i], n_e);
                changed = true;
            }
        }
        return changed;
    }
    for (uint64_t lo = a, hi; lo < b; lo = hi) {
        hi = slat_entry_end(L, lo, b);
        unsigned i = slat_index(lo, L);
        uint64_t e = slat_load(&hw[i]);
        if (slat_is_leaf(op->s, e, L)) {
            uint64_t n_e = reflag(op, e, L);
            if ((e & ~op->ad) == n_e)
                continue;
            changed = true;
            if (slat_entry_full(L, lo, hi)) {
                set_leaf_keep_dirty(f, &hw[i], n_e);
                continue;
            }
            /* The rest of the split page keeps its flags: no merge possible. */
            split(op, hw, dir, i, L);
            void *sub = dir->sub[i];
            protect_apply(op, slat_child_hw(sub, L), child_dir(sub, L), L - 1, lo, hi);
            continue;
        }
        void *sub = dir->sub[i];
        if (protect_apply(op, slat_child_hw(sub, L), child_dir(sub, L), L - 1, lo, hi)) {
            changed = true;
            try_merge(op->s, hw, dir, i, L);
        }
    }
    return changed;
}

/* ---- entry points ----------------------------------------------------------- */

/* Field by field: a struct-wide zeroing would be a byte loop (or a memset call). */
static void op_init(struct slat_op *op, struct hv_slat *s)
{
    op->s = s;
    op->f = s->fmt;
    op->ad = s->fmt->ad_mask;
    op->tmpl = s->tmpl;
    op->delta = 0;
    op->pages = 0;
    op->dirs = 0;
    op->removed = 0;
    op->status = HV_OK;
}

/* Leaf templates for `flags`, remembered across calls (most use the same flags). */
static void op_flags(struct slat_op *op, uint32_t flags)
{
    struct hv_slat *s = op->s;
    if (flags == s->tmpl_flags)
        return;
    for (int l = 0; l < 3; l++)
        s->tmpl[l] = s->fmt->make_leaf(0, flags, l);
    s->tmpl_flags = flags;
}

/* ---- one 4 KiB page ---------------------------------------------------------- */

/*
 * Calls on a single 4 KiB page whose level-0 table exists (the common case
 * of page-by-page changes) go straight to it instead of through the
 * two-phase range walk: they never allocate. The tree changes they make,
 * and the merges and retirements that follow, are those the range walk
 * would make for the same page.
 */
struct slat_path {
    uint64_t *hw[4];            /* the table at each level on the way (hw[3]: root) */
    struct hv_slat_dir *dir[4]; /* their shadows (levels 1-3) */
    uint16_t *cnt[4];           /* their present-entry counts */
};

/* Walk to the level-0 table of gpa; false if some level holds a leaf or nothing. */
static bool path_to_pt(struct hv_slat *s, uint64_t gpa, struct slat_path *p)
{
    struct hv_slat_dir *d = s->root;
    uint16_t *cnt = &s->root_cnt;
    for (int l = SLAT_ROOT_LEVEL;; l--) {
        unsigned i = slat_index(gpa, l);
        p->hw[l] = d->hw;
        p->dir[l] = d;
        p->cnt[l] = cnt;
        void *sub = d->sub[i];
        if (!sub)
            return false;
        cnt = &d->cnt[i];
        if (l == 1) {
            p->hw[0] = sub;
            p->cnt[0] = cnt;
            return true;
        }
        d = sub;
    }
}

/* After a change in the level-0 table: merge upwards while tables turn uniform. */
static void merge_up(struct hv_slat *s, const struct slat_path *p, uint64_t gpa)
{
    for (int l = 1; l <= 2; l++) {
        unsigned i = slat_index(gpa, l);
        try_merge(s, p->hw[l], p->dir[l], i, l);
        if (p->dir[l]->sub[i])
            return; /* not merged: nothing above can be uniform now */
    }
}

/* HV_ERR_AGAIN: not a case for this path; use the range walk. */
static hv_status_t page_map(struct hv_slat *s, uint64_t gpa, uint64_t hpa)
{
    struct slat_path p;
    if (!path_to_pt(s, gpa, &p))
        return HV_ERR_AGAIN;
    uint64_t *e = &p.hw[0][slat_index(gpa, 0)];
    if (slat_present(s, slat_load(e)))
        return HV_ERR_EXISTS;
    slat_store(e, s->tmpl[0] | hpa);
    (*p.cnt[0])++;
    s->mapped_bytes += HV_PAGE_SIZE;
    merge_up(s, &p, gpa);
    return HV_OK;
}

static hv_status_t page_unmap(struct hv_slat *s, uint64_t gpa)
{
    struct slat_path p;
    if (!path_to_pt(s, gpa, &p))
        return HV_ERR_AGAIN;
    uint64_t *e = &p.hw[0][slat_index(gpa, 0)];
    if (!slat_present(s, slat_load(e)))
        return HV_OK;
    slat_store(e, 0);
    (*p.cnt[0])--;
    s->mapped_bytes -= HV_PAGE_SIZE;
    s->flush_pending = true;
    /* Retire the tables this emptied, bottom-up (never the root). */
    for (int l = 1; l <= SLAT_ROOT_LEVEL && *p.cnt[l - 1] == 0; l++) {
        unsigned i = slat_index(gpa, l);
        void *sub = p.dir[l]->sub[i];
        slat_store(&p.hw[l][i], 0);
        slat_store_sub(&p.dir[l]->sub[i], NULL);
        slat_retire(s, sub, l - 1);
        (*p.cnt[l])--;
    }
    return HV_OK;
}

static hv_status_t page_protect(struct hv_slat *s, uint64_t gpa)
{
    struct slat_path p;
    if (!path_to_pt(s, gpa, &p))
        return HV_ERR_AGAIN;
    uint64_t *e = &p.hw[0][slat_index(gpa, 0)];
    uint64_t old = slat_load(e);
    if (!slat_present(s, old))
        return HV_ERR_NOT_FOUND;
    uint64_t n = s->tmpl[0] | slat_leaf_hpa(s, old, 0);
    if ((old & ~s->fmt->ad_mask) == n)
        return HV_OK;
    set_leaf_keep_dirty(s->fmt, e, n);
    s->flush_pending = true;
    merge_up(s, &p, gpa);
    return HV_OK;
}

static hv_status_t slat_map_call(struct hv_slat *s, uint64_t gpa, uint64_t hpa, uint64_t len,
                                 uint32_t flags)
{
    if (!s || !s->root)
        return HV_ERR_INVALID_ARG;
    hv_status_t st = slat_check_flags(s, flags);
    if (st != HV_OK)
        return st;
    if (!HV_ALIGNED(hpa, HV_PAGE_SIZE))
        return HV_ERR_ALIGNMENT;
    st = slat_check_range(s, gpa, len);
    if (st != HV_OK)
        return st;
    if (hpa >= s->hpa_limit || len > s->hpa_limit - hpa)
        return HV_ERR_RANGE;

    struct slat_op op;
    op_init(&op, s);
    op_flags(&op, flags);
    if (len == HV_PAGE_SIZE) {
        st = page_map(s, gpa, hpa);
        if (st != HV_ERR_AGAIN)
            return st;
    }
    op.delta = hpa - gpa;
    map_plan(&op, s->root->hw, s->root, SLAT_ROOT_LEVEL, gpa, gpa + len);
    if (op.status != HV_OK)
        return op.status;
    st = slat_reserve(s, op.pages, op.dirs);
    if (st != HV_OK)
        return st;
    map_apply(&op, s->root->hw, s->root, &s->root_cnt, SLAT_ROOT_LEVEL, gpa, gpa + len);
    slat_reserve_release(s);
    s->mapped_bytes += len;
    return HV_OK;
}

static hv_status_t slat_unmap_call(struct hv_slat *s, uint64_t gpa, uint64_t len)
{
    if (!s || !s->root)
        return HV_ERR_INVALID_ARG;
    hv_status_t st = slat_check_range(s, gpa, len);
    if (st != HV_OK)
        return st;

    if (len == HV_PAGE_SIZE) {
        st = page_unmap(s, gpa);
        if (st != HV_ERR_AGAIN)
            return st;
    }
    struct slat_op op;
    op_init(&op, s);
    unmap_plan(&op, s->root->hw, s->root, SLAT_ROOT_LEVEL, gpa, gpa + len);
    st = slat_reserve(s, op.pages, op.dirs);
    if (st != HV_OK)
        return st;
    unmap_apply(&op, s->root->hw, s->root, &s->root_cnt, SLAT_ROOT_LEVEL, gpa, gpa + len);
    slat_reserve_release(s);
    if (op.removed) {
        s->mapped_bytes -= op.removed;
        s->flush_pending = true;
    }
    return HV_OK;
}

static hv_status_t slat_protect_call(struct hv_slat *s, uint64_t gpa, uint64_t len, uint32_t flags)
{
    if (!s || !s->root)
        return HV_ERR_INVALID_ARG;
    hv_status_t st = slat_check_flags(s, flags);
    if (st != HV_OK)
        return st;
    st = slat_check_range(s, gpa, len);
    if (st != HV_OK)
        return st;

    struct slat_op op;
    op_init(&op, s);
    op_flags(&op, flags);
    if (len == HV_PAGE_SIZE) {
        st = page_protect(s, gpa);
        if (st != HV_ERR_AGAIN)
            return st;
    }
    protect_plan(&op, s->root->hw, s->root, SLAT_ROOT_LEVEL, gpa, gpa + len);
    if (op.status != HV_OK)
        return op.status;
    st = slat_reserve(s, op.pages, op.dirs);
    if (st != HV_OK)
        return st;
    /*
     * Any change is flushed, including added rights: a stale, stricter TLB
     * entry would only cost a spurious fault, but a memory-type change must
     * not linger (SDM Vol. 3C 29.4.3).
     */
    if (protect_apply(&op, s->root->hw, s->root, SLAT_ROOT_LEVEL, gpa, gpa + len))
        s->flush_pending = true;
    slat_reserve_release(s);
    return HV_OK;
}

/* The public modifying calls: the change, then a new generation (release:
   whoever reads the new generation also sees the new entries). */
static hv_status_t bump_gen(struct hv_slat *s, hv_status_t st)
{
    if (s && s->root)
        hv_slat_gen_bump(s);
    return st;
}

hv_status_t hv_slat_map(struct hv_slat *s, uint64_t gpa, uint64_t hpa, uint64_t len, uint32_t flags)
{
    return bump_gen(s, slat_map_call(s, gpa, hpa, len, flags));
}

hv_status_t hv_slat_unmap(struct hv_slat *s, uint64_t gpa, uint64_t len)
{
    return bump_gen(s, slat_unmap_call(s, gpa, len));
}

hv_status_t hv_slat_protect(struct hv_slat *s, uint64_t gpa, uint64_t len, uint32_t flags)
{
    return bump_gen(s, slat_protect_call(s, gpa, len, flags));
}

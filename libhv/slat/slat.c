/*
 * SLAT engine lifecycle and bookkeeping: init/fini, the per-call table
 * reserve, retired tables, argument checks, statistics and the pending
 * flush. The tree operations live in slat_map.c, slat_lookup.c and
 * slat_dirty.c.
 */
#include "slat/slat_internal.h"

#define SLAT_KNOWN_FLAGS (HV_MEM_RWX | HV_MEMTYPE_MASK)

static bool format_complete(const struct hv_slat_format *f)
{
    return f->make_table && f->make_leaf && f->is_present && f->is_leaf && f->leaf_hpa &&
           f->table_hpa && f->leaf_flags && f->is_dirty && f->clear_dirty && f->set_dirty;
}

/*
 * The hot paths test bits instead of calling the format (slat.h, format
 * contract): derive which bits mean present, address and R/W/X.
 */
static void derive_masks(struct hv_slat *s, const struct hv_slat_format *f)
{
    s->present_mask = 0;
    for (int b = 0; b < 64; b++)
        if (f->is_present(1ull << b))
            s->present_mask |= 1ull << b;
    s->large_mask = 0;
    for (int b = 0; b < 64; b++)
        if (f->is_leaf(1ull << b, 1))
            s->large_mask |= 1ull << b;
    for (int l = 0; l < 3; l++) {
        s->addr_mask[l] = f->leaf_hpa(~0ull, l);
        s->tmpl[l] = f->make_leaf(0, HV_MEM_READ, l);
    }
    s->tmpl_flags = HV_MEM_READ;
    const uint32_t wb = HV_MEMTYPE_WB;
    uint64_t r = f->make_leaf(0, HV_MEM_READ | wb, 0);
    uint64_t rw = f->make_leaf(0, HV_MEM_READ | HV_MEM_WRITE | wb, 0);
    uint64_t rx = f->make_leaf(0, HV_MEM_READ | HV_MEM_EXEC | wb, 0);
    /* Without execute-only every present leaf is readable. */
    uint64_t x = f->exec_only ? f->make_leaf(0, HV_MEM_EXEC | wb, 0) : rx;
    s->perm_mask[0] = rx ^ x;
    s->perm_want[0] = rx & s->perm_mask[0];
    s->perm_mask[1] = rw ^ r;
    s->perm_want[1] = rw & s->perm_mask[1];
    s->perm_mask[2] = rx ^ r;
    s->perm_want[2] = rx & s->perm_mask[2];
}

hv_status_t hv_slat_init(struct hv_slat *s, const struct hv_host *host,
                         const struct hv_slat_format *fmt, unsigned gpa_bits, unsigned hpa_bits,
                         uint32_t page_sizes)
{
    if (!s)
        return HV_ERR_INVALID_ARG;
    hv_memset(s, 0, sizeof(*s));
    if (!host || !fmt || !format_complete(fmt))
        return HV_ERR_INVALID_ARG;
    if (page_sizes == 0)
        page_sizes = fmt->page_sizes;
    if ((page_sizes & ~(uint32_t)(HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G)) ||
        !(page_sizes & HV_PAGE_4K))
        return HV_ERR_INVALID_ARG;
    /* A 1 GiB page splits into 2 MiB pages: no format offers 1G without 2M. */
    if ((page_sizes & HV_PAGE_1G) && !(page_sizes & HV_PAGE_2M))
        return HV_ERR_INVALID_ARG;
    if (page_sizes & ~fmt->page_sizes)
        return HV_ERR_UNSUPPORTED;
    if (gpa_bits < HV_SLAT_MIN_GPA_BITS || gpa_bits > HV_SLAT_MAX_GPA_BITS ||
        hpa_bits < HV_SLAT_MIN_HPA_BITS || hpa_bits > HV_SLAT_MAX_HPA_BITS)
        return HV_ERR_RANGE;

    derive_masks(s, fmt);
    uint64_t hpa;
    uint64_t *page = hv_host_page_alloc(host, 1, &hpa);
    if (!page) {
        hv_memset(s, 0, sizeof(*s));
        return HV_ERR_NO_MEMORY;
    }
    struct hv_slat_dir *root = hv_host_obj_alloc(host, sizeof(*root));
    if (!root) {
        hv_host_page_free(host, page, 1);
        hv_memset(s, 0, sizeof(*s));
        return HV_ERR_NO_MEMORY;
    }
    root->hw = page;
    s->host = host;
    s->fmt = fmt;
    s->root = root;
    s->root_hpa = hpa;
    s->gpa_limit = 1ull << gpa_bits;
    s->hpa_limit = 1ull << hpa_bits;
    s->page_sizes = page_sizes;
    s->table_pages = 1;
    s->dirs = 1;
    s->retired.host = host;
    return HV_OK;
}

/* Free a subtree: the table below `sub` at `level` and everything under it. */
static void free_subtree(const struct hv_host *h, void *sub, int level)
{
    if (level == 0) {
        hv_host_page_free(h, sub, 1);
        return;
    }
    struct hv_slat_dir *d = sub;
    for (unsigned i = 0; i < SLAT_ENTRIES; i++)
        if (d->sub[i])
            free_subtree(h, d->sub[i], level - 1);
    hv_host_page_free(h, d->hw, 1);
    hv_host_obj_free(h, d, sizeof(*d));
}

void hv_slat_fini(struct hv_slat *s)
{
    if (!s || !s->root)
        return;
    slat_reserve_release(s);
    hv_slat_flush_done(s);
    free_subtree(s->host, s->root, SLAT_ROOT_LEVEL);
    hv_memset(s, 0, sizeof(*s));
}

/*
 * The reserve: every page and shadow a call needs is allocated before the
 * call changes anything, so an allocation failure leaves the tree as it was.
 * Pages are linked through their first two words (next, hpa), cleared again
 * when taken, so a taken page is as zeroed as the host returned it.
 */
hv_status_t slat_reserve(struct hv_slat *s, uint64_t pages, uint64_t dirs)
{
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t hpa;
        uint64_t *p = hv_host_page_alloc(s->host, 1, &hpa);
        if (!p)
            goto fail;
        p[0] = (uint64_t)(uintptr_t)s->rsv_pages;
        p[1] = hpa;
        s->rsv_pages = p;
    }
    for (uint64_t i = 0; i < dirs; i++) {
        struct hv_slat_dir *d = hv_host_obj_alloc(s->host, sizeof(*d));
        if (!d)
            goto fail;
        d->next = s->rsv_dirs;
        s->rsv_dirs = d;
    }
    return HV_OK;
fail:
    slat_reserve_release(s);
    return HV_ERR_NO_MEMORY;
}

void slat_reserve_release(struct hv_slat *s)
{
    while (s->rsv_pages) {
        uint64_t *p = s->rsv_pages;
        s->rsv_pages = (uint64_t *)(uintptr_t)p[0];
        hv_host_page_free(s->host, p, 1);
    }
    while (s->rsv_dirs) {
        struct hv_slat_dir *d = s->rsv_dirs;
        s->rsv_dirs = d->next;
        hv_host_obj_free(s->host, d, sizeof(*d));
    }
}

uint64_t *slat_take_page(struct hv_slat *s, uint64_t *hpa)
{
    uint64_t *p = s->rsv_pages;
    s->rsv_pages = (uint64_t *)(uintptr_t)p[0];
    *hpa = p[1];
    p[0] = 0;
    p[1] = 0;
    s->table_pages++;
    return p;
}

struct hv_slat_dir *slat_take_dir(struct hv_slat *s)
{
    struct hv_slat_dir *d = s->rsv_dirs;
    s->rsv_dirs = d->next;
    d->next = NULL;
    s->dirs++;
    return d;
}

/*
 * A table left the tree (emptied by unmap, or merged into a large page).
 * The CPU may still walk it through cached paging-structure entries until
 * the flush (SDM Vol. 3C 29.4.3; APM Vol. 2 15.16), so it is kept until
 * hv_slat_free_retired(). A level-0 page is linked through its word 0: a
 * page-aligned pointer has bits 0..2 clear, i.e. reads as "not present".
 */
void slat_retire(struct hv_slat *s, void *sub, int child_level)
{
    struct hv_slat_retired *r = &s->retired;
    if (child_level == 0) {
        uint64_t *p = sub;
        slat_store(&p[0], (uint64_t)(uintptr_t)r->pages);
        r->pages = p;
    } else {
        struct hv_slat_dir *d = sub;
        d->next = r->dirs;
        r->dirs = d;
        s->dirs--;
    }
    r->table_pages++;
    s->table_pages--;
    s->flush_pending = true;
}

void hv_slat_take_retired(struct hv_slat *s, struct hv_slat_retired *out)
{
    if (!out)
        return;
    out->host = s && s->root ? s->host : NULL;
    out->pages = NULL;
    out->dirs = NULL;
    out->table_pages = 0;
    if (!out->host)
        return;
    out->pages = s->retired.pages;
    out->dirs = s->retired.dirs;
    out->table_pages = s->retired.table_pages;
    s->retired.pages = NULL;
    s->retired.dirs = NULL;
    s->retired.table_pages = 0;
}

void hv_slat_retired_merge(struct hv_slat_retired *dst, struct hv_slat_retired *src)
{
    if (!dst || !src || !src->host)
        return;
    dst->host = src->host;
    if (src->pages) { /* src's level-0 list in front: found by its tail */
        uint64_t *tail = src->pages;
        while (tail[0])
            tail = (uint64_t *)(uintptr_t)tail[0];
        slat_store(&tail[0], (uint64_t)(uintptr_t)dst->pages);
        dst->pages = src->pages;
    }
    if (src->dirs) {
        struct hv_slat_dir *tail = src->dirs;
        while (tail->next)
            tail = tail->next;
        tail->next = dst->dirs;
        dst->dirs = src->dirs;
    }
    dst->table_pages += src->table_pages;
    src->pages = NULL;
    src->dirs = NULL;
    src->table_pages = 0;
}

void hv_slat_free_retired(struct hv_slat_retired *r)
{
    if (!r || !r->host)
        return;
    while (r->pages) {
        uint64_t *p = r->pages;
        r->pages = (uint64_t *)(uintptr_t)p[0];
        hv_host_page_free(r->host, p, 1);
    }
    while (r->dirs) {
        struct hv_slat_dir *d = r->dirs;
        r->dirs = d->next;
        hv_host_page_free(r->host, d->hw, 1);
        hv_host_obj_free(r->host, d, sizeof(*d));
    }
    r->table_pages = 0;
}

void hv_slat_flush_done(struct hv_slat *s)
{
    struct hv_slat_retired r;
    hv_slat_take_retired(s, &r);
    hv_slat_free_retired(&r);
}

bool hv_slat_take_flush(struct hv_slat *s)
{
    if (!s)
        return false;
    bool f = s->flush_pending;
    s->flush_pending = false;
    return f;
}

hv_status_t slat_check_flags(const struct hv_slat *s, uint32_t flags)
{
    uint32_t perm = flags & HV_MEM_RWX;
    uint32_t type = (flags & HV_MEMTYPE_MASK) >> HV_MEMTYPE_SHIFT;
    if ((flags & ~(uint32_t)SLAT_KNOWN_FLAGS) || type > (HV_MEMTYPE_WP >> HV_MEMTYPE_SHIFT))
        return HV_ERR_INVALID_ARG;
    if (!perm || ((perm & HV_MEM_WRITE) && !(perm & HV_MEM_READ)))
        return HV_ERR_INVALID_ARG;
    if (!(perm & HV_MEM_READ) && !s->fmt->exec_only)
        return HV_ERR_UNSUPPORTED;
    if (!(s->fmt->memtypes & (1u << type)))
        return HV_ERR_UNSUPPORTED;
    return HV_OK;
}

hv_status_t slat_check_range(const struct hv_slat *s, uint64_t gpa, uint64_t len)
{
    if (!HV_ALIGNED(gpa, HV_PAGE_SIZE) || !HV_ALIGNED(len, HV_PAGE_SIZE))
        return HV_ERR_ALIGNMENT;
    if (len == 0 || gpa >= s->gpa_limit || len > s->gpa_limit - gpa)
        return HV_ERR_RANGE;
    return HV_OK;
}

uint64_t hv_slat_root_hpa(const struct hv_slat *s)
{
    return s ? s->root_hpa : 0;
}

uint64_t hv_slat_table_pages(const struct hv_slat *s)
{
    return s ? s->table_pages : 0;
}

uint64_t hv_slat_mapped_bytes(const struct hv_slat *s)
{
    return s ? s->mapped_bytes : 0;
}

uint64_t hv_slat_meta_bytes(const struct hv_slat *s)
{
    return s ? s->dirs * sizeof(struct hv_slat_dir) : 0;
}

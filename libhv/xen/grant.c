/*
 * Grant tables, version 1 only: the library-owned table frames, the
 * grant_table_op sub-ops a guest uses with them (setup_table, query_size,
 * set_version/get_version, copy), and host mappings of granted pages.
 *
 * Using an entry follows Xen's acquire/release rule: the first user checks
 * that the entry permits access (GTF_permit_access) to its domain and, for
 * a write, that it is not GTF_readonly, and sets GTF_reading (and
 * GTF_writing) with a compare-and-exchange on the flags+domid word, since
 * the guest edits entries concurrently; the last user clears them. Users
 * are the host's mappings (persistent) and GNTTABOP_copy (for the length
 * of one copy, under the [L] lock).
 */
#include "core/guest_mem.h"
#include "xen/internal.h"

#define XEN_GNTST_BAD_VA (-5) /* GNTST_bad_virt_addr */
#define CAS_RETRIES      4    /* the guest may race us, but not forever */
#define COPY_BUDGET      256u /* copy ops per hypercall before a continuation */

/* ---- table frames ---- */

long xen_gnttab_grow(struct hv_xen_vm *x, uint32_t frames)
{
    const struct hv_host *h = xen_host(x);
    if (frames > x->gnt_max)
        return -XEN_EINVAL;
    for (uint32_t i = x->gnt_nr; i < frames; i++) {
        uint64_t hpa;
        void *p = hv_host_page_alloc(h, 1, &hpa); /* zeroed: every entry GTF_invalid */
        if (!p)
            return -XEN_ENOMEM;
        uint64_t t = xen_lock(x);
        x->gnt_page[i] = p;
        x->gnt_hpa[i] = hpa;
        x->gnt_nr = i + 1;
        xen_unlock(x, t);
    }
    return 0;
}

void xen_gnttab_fini(struct hv_xen_vm *x)
{
    for (uint32_t i = 0; i < x->gnt_nr; i++) {
        if (x->gnt_gfn[i] != XEN_INVALID_GFN)
            xen_unmap_special(x->vm, x->gnt_gfn[i]);
        hv_host_page_free(xen_host(x), x->gnt_page[i], 1);
    }
    x->gnt_nr = 0;
    if (x->maps)
        hv_host_obj_free(xen_host(x), x->maps, HV_XEN_GRANT_MAPS_MAX * sizeof(*x->maps));
    x->maps = NULL;
}

static uint32_t nr_entries(const struct hv_xen_vm *x)
{
    return x->gnt_nr * XEN_GRANT_ENTRIES_PER_FRAME;
}

static struct xen_grant_entry_v1 *entry(struct hv_xen_vm *x, uint32_t ref)
{
    return (struct xen_grant_entry_v1 *)x->gnt_page[ref / XEN_GRANT_ENTRIES_PER_FRAME] +
           ref % XEN_GRANT_ENTRIES_PER_FRAME;
}

/* ---- acquire / release ---- */

/* Users of an entry: host mappings plus the transient ones of a copy. */
struct pins {
    uint32_t r, w;
    uint16_t domid;
};

static void host_pins(const struct hv_xen_vm *x, uint32_t ref, struct pins *p)
{
    p->r = p->w = 0;
    p->domid = HV_XEN_DOMID_HOST;
    for (uint32_t i = 0; x->maps && i < HV_XEN_GRANT_MAPS_MAX; i++) {
        if (x->maps[i].used && x->maps[i].ref == ref) {
            if (x->maps[i].readonly)
                p->r++;
            else
                p->w++;
        }
    }
}

/* The flags (low half) and domid (high half) of an entry, as one word. */
static uint32_t *combo(struct xen_grant_entry_v1 *e)
{
    return (uint32_t *)e;
}

/* Stop using an entry; @p p are the users that remain. */
static void release(struct hv_xen_vm *rd, uint32_t ref, bool readonly, const struct pins *p);

/*
 * Start using entry @p ref of @p rd for domain @p ldom; @p p are its other
 * users. On success *page (and *gpa) is the granted page. Returns GNTST_*.
 */
static int acquire(struct hv_xen_vm *rd, uint32_t ref, uint16_t ldom, bool readonly,
                   const struct pins *p, uint64_t *gpa, uint8_t **page)
{
    if (ref >= nr_entries(rd))
        return GNTST_bad_gntref;
    struct xen_grant_entry_v1 *e = entry(rd, ref);
    uint32_t *w = combo(e);
    bool pinned = p->r || p->w;
    if (pinned && p->domid != ldom)
        return GNTST_general_error;
    if (!pinned || (!readonly && !p->w)) {
        uint32_t old = __atomic_load_n(w, __ATOMIC_ACQUIRE);
        for (int tries = 0;; tries++) {
            uint16_t flags = (uint16_t)old, dom = (uint16_t)(old >> 16);
            if (tries == CAS_RETRIES)
                return GNTST_general_error; /* the entry keeps changing */
            if (!pinned && ((flags & GTF_type_mask) != GTF_permit_access || dom != ldom))
                return GNTST_general_error;
            uint32_t set = GTF_reading;
            if (!readonly) {
                set |= GTF_writing;
                if (flags & GTF_readonly)
                    return GNTST_general_error; /* write use of a read-only grant */
            }
            if (__atomic_compare_exchange_n(w, &old, old | set, false, __ATOMIC_SEQ_CST,
                                            __ATOMIC_ACQUIRE))
                break;
        }
    }
    /* The frame is read after the flags are set: from then on the guest
       may not change the entry (grant_table.h usage rules). */
    uint64_t frame = __atomic_load_n(&e->frame, __ATOMIC_ACQUIRE);
    *gpa = frame * HV_PAGE_SIZE;
    /* rd may be another domain than the caller's: a foreign walk. */
    *page = hv_gpa_ptr_foreign(rd->vm, *gpa, readonly ? HV_MEM_READ : HV_MEM_READ | HV_MEM_WRITE);
    if (!*page) {
        release(rd, ref, readonly, p);
        return GNTST_bad_page;
    }
    return GNTST_okay;
}

static void release(struct hv_xen_vm *rd, uint32_t ref, bool readonly, const struct pins *p)
{
    uint32_t clear = 0;
    if (!readonly && !p->w)
        clear |= GTF_writing;
    if (!p->r && !p->w)
        clear |= GTF_reading;
    if (clear && ref < nr_entries(rd))
        __atomic_fetch_and(combo(entry(rd, ref)), ~clear, __ATOMIC_SEQ_CST);
}

/* ---- GNTTABOP_copy ---- */

struct copy_ptr {
    uint64_t u; /* ref or gmfn */
    uint16_t domid;
    uint16_t offset;
};

struct copy_side {
    struct hv_xen_vm *d;
    bool gref, readonly;
    uint32_t ref;
    struct pins others; /* users besides this side */
    uint8_t *page;
};

/* Domain a copy pointer names (DOMID_SELF, own id or a hub member), or NULL. */
static struct hv_xen_vm *copy_domain(struct hv_xen_vm *x, uint16_t domid)
{
    if (xen_is_self(x, domid))
        return x;
    return xen_find_domain(x, domid);
}

static int claim(struct hv_xen_vm *x, const struct copy_ptr *cp, struct copy_side *s,
                 const struct copy_side *other)
{
    if (cp->domid != XEN_DOMID_SELF && !s->gref)
        return GNTST_permission_denied; /* only one's own frames by number */
    s->d = copy_domain(x, cp->domid);
    if (!s->d)
        return GNTST_bad_domain;
    uint64_t gpa;
    if (s->gref) {
        s->ref = (uint32_t)cp->u;
        host_pins(s->d, s->ref, &s->others);
        if (other && other->page && other->gref && other->d == s->d && other->ref == s->ref) {
            /* Source and destination are the same entry: count the source. */
            s->others.domid = x->domid;
            s->others.r += other->readonly;
            s->others.w += !other->readonly;
        }
        return acquire(s->d, s->ref, x->domid, s->readonly, &s->others, &gpa, &s->page);
    }
    if (cp->u >= (1ull << (64 - 12)))
        return GNTST_bad_page;
    s->page = hv_gpa_ptr(x->vm, cp->u * HV_PAGE_SIZE,
                         s->readonly ? HV_MEM_READ : HV_MEM_READ | HV_MEM_WRITE);
    return s->page ? GNTST_okay : GNTST_bad_page;
}

static void unclaim(struct copy_side *s)
{
    if (s->page && s->gref)
        release(s->d, s->ref, s->readonly, &s->others);
    s->page = NULL;
}

static int copy_one(struct hv_xen_vm *x, const struct copy_ptr *src, const struct copy_ptr *dst,
                    uint16_t len, uint16_t flags)
{
    struct copy_side s = {.gref = (flags & GNTCOPY_source_gref) != 0, .readonly = true};
    struct copy_side d = {.gref = (flags & GNTCOPY_dest_gref) != 0, .readonly = false};
    /* Both domains must exist before anything is claimed. */
    if ((src->domid != XEN_DOMID_SELF && !s.gref) || (dst->domid != XEN_DOMID_SELF && !d.gref))
        return GNTST_permission_denied;
    if (!copy_domain(x, src->domid) || !copy_domain(x, dst->domid))
        return GNTST_bad_domain;
    int st = claim(x, src, &s, NULL);
    if (st == GNTST_okay)
        st = claim(x, dst, &d, &s);
    if (st == GNTST_okay) {
        if ((uint32_t)src->offset + len > HV_PAGE_SIZE ||
            (uint32_t)dst->offset + len > HV_PAGE_SIZE)
            st = GNTST_bad_copy_arg;
        else
            hv_memmove(d.page + dst->offset, s.page + src->offset, len);
    }
    unclaim(&d);
    unclaim(&s);
    return st;
}

static const struct xen_compat_layout copy_layout = XEN_COMPAT_LAYOUT(
    xen_gnttab_copy, XEN_COMPAT_FIELD(xen_gnttab_copy, source.u),
    XEN_COMPAT_FIELD(xen_gnttab_copy, source.domid),
    XEN_COMPAT_FIELD(xen_gnttab_copy, source.offset), XEN_COMPAT_FIELD(xen_gnttab_copy, dest.u),
    XEN_COMPAT_FIELD(xen_gnttab_copy, dest.domid), XEN_COMPAT_FIELD(xen_gnttab_copy, dest.offset),
    XEN_COMPAT_FIELD(xen_gnttab_copy, len), XEN_COMPAT_FIELD(xen_gnttab_copy, flags));

static long gnttab_copy(struct xen_call *c, uint64_t uop, uint32_t count)
{
    struct hv_xen_vm *x = c->x;
    size_t size = XEN_COMPAT_SIZEOF(c, xen_gnttab_copy);
    size_t status_off = XEN_COMPAT_OFFSETOF(c, xen_gnttab_copy, status);
    for (uint32_t i = 0; i < count; i++) {
        if (i == COPY_BUDGET) {
            /* Continue the rest in a fresh hypercall. */
            c->arg[1] = uop;
            c->arg[2] = count - i;
            c->restart = true;
            return 0;
        }
        struct xen_gnttab_copy_64 op;
        if (xen_copy_in(c, uop, &op, &copy_layout))
            return -XEN_EFAULT;
        struct copy_ptr src = {op.source.u, op.source.domid, op.source.offset};
        struct copy_ptr dst = {op.dest.u, op.dest.domid, op.dest.offset};
        uint64_t t = xen_lock(x);
        int16_t status = (int16_t)copy_one(x, &src, &dst, op.len, op.flags);
        xen_unlock(x, t);
        if (xen_copy_to_guest(c, uop + status_off, &status, sizeof(status)))
            return -XEN_EFAULT;
        uop += size;
    }
    return 0;
}

/* ---- table set-up and queries ---- */

/* GNTST for a domain a guest names that is not itself. */
static int16_t other_domain_status(struct hv_xen_vm *x, uint16_t domid)
{
    long rc = xen_other_domain_error_locking(x, domid);
    return rc == -XEN_EPERM ? GNTST_permission_denied : GNTST_bad_domain;
}

static const struct xen_compat_layout setup_layout =
    XEN_COMPAT_LAYOUT(xen_gnttab_setup_table, XEN_COMPAT_FIELD(xen_gnttab_setup_table, dom),
                      XEN_COMPAT_FIELD(xen_gnttab_setup_table, nr_frames),
                      XEN_COMPAT_FIELD(xen_gnttab_setup_table, frame_list));

static long setup_table(struct xen_call *c, uint64_t uop, uint32_t count)
{
    struct hv_xen_vm *x = c->x;
    struct xen_gnttab_setup_table_64 n;
    if (count != 1)
        return -XEN_EINVAL;
    if (xen_copy_in(c, uop, &n, &setup_layout))
        return -XEN_EFAULT;
    uint16_t dom = n.dom;
    uint32_t nr = n.nr_frames;
    uint64_t list = n.frame_list;
    int16_t status = GNTST_okay;
    if (!xen_is_self(x, dom)) {
        status = other_domain_status(x, dom);
    } else if (nr > x->gnt_max) {
        status = GNTST_general_error;
    } else {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        while (__atomic_exchange_n(&x->physmap_busy, 1, __ATOMIC_ACQUIRE))
            __builtin_ia32_pause();
        if (xen_gnttab_grow(x, nr))
            status = GNTST_general_error;
        __atomic_store_n(&x->physmap_busy, 0, __ATOMIC_RELEASE);
        /* Frame numbers as the guest placed them (XENMEM_add_to_physmap),
           INVALID_GFN for a frame not placed yet; 4 bytes each for i386. */
        for (uint32_t i = 0; status == GNTST_okay && i < nr; i++) {
            uint64_t gfn = x->gnt_gfn[i];
            uint32_t gfn32 = (uint32_t)gfn;
            int f = c->compat ? xen_copy_to_guest(c, list + 4ull * i, &gfn32, 4)
                              : xen_copy_to_guest(c, list + 8ull * i, &gfn, 8);
            if (f)
                status = XEN_GNTST_BAD_VA;
        }
    }
    size_t off = XEN_COMPAT_OFFSETOF(c, xen_gnttab_setup_table, status);
    return xen_copy_to_guest(c, uop + off, &status, sizeof(status)) ? -XEN_EFAULT : 0;
}

static long query_size(struct xen_call *c, uint64_t uop, uint32_t count)
{
    struct hv_xen_vm *x = c->x;
    struct xen_gnttab_query_size q;
    if (count != 1)
        return -XEN_EINVAL;
    if (xen_copy_from_guest(c, uop, &q, sizeof(q)))
        return -XEN_EFAULT;
    if (!xen_is_self(x, q.dom)) {
        q.status = other_domain_status(x, q.dom);
    } else {
        uint64_t t = xen_lock(x);
        q.nr_frames = x->gnt_nr;
        q.max_nr_frames = x->gnt_max;
        xen_unlock(x, t);
        q.status = GNTST_okay;
    }
    return xen_copy_to_guest(c, uop, &q, sizeof(q)) ? -XEN_EFAULT : 0;
}

static long set_version(struct xen_call *c, uint64_t uop)
{
    struct xen_gnttab_set_version v;
    if (xen_copy_from_guest(c, uop, &v, sizeof(v)))
        return -XEN_EFAULT;
    long rc = 0;
    if (v.version != 1 && v.version != 2)
        rc = -XEN_EINVAL;
    else if (v.version == 2)
        rc = -XEN_ENOSYS; /* v2 off: behave as before set_version existed */
    v.version = 1;        /* the version in force is reported in every case */
    if (xen_copy_to_guest(c, uop, &v, sizeof(v)))
        rc = -XEN_EFAULT;
    return rc;
}

static long get_version(struct xen_call *c, uint64_t uop)
{
    struct xen_gnttab_get_version g;
    if (xen_copy_from_guest(c, uop, &g, sizeof(g)))
        return -XEN_EFAULT;
    if (!xen_is_self(c->x, g.dom))
        return xen_other_domain_error_locking(c->x, g.dom);
    g.version = 1;
    return xen_copy_to_guest(c, uop + offsetof(struct xen_gnttab_get_version, version), &g.version,
                             sizeof(g.version))
               ? -XEN_EFAULT
               : 0;
}

long xen_do_grant_table_op(struct xen_call *c)
{
    uint32_t cmd = (uint32_t)c->arg[0];
    uint64_t uop = c->arg[1];
    uint32_t count = (uint32_t)c->arg[2];

    /* HVM guests get the sub-ops Xen lets them use; the others -ENOSYS. */
    switch (cmd) {
    case GNTTABOP_setup_table:
    case GNTTABOP_copy:
    case GNTTABOP_query_size:
    case GNTTABOP_set_version:
    case GNTTABOP_get_version:
        break;
    default:
        return -XEN_ENOSYS;
    }
    if ((int32_t)count < 0)
        return -XEN_EINVAL;
    switch (cmd) {
    case GNTTABOP_setup_table:
        return setup_table(c, uop, count);
    case GNTTABOP_copy:
        return gnttab_copy(c, uop, count);
    case GNTTABOP_query_size:
        return query_size(c, uop, count);
    case GNTTABOP_set_version:
        return set_version(c, uop);
    default:
        return get_version(c, uop);
    }
}

/* ---- host mappings ---- */

/* Is the host page at @p hpa one libhv owns (shared_info, a grant-table
   frame)? Those are freed by hv_xen_disable, so no host mapping may
   outlive it: a grant of the gfn where the guest mapped one is refused. */
static bool library_page(const struct hv_xen_vm *x, uint64_t hpa)
{
    if (x->shinfo && hpa == x->shinfo_hpa)
        return true;
    for (uint32_t i = 0; i < x->gnt_nr; i++) {
        if (hpa == x->gnt_hpa[i])
            return true;
    }
    return false;
}

hv_status_t hv_xen_grant_map(struct hv_vm *vm, uint32_t ref, uint32_t flags,
                             struct hv_xen_grant_mapping *out)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, out != NULL && !(flags & ~HV_XEN_GRANT_READONLY), &x);
    if (entry != HV_OK)
        return entry;
    bool ro = flags & HV_XEN_GRANT_READONLY;
    if (!__atomic_load_n(&x->maps, __ATOMIC_ACQUIRE)) {
        /* The table of host mappings comes with the first one. */
        size_t size = HV_XEN_GRANT_MAPS_MAX * sizeof(*x->maps);
        struct xen_host_map *fresh = hv_host_obj_alloc(xen_host(x), size), *none = NULL;
        if (!fresh)
            return HV_ERR_NO_MEMORY;
        if (!__atomic_compare_exchange_n(&x->maps, &none, fresh, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            hv_host_obj_free(xen_host(x), fresh, size);
    }
    uint64_t t = xen_lock(x);
    hv_status_t st = HV_OK;
    uint32_t slot = 0;
    while (slot < HV_XEN_GRANT_MAPS_MAX && x->maps[slot].used)
        slot++;
    if (slot == HV_XEN_GRANT_MAPS_MAX) {
        st = HV_ERR_LIMIT;
    } else {
        struct pins p;
        uint64_t gpa = 0;
        uint8_t *page = NULL;
        host_pins(x, ref, &p);
        int g = acquire(x, ref, HV_XEN_DOMID_HOST, ro, &p, &gpa, &page);
        if (g == GNTST_okay && library_page(x, hv_host_virt_to_phys(xen_host(x), page))) {
            release(x, ref, ro, &p);
            g = GNTST_bad_page; /* not a frame of the guest's own memory */
        }
        if (g == GNTST_bad_gntref) {
            st = HV_ERR_NOT_FOUND;
        } else if (g != GNTST_okay) {
            st = HV_ERR_GUEST_FAULT;
        } else {
            struct xen_host_map *m = &x->maps[slot];
            m->used = true;
            m->readonly = ro;
            m->ref = ref;
            m->gpa = gpa;
            m->hpa = hv_host_virt_to_phys(xen_host(x), page);
            out->handle = slot + 1;
            out->ref = ref;
            out->gpa = gpa;
            out->hpa = m->hpa;
            out->hva = page;
        }
    }
    xen_unlock(x, t);
    return st;
}

hv_status_t hv_xen_grant_unmap(struct hv_vm *vm, uint32_t handle)
{
    struct hv_xen_vm *x;
    hv_status_t entry = xen_host_entry(vm, true, &x);
    if (entry != HV_OK)
        return entry;
    uint64_t t = xen_lock(x);
    hv_status_t st = HV_OK;
    if (handle == 0 || handle > HV_XEN_GRANT_MAPS_MAX || !x->maps || !x->maps[handle - 1].used) {
        st = HV_ERR_NOT_FOUND;
    } else {
        struct xen_host_map *m = &x->maps[handle - 1];
        m->used = false;
        struct pins p;
        host_pins(x, m->ref, &p);
        release(x, m->ref, m->readonly, &p);
    }
    xen_unlock(x, t);
    return st;
}

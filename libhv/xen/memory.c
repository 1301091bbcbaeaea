/*
 * memory_op: the guest's memory map, and placing the library's pages
 * (shared_info, grant-table frames) in the guest-physical space at the
 * frame the guest chooses (XENMEM_add_to_physmap), as Xen does for a
 * translated guest: whatever was mapped at that frame goes away, and the
 * page leaves its previous frame.
 */
#include <hv/vm.h>
#include "xen/internal.h"

#define XEN_EDOM 33

/* ---- the memory map ---- */

static uint32_t map_type(uint32_t flags)
{
    bool rw = (flags & (HV_MEM_READ | HV_MEM_WRITE)) == (HV_MEM_READ | HV_MEM_WRITE);
    bool wb = (flags & HV_MEMTYPE_MASK) == HV_MEMTYPE_WB;
    return rw && wb ? HV_PVH_MEMMAP_RAM : HV_PVH_MEMMAP_RESERVED;
}

struct derive {
    struct hv_pvh_memmap *map;
    uint32_t n;
};

/* One SLAT leaf: it extends the last entry when it touches it with the
   same type, else starts the next; stops once the map is full. */
static bool derive_leaf(void *arg, uint64_t gpa, uint64_t hpa, uint64_t size, uint32_t flags)
{
    struct derive *d = arg;
    uint32_t type = map_type(flags);
    struct hv_pvh_memmap *last = d->n ? &d->map[d->n - 1] : NULL;
    (void)hpa;
    if (last && last->type == type && last->addr + last->size == gpa) {
        last->size += size;
        return false;
    }
    if (d->n == HV_PVH_MAX_MEMMAP)
        return true; /* more distinct ranges than a map holds: the lowest ones */
    d->map[d->n++] = (struct hv_pvh_memmap){.addr = gpa, .size = size, .type = type};
    return false;
}

void xen_memmap_derive(struct hv_vm *vm, struct hv_pvh_memmap *map, uint32_t *count)
{
    /* One walk over the tables in address order: unmapped subtrees are
       skipped whole, so a sparse map costs its tables, not its span. */
    struct derive d = {.map = map};
    hv_slat_read_begin(vm); /* the embedder's thread: a walk on no vCPU */
    hv_slat_for_each_leaf(&vm->slat, derive_leaf, &d);
    hv_slat_read_end(vm);
    *count = d.n;
}

static const struct xen_compat_layout memory_map_layout =
    XEN_COMPAT_LAYOUT(xen_memory_map, XEN_COMPAT_FIELD(xen_memory_map, nr_entries),
                      XEN_COMPAT_FIELD(xen_memory_map, buffer));

static long memory_map(struct xen_call *c)
{
    struct hv_xen_vm *x = c->x;
    struct xen_memory_map_64 m;
    if (xen_copy_in(c, c->arg[1], &m, &memory_map_layout))
        return -XEN_EFAULT;
    uint32_t nr = m.nr_entries;
    struct xen_e820_entry e[HV_PVH_MAX_MEMMAP];
    uint64_t t = xen_lock(x);
    uint32_t have = x->memmap_count;
    for (uint32_t i = 0; i < have; i++) {
        e[i].addr = x->memmap[i].addr;
        e[i].size = x->memmap[i].size;
        e[i].type = x->memmap[i].type;
    }
    xen_unlock(x, t);
    if (!have)
        return -XEN_ENOSYS; /* no map was set: Xen's answer for that case */
    nr = HV_MIN(nr, have);
    if (xen_copy_to_guest(c, m.buffer, e, nr * sizeof(e[0])))
        return -XEN_EFAULT;
    m.nr_entries = nr;
    return xen_copy_out(c, c->arg[1], &m, &memory_map_layout) ? -XEN_EFAULT : 0;
}

/*
 * XENMEM_set_memory_map: Xen lets a domain set its own map (the XSM
 * check is XSM_TARGET, which a domain passes for itself) and answers
 * XENMEM_memory_map with it from then on; GRUB's PVH start-up adds the
 * frames it placed the grant table and shared_info in this way. Xen copies
 * the entries verbatim (up to its E820MAX); here up to HV_PVH_MAX_MEMMAP,
 * more is refused as Xen refuses more than E820MAX.
 */
static const struct xen_compat_layout foreign_map_layout =
    XEN_COMPAT_LAYOUT(xen_foreign_memory_map, XEN_COMPAT_FIELD(xen_foreign_memory_map, domid),
                      XEN_COMPAT_FIELD(xen_foreign_memory_map, map.nr_entries),
                      XEN_COMPAT_FIELD(xen_foreign_memory_map, map.buffer));

static long set_memory_map(struct xen_call *c)
{
    struct hv_xen_vm *x = c->x;
    struct xen_foreign_memory_map_64 f;
    if (xen_copy_in(c, c->arg[1], &f, &foreign_map_layout))
        return -XEN_EFAULT;
    uint32_t domid = f.domid, nr = f.map.nr_entries;
    uint64_t buf = f.map.buffer;
    if (nr > HV_PVH_MAX_MEMMAP)
        return -XEN_EINVAL;
    if (!xen_is_self(x, domid))
        return xen_other_domain_error_locking(x, domid);
    struct xen_e820_entry e[HV_PVH_MAX_MEMMAP];
    if (nr && xen_copy_from_guest(c, buf, e, nr * sizeof(e[0])))
        return -XEN_EFAULT;
    uint64_t t = xen_lock(x);
    for (uint32_t i = 0; i < nr; i++) {
        x->memmap[i].addr = e[i].addr;
        x->memmap[i].size = e[i].size;
        x->memmap[i].type = e[i].type;
    }
    x->memmap_count = nr;
    xen_unlock(x, t);
    return 0;
}

/* ---- add_to_physmap ---- */

/* One physmap change at a time per VM: SLAT calls may allocate, so no
   spinlock is held across them (a plain flag that other vCPUs wait on). */
static void physmap_enter(struct hv_xen_vm *x)
{
    while (__atomic_exchange_n(&x->physmap_busy, 1, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
}

static void physmap_exit(struct hv_xen_vm *x)
{
    __atomic_store_n(&x->physmap_busy, 0, __ATOMIC_RELEASE);
}

/* The layer's own SLAT calls wait out one of the embedder's in progress
   (core/objects.h hv_vm_map_waiting): failing would give the guest a
   spurious error, or leave mapped a page about to be freed. */
static hv_status_t unmap_page(struct hv_vm *vm, uint64_t gfn)
{
    return hv_vm_unmap_waiting(vm, gfn * HV_PAGE_SIZE, HV_PAGE_SIZE);
}

static hv_status_t map_page(struct hv_vm *vm, uint64_t gfn, uint64_t hpa)
{
    return hv_vm_map_waiting(vm, gfn * HV_PAGE_SIZE, hpa, HV_PAGE_SIZE,
                             HV_MEM_READ | HV_MEM_WRITE | HV_MEMTYPE_WB);
}

void xen_unmap_special(struct hv_vm *vm, uint64_t gfn)
{
    /* The page is a 4 KiB leaf there, whose unmap allocates nothing: only
       BUSY, waited out, could have left it mapped. (A failure to split a
       large page would mean the embedder mapped its own page there since:
       nothing of the layer's is left to unmap.) */
    unmap_page(vm, gfn);
}

long xen_map_special(struct hv_xen_vm *x, uint64_t hpa, uint64_t *cur_gfn, uint64_t gfn)
{
    struct hv_vm *vm = x->vm;
    if (gfn >= (1ull << (vm->gpa_bits - 12)))
        return -XEN_EINVAL;
    /* Whatever the guest had at that frame is removed, then the page
       leaves its old frame and appears at the new one. */
    hv_status_t st = unmap_page(vm, gfn);
    if (st == HV_OK && *cur_gfn != XEN_INVALID_GFN && *cur_gfn != gfn)
        st = unmap_page(vm, *cur_gfn);
    if (st == HV_OK) {
        *cur_gfn = XEN_INVALID_GFN;
        st = map_page(vm, gfn, hpa);
    }
    if (st == HV_OK)
        *cur_gfn = gfn;
    if (st == HV_ERR_NO_MEMORY)
        return -XEN_ENOMEM;
    return st == HV_OK ? 0 : -XEN_EINVAL;
}

static const struct xen_compat_layout add_to_physmap_layout = XEN_COMPAT_LAYOUT(
    xen_add_to_physmap, XEN_COMPAT_FIELD(xen_add_to_physmap, domid),
    XEN_COMPAT_FIELD(xen_add_to_physmap, space), XEN_COMPAT_FIELD(xen_add_to_physmap, idx),
    XEN_COMPAT_FIELD(xen_add_to_physmap, gpfn));

static long add_to_physmap(struct xen_call *c, uint64_t start_extent)
{
    struct hv_xen_vm *x = c->x;
    if (start_extent > 0xffff)
        return -XEN_EDOM;
    struct xen_add_to_physmap_64 a;
    if (xen_copy_in(c, c->arg[1], &a, &add_to_physmap_layout))
        return -XEN_EFAULT;
    uint32_t domid = a.domid, space = a.space;
    uint64_t idx = a.idx, gpfn = a.gpfn;
    if (space == XENMAPSPACE_gmfn_foreign)
        return -XEN_ENOSYS; /* only through add_to_physmap_batch */
    if (!xen_is_self(x, domid))
        return xen_other_domain_error_locking(x, domid);

    long rc;
    physmap_enter(x);
    if (space == XENMAPSPACE_shared_info) {
        rc = idx == 0 ? xen_map_special(x, x->shinfo_hpa, &x->shinfo_gfn, gpfn) : -XEN_EINVAL;
    } else if (space == XENMAPSPACE_grant_table) {
        /* Frame idx of the table, growing it up to idx + 1 frames within
           the limit; status frames exist only in grant table v2. */
        rc = idx < x->gnt_max ? xen_gnttab_grow(x, (uint32_t)idx + 1) : -XEN_EINVAL;
        if (rc == 0 && idx >= x->gnt_nr)
            rc = -XEN_EINVAL;
        if (rc == 0)
            rc = xen_map_special(x, x->gnt_hpa[idx], &x->gnt_gfn[idx], gpfn);
    } else {
        rc = -XEN_EINVAL; /* gmfn spaces: not implemented */
    }
    physmap_exit(x);
    return rc;
}

long xen_do_memory_op(struct xen_call *c)
{
    uint64_t cmd = c->arg[0];
    switch (cmd & XENMEM_CMD_MASK) {
    case XENMEM_memory_map:
        return memory_map(c);
    case XENMEM_add_to_physmap:
        return add_to_physmap(c, cmd >> 6);
    case XENMEM_set_memory_map:
        return set_memory_map(c);
    default:
        /* XENMEM_machine_memory_map and _machphys_mapping are refused to
           HVM guests with -ENOSYS; the rest is not implemented. */
        return -XEN_ENOSYS;
    }
}

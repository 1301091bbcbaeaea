/*
 * Private pieces of the SLAT engine shared by its files: the table shadow,
 * geometry helpers, atomic entry access and the table reserve.
 */
#ifndef HV_SLAT_INTERNAL_H
#define HV_SLAT_INTERNAL_H

#include "slat/slat.h"
#include "core/util.h"

#define SLAT_ENTRIES    512u
#define SLAT_ROOT_LEVEL 3

/*
 * Shadow of a table above level 0. The hardware page holds the entries the
 * CPU walks; the shadow holds the host-virtual addresses of the children, so
 * the engine never translates a table's host-physical address back (no
 * phys_to_virt per step) and the walk stays a few loads.
 * sub[i] is non-NULL exactly when entry i points to a table: for a level-1
 * table it is the child's hardware page (uint64_t *), above that the
 * child's struct hv_slat_dir. cnt[i] counts the child's present entries, so
 * an emptied table is found without scanning it (the root's count lives in
 * struct hv_slat).
 */
struct hv_slat_dir {
    uint64_t *hw;
    struct hv_slat_dir *next; /* reserve / retired list link */
    void *sub[SLAT_ENTRIES];
    uint16_t cnt[SLAT_ENTRIES]; /* present entries in the child table of entry i */
};

/* Bytes mapped by one entry of a level-`level` table. */
static inline uint64_t slat_entry_size(int level)
{
    return 1ull << (12 + 9 * level);
}

static inline unsigned slat_index(uint64_t gpa, int level)
{
    return (unsigned)(gpa >> (12 + 9 * level)) & (SLAT_ENTRIES - 1);
}

/*
 * Entry loops: a level-`L` table is visited over [a, b) one entry at a time;
 * [lo, hi) is the part of the range inside the current entry.
 */
static inline uint64_t slat_entry_end(int L, uint64_t lo, uint64_t b)
{
    uint64_t sz = slat_entry_size(L);
    return HV_MIN(b, (lo & ~(sz - 1)) + sz);
}

/* [lo, hi) covers its whole entry (hi never passes the entry's end). */
static inline bool slat_entry_full(int L, uint64_t lo, uint64_t hi)
{
    return hi - lo == slat_entry_size(L);
}

/* May an entry of this level be a leaf? 4 KiB always; larger per page_sizes. */
static inline bool slat_leaf_ok(const struct hv_slat *s, int level)
{
    if (level == 0)
        return true;
    if (level == 1)
        return (s->page_sizes & HV_PAGE_2M) != 0;
    if (level == 2)
        return (s->page_sizes & HV_PAGE_1G) != 0;
    return false;
}

/* Entry tests through the masks derived at init (slat.h, format contract). */
static inline bool slat_present(const struct hv_slat *s, uint64_t e)
{
    return (e & s->present_mask) != 0;
}

/* A present entry of a level-`level` table maps a page (no table below). */
static inline bool slat_is_leaf(const struct hv_slat *s, uint64_t e, int level)
{
    return level == 0 || (level < SLAT_ROOT_LEVEL && (e & s->large_mask));
}

static inline uint64_t slat_leaf_hpa(const struct hv_slat *s, uint64_t e, int level)
{
    return e & s->addr_mask[level];
}

/*
 * Entries are read and written with single 64-bit atomic accesses: the CPU
 * walks them concurrently and sets accessed/dirty bits with locked updates
 * (SDM Vol. 3C 29.3.5, APM Vol. 2 15.25); relaxed order suffices on x86
 * (stores are not reordered with other stores).
 */
static inline uint64_t slat_load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void slat_store(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline uint64_t slat_xchg(uint64_t *p, uint64_t v)
{
    return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL);
}

static inline bool slat_cas(uint64_t *p, uint64_t *expected, uint64_t v)
{
    return __atomic_compare_exchange_n(p, expected, v, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

static inline void *slat_load_sub(void *const *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void slat_store_sub(void **p, void *v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/*
 * Entry i of a level-`L` table (hw, with its children subs) as a walk
 * without the lock reads it: the child table, or NULL with *e the entry
 * when it maps the range itself (a leaf) or nothing. Writers publish a
 * child before the entry that points to it (new_table, split) and take it
 * away only after the entry stopped pointing to it (merge, unmap). So an
 * entry read pointing to a table has its child visible (the load's
 * acquire pairs with the child's release), unless the child has been
 * taken away since, which changed the entry first: read it again. Reading
 * sub[i] first and the entry only when it is NULL would let a split
 * between the two loads make the table's pointer look like a leaf, and
 * the table's address the page's.
 */
static inline void *slat_child_or_entry(const struct hv_slat *s, const uint64_t *hw,
                                        void *const *subs, unsigned i, int L, uint64_t *e)
{
    for (;;) {
        uint64_t v = __atomic_load_n(&hw[i], __ATOMIC_ACQUIRE);
        *e = v;
        if (!slat_present(s, v) || slat_is_leaf(s, v, L))
            return NULL;
        void *sub = slat_load_sub(&subs[i]);
        if (sub)
            return sub;
    }
}

/*
 * Entry i of a level-0 table that a walk without the lock reached through
 * its parent's shadow slot `link`. A level-0 table retired since (merged
 * into a large page, or emptied) holds the retired list's link in its
 * entry 0 (slat.c slat_retire), which reads as not present although the
 * merged page still maps that address: so a not-present entry 0 counts
 * only while the parent still links the table, and *gone tells the
 * caller to walk again from above. (slat_retire stores the link after
 * the parent's slot changed, both with release: the acquire load here
 * that sees the link sees the slot changed too. The table is not freed
 * while the walk runs, so the slot never links it again meanwhile.)
 */
static inline uint64_t slat_pt_entry(const struct hv_slat *s, const uint64_t *pt, unsigned i,
                                     void *const *link, bool *gone)
{
    uint64_t e = __atomic_load_n(&pt[i], __ATOMIC_ACQUIRE);
    *gone = i == 0 && !slat_present(s, e) && slat_load_sub(link) != pt;
    return e;
}

/* Hardware page of a child: sub[i] of a level-`level` table (level >= 1). */
static inline uint64_t *slat_child_hw(void *sub, int level)
{
    return level == 1 ? (uint64_t *)sub : ((struct hv_slat_dir *)sub)->hw;
}

/* Reserve (slat.c): allocate what the planned call needs, all or nothing. */
hv_status_t slat_reserve(struct hv_slat *s, uint64_t pages, uint64_t dirs);
void slat_reserve_release(struct hv_slat *s);
/* Take a zeroed page / shadow from the reserve (never NULL after a successful plan). */
uint64_t *slat_take_page(struct hv_slat *s, uint64_t *hpa);
struct hv_slat_dir *slat_take_dir(struct hv_slat *s);

/* Unlink-time bookkeeping (slat.c): the child of entry i leaves the tree. */
void slat_retire(struct hv_slat *s, void *sub, int child_level);

/* Flags validation shared by map and protect (slat.c). */
hv_status_t slat_check_flags(const struct hv_slat *s, uint32_t flags);
/* Alignment and range checks shared by every range call (slat.c). */
hv_status_t slat_check_range(const struct hv_slat *s, uint64_t gpa, uint64_t len);

#endif /* HV_SLAT_INTERNAL_H */

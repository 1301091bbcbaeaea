/*
 * SLAT engine: one radix-tree implementation of second-level address
 * translation (Intel EPT, AMD NPT) for a VM. The entry format comes from
 * small pure functions the backend supplies (struct hv_slat_format); the
 * engine owns the tree shape: table allocation, choice of page size, splits,
 * merges, table freeing, dirty harvest and batched invalidation.
 *
 * Shape: 4 levels, 48-bit guest-physical addresses. Level numbers follow
 * the leaf size: 0 = 4 KiB entries (PT), 1 = 2 MiB (PD), 2 = 1 GiB (PDPT),
 * 3 = the root (PML4, never a leaf).
 *
 * The tree is kept canonical: every 4 KiB page is mapped by the largest page
 * that its neighbours, alignment and `page_sizes` allow, no table is
 * uniform (mergeable) and no table but the root is empty. The table-page
 * count is therefore the minimum for the mapped layout.
 *
 * Concurrency: calls that modify the tree (init, fini, map, unmap, protect,
 * dirty_harvest, take_flush, take_retired, flush_done) must be serialized by
 * the caller. hv_slat_translate() and hv_slat_query() take no lock and
 * allocate nothing. Tables unlinked by a call are not freed at once: a CPU
 * (or a concurrent translate) may still walk them until the flush, so they
 * are "retired" and freed by hv_slat_free_retired() / hv_slat_flush_done()
 * after the caller has flushed, or at hv_slat_fini(). Until that flush:
 * - a retired level-0 table reads "not present" in its entry 0 (the retired
 *   list is linked through it), so a CPU's stale walk there may fault
 *   spuriously: EPT-violation / #NPF handlers must re-check with
 *   hv_slat_translate() and simply resume the guest when the address is
 *   mapped (the engine's own walks check whether the table is still
 *   linked and start again when it is not);
 * - a dirty bit the CPU sets in a table being merged at that very moment
 *   can be lost (splits, protect and harvest update entries atomically and
 *   keep it).
 * A VM under dirty logging that must not lose a write should map with
 * page_sizes = HV_PAGE_4K, where no merge happens.
 */
#ifndef HV_SLAT_SLAT_H
#define HV_SLAT_SLAT_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/status.h>
#include <hv/vm.h>
#include "core/host.h"

/* Largest guest-physical width the 4-level tree covers. */
#define HV_SLAT_MAX_GPA_BITS 48u
/* Smallest widths the engine accepts. */
#define HV_SLAT_MIN_GPA_BITS 32u
#define HV_SLAT_MIN_HPA_BITS 32u
/* Largest host-physical width an entry can hold (SDM/APM: MAXPHYADDR <= 52). */
#define HV_SLAT_MAX_HPA_BITS 52u

/*
 * Entry format supplied by a backend (backends/vmx/ept_format.c,
 * backends/svm/npt_format.c): small pure functions plus a few facts.
 *
 * Contract, checked by the unit tests of each format:
 * - make_leaf(hpa, f, L) == make_leaf(0, f, L) | hpa for every hpa aligned
 *   to the page size of level L and below 2^52, and leaf_hpa() returns it;
 *   make_table() likewise. The engine relies on this to fill and compare
 *   runs of entries without a call per entry.
 * - An entry whose bits 0..2 are all zero is not present (true of EPT and of
 *   NPT); the engine links retired table pages through their first word.
 * - leaf_flags(make_leaf(h, f, L), L) == f for every f the format accepts.
 * - The hot paths use masks derived once at init: is_present(e) is
 *   "e has one of the bits b with is_present(1 << b)"; is_leaf(e, 1 or 2)
 *   likewise with is_leaf(1 << b, 1); leaf_hpa(e, L) is
 *   e & leaf_hpa(~0, L); each permission is granted by a fixed bit pattern
 *   (found by comparing make_leaf with and without it), whatever the level
 *   and memory type.
 */
struct hv_slat_format {
    const char *name;    /* "ept" / "npt" */
    uint32_t page_sizes; /* HV_PAGE_* the format and the CPU allow */
    uint32_t memtypes;   /* bit n set: memory type n (flags >> HV_MEMTYPE_SHIFT) expressible */
    bool has_ad;         /* accessed/dirty bits are maintained by the CPU */
    bool exec_only;      /* execute-only leaves (X without R) are allowed */
    uint64_t ad_mask;    /* leaf bits the CPU sets (accessed, dirty): ignored in comparisons */
    uint64_t (*make_table)(uint64_t table_hpa);
    /* flags: HV_MEM_* | HV_MEMTYPE_*, already validated against the fields above. */
    uint64_t (*make_leaf)(uint64_t hpa, uint32_t flags, int level);
    bool (*is_present)(uint64_t e);
    bool (*is_leaf)(uint64_t e, int level);
    uint64_t (*leaf_hpa)(uint64_t e, int level);
    uint64_t (*table_hpa)(uint64_t e);
    uint32_t (*leaf_flags)(uint64_t e, int level);
    bool (*is_dirty)(uint64_t e);
    uint64_t (*clear_dirty)(uint64_t e);
    uint64_t (*set_dirty)(uint64_t e);
};

/* Shadow of a non-leaf table (private to the engine, see slat_internal.h). */
struct hv_slat_dir;

/* Tables unlinked by calls since the last hv_slat_take_retired(). */
struct hv_slat_retired {
    const struct hv_host *host;
    uint64_t *pages;          /* level-0 table pages, linked through word 0 */
    struct hv_slat_dir *dirs; /* higher-level tables with their pages */
    uint64_t table_pages;     /* hardware pages held (both lists) */
};

/* A VM's SLAT: embed it in the VM object. All fields are private. */
struct hv_slat {
    const struct hv_host *host;
    const struct hv_slat_format *fmt;
    struct hv_slat_dir *root; /* level-3 table */
    uint64_t root_hpa;
    uint64_t gpa_limit; /* 2^gpa_bits */
    uint64_t hpa_limit; /* 2^hpa_bits */
    uint32_t page_sizes;
    bool flush_pending;
    uint64_t table_pages;  /* live hardware table pages, root included */
    uint64_t dirs;         /* live shadow objects (one per table above level 0) */
    uint64_t mapped_bytes; /* guest-physical bytes mapped */
    uint16_t root_cnt;     /* present entries in the root table */
    /* Bumped after every map/unmap/protect: translations derived from the
       tree (host pointers a vCPU memoizes) are stale once it changed. */
    uint64_t gen;
    /*
     * Masks derived from the format at init for the hot paths (every walk):
     * present iff e & present_mask; leaf address = e &
     * addr_mask[level]; permission p (R, W, X) granted iff
     * (e & perm_mask[p]) == perm_want[p]. See the format contract above.
     */
    uint64_t present_mask;
    uint64_t large_mask; /* a level-1/2 entry is a leaf iff e & large_mask */
    uint64_t addr_mask[3];
    uint64_t perm_mask[3], perm_want[3];
    /* Leaf templates (make_leaf(0, tmpl_flags, level)) of the last flags used. */
    uint32_t tmpl_flags;
    uint64_t tmpl[3];
    struct hv_slat_retired retired;
    /* Pages and shadows allocated by the planning phase of the running call. */
    uint64_t *rsv_pages;
    struct hv_slat_dir *rsv_dirs;
};

/*
 * Set up an empty SLAT: allocates the root table (one page and its shadow).
 * page_sizes: HV_PAGE_* mask, must contain HV_PAGE_4K, and HV_PAGE_2M when
 * it contains HV_PAGE_1G; 0 means fmt->page_sizes. `host` and `fmt` must
 * outlive the SLAT.
 * Returns HV_OK; HV_ERR_INVALID_ARG (NULL, incomplete format, bad
 * page_sizes); HV_ERR_UNSUPPORTED (page size the format lacks); HV_ERR_RANGE
 * (gpa_bits outside 32..48, hpa_bits outside 32..52); HV_ERR_NO_MEMORY.
 * On failure `s` is left zeroed, so hv_slat_fini() on it is harmless.
 */
hv_status_t hv_slat_init(struct hv_slat *s, const struct hv_host *host,
                         const struct hv_slat_format *fmt, unsigned gpa_bits, unsigned hpa_bits,
                         uint32_t page_sizes);

/* Free every table page, shadow and retired table; `s` is zeroed. NULL-safe. */
void hv_slat_fini(struct hv_slat *s);

/*
 * The status codes of the modifying calls, checked in this order:
 * HV_ERR_INVALID_ARG: NULL or uninitialized `s`; unknown flag bits; an
 *   unknown memory type; no permission; W without R.
 * HV_ERR_UNSUPPORTED: execute-only without fmt->exec_only; a memory type the
 *   format cannot express.
 * HV_ERR_ALIGNMENT: gpa, hpa or len not a multiple of 4 KiB.
 * HV_ERR_RANGE: zero len; gpa+len wraps or exceeds 2^gpa_bits; hpa+len
 *   wraps or exceeds 2^hpa_bits.
 * HV_ERR_EXISTS (map: a page of the range is mapped), HV_ERR_NOT_FOUND
 *   (protect: a page of the range is not mapped), HV_ERR_NO_MEMORY.
 * On any error nothing changed: no entry, no count, no pending flush.
 */
hv_status_t hv_slat_map(struct hv_slat *s, uint64_t gpa, uint64_t hpa, uint64_t len,
                        uint32_t flags);
/* Holes in the range are allowed; splits large pages cut by the range. */
hv_status_t hv_slat_unmap(struct hv_slat *s, uint64_t gpa, uint64_t len);
/* Every page of the range must be mapped. Dirty bits are preserved. */
hv_status_t hv_slat_protect(struct hv_slat *s, uint64_t gpa, uint64_t len, uint32_t flags);

/*
 * Describe the page mapping `gpa` (any byte address).
 * Returns HV_OK; HV_ERR_INVALID_ARG (NULL); HV_ERR_RANGE (gpa >= 2^gpa_bits);
 * HV_ERR_NOT_FOUND.
 */
hv_status_t hv_slat_query(const struct hv_slat *s, uint64_t gpa, struct hv_mapping *out);

/*
 * Hot path: host-physical address of byte `gpa` for an access needing every
 * HV_MEM_* bit in `access` (0: any mapping). A plain table walk: no lock,
 * no allocation, no host call.
 * Returns HV_OK; HV_ERR_INVALID_ARG (NULL, unknown access bits);
 * HV_ERR_RANGE (gpa >= 2^gpa_bits); HV_ERR_NOT_FOUND (not mapped);
 * HV_ERR_GUEST_FAULT (mapped without a requested permission).
 */
hv_status_t hv_slat_translate(const struct hv_slat *s, uint64_t gpa, uint32_t access,
                              uint64_t *hpa);

/*
 * Harvest and clear dirty bits of [gpa, gpa+len): bit i of `bitmap` is set
 * when the 4 KiB page gpa + i*4096 is mapped and dirty. Writes exactly
 * ceil(len / 4096 / 64) words. A large page reports all its pages; one that
 * the range covers only in part keeps its dirty bit (reported again next
 * time) rather than losing the state of the part outside the range.
 * Returns HV_OK; HV_ERR_INVALID_ARG (NULL); HV_ERR_UNSUPPORTED (format has no
 * A/D bits); HV_ERR_ALIGNMENT; HV_ERR_RANGE. Requests a flush when a bit was
 * cleared (so the CPU sets it again on the next write).
 */
hv_status_t hv_slat_dirty_harvest(struct hv_slat *s, uint64_t gpa, uint64_t len, uint64_t *bitmap);

/*
 * Generation of the mapping: changes after every hv_slat_map(),
 * hv_slat_unmap() and hv_slat_protect() call (successful or not), so a
 * translation memoized with an equal generation is still the tree's.
 * Lock-free read (acquire), like hv_slat_translate().
 */
static inline uint64_t hv_slat_gen(const struct hv_slat *s)
{
    return __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE);
}

/*
 * A new generation after a change that memoized translations depend on
 * (release: whoever reads the new generation also sees the change): the
 * SLAT's own calls, and the core's change of the guest's paging view
 * (core/vm.c hv_vm_set_cpuid), which the vCPUs' walk memos depend on too.
 */
static inline void hv_slat_gen_bump(struct hv_slat *s)
{
    __atomic_fetch_add(&s->gen, 1, __ATOMIC_RELEASE);
}

/*
 * Call fn once per leaf (mapped page of any size) in ascending gpa order,
 * with its gpa, hpa, size and HV_MEM_* | HV_MEMTYPE_* flags, until fn
 * returns true. Serialized with the modifying calls by the caller; fn must
 * not change the SLAT.
 */
typedef bool (*hv_slat_leaf_fn)(void *arg, uint64_t gpa, uint64_t hpa, uint64_t size,
                                uint32_t flags);
void hv_slat_for_each_leaf(const struct hv_slat *s, hv_slat_leaf_fn fn, void *arg);

/*
 * The leaf that maps gpa, or else the lowest one above it (HV_ERR_NOT_FOUND
 * when there is none): the walk skips unmapped subtrees whole, so listing a
 * sparse map costs its tables, not its address span. Lock-free, as
 * hv_slat_query().
 */
hv_status_t hv_slat_query_next(const struct hv_slat *s, uint64_t gpa, struct hv_mapping *out);

/* Host-physical address of the root table (for EPTP / nCR3); fixed for the SLAT's life. */
uint64_t hv_slat_root_hpa(const struct hv_slat *s);
/* Live table pages, root included (an empty SLAT has 1). */
uint64_t hv_slat_table_pages(const struct hv_slat *s);
/* Guest-physical bytes mapped. */
uint64_t hv_slat_mapped_bytes(const struct hv_slat *s);
/* Host bytes of the engine's own objects (table shadows), not table pages. */
uint64_t hv_slat_meta_bytes(const struct hv_slat *s);

/*
 * Batched invalidation. Every call that removed or reduced a translation
 * (unmap, protect, split, merge, dirty clear) only sets a pending flag. At
 * the end of each API call the VM layer calls hv_slat_take_flush() and, if
 * it returns true, asks the backend for ONE flush (INVEPT / ASID flush) of
 * this SLAT on every CPU.
 */
bool hv_slat_take_flush(struct hv_slat *s);

/*
 * Retired tables: after hv_slat_take_flush(), move the tables unlinked since
 * the last call into `out` (serialized with the modifying calls, e.g. under
 * the VM lock), then, once the flush has completed on every CPU and no
 * hv_slat_translate() that started before it still runs, free them with
 * hv_slat_free_retired() (no lock needed). hv_slat_flush_done() does both
 * for a caller that flushes while still serialized. Retired tables never
 * freed this way are freed by hv_slat_fini().
 */
void hv_slat_take_retired(struct hv_slat *s, struct hv_slat_retired *out);
void hv_slat_free_retired(struct hv_slat_retired *r);
/* Move src's tables to dst (dst keeps them for one later free); src ends
   empty. Either may be empty. */
void hv_slat_retired_merge(struct hv_slat_retired *dst, struct hv_slat_retired *src);
void hv_slat_flush_done(struct hv_slat *s);

#endif /* HV_SLAT_SLAT_H */

/*
 * Shared pieces of the SLAT unit tests: a SLAT under test with its mock
 * host, an independent table walker that decodes EPT/NPT entries from the
 * manuals' bit layouts (not from the engine's format functions), and a flat
 * reference model of a guest-physical window.
 */
#ifndef TEST_SLAT_H
#define TEST_SLAT_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/vm.h>
#include "core/host.h"
#include "slat/slat.h"
#include "mock_host.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define P4K (4 * KiB)
#define P2M (2 * MiB)
#define P1G GiB

enum tkind { T_EPT, T_NPT };

/* A SLAT under test. */
struct tslat {
    struct mock_host m;
    struct hv_host host;
    struct hv_slat_format fmt;
    struct hv_slat s;
    enum tkind kind;
    uint32_t page_sizes;
};

/* Format options for tslat_init. */
struct topts {
    bool ept_ad;        /* EPT with A/D bits (NPT always has them) */
    bool ept_exec_only; /* EPT execute-only allowed */
};

/* Mock host + format + hv_slat_init; returns hv_slat_init's status. */
hv_status_t tslat_init(struct tslat *t, enum tkind kind, unsigned gpa_bits, unsigned hpa_bits,
                       uint32_t page_sizes, const struct topts *opts);
/* hv_slat_fini, then CUnit-assert the mock is clean; frees the mock. */
void tslat_fini(struct tslat *t);
/* End of an API call as the VM layer does it: take the flush, free retired tables. */
bool tslat_end_call(struct tslat *t);
const char *tkind_name(enum tkind k);

/* ---- independent walker ---- */

struct wleaf {
    uint64_t gpa, size, hpa;
    uint32_t flags; /* HV_MEM_* | HV_MEMTYPE_* decoded from the entry bits */
    bool dirty;
    int level;
    uint64_t *entry; /* where the entry lives (tests set D bits through it) */
};

struct wresult {
    uint64_t tables; /* tables visited (the root included) */
    uint64_t leaves;
    uint64_t errors; /* malformed entry, unknown table page, non-canonical table */
    char first_error[256];
};

typedef void (*wleaf_fn)(void *ctx, const struct wleaf *leaf);

/*
 * Walk every table whose span meets [a, b) from the root, resolving table
 * addresses with the mock's phys_to_virt; call fn for every leaf meeting the
 * range. Checks each entry's reserved/fixed bits, and that each visited
 * table (but the root) is neither empty nor uniform (mergeable into one
 * leaf of an allowed size).
 */
void twalk(struct tslat *t, uint64_t a, uint64_t b, wleaf_fn fn, void *ctx, struct wresult *r);

/* Find the leaf entry of one address with the walker (NULL when unmapped). */
uint64_t *twalk_entry(struct tslat *t, uint64_t gpa, int *level);
/* Set the dirty bit of the leaf mapping gpa, as the CPU would on a write. */
bool tset_dirty(struct tslat *t, uint64_t gpa);

/* ---- flat reference model over a window of guest-physical space ---- */

struct tmodel {
    uint64_t base, size; /* window */
    uint64_t *pg;        /* per 4 KiB page: 0 = unmapped, else hpa | flags */
};

void tmodel_init(struct tmodel *md, uint64_t base, uint64_t size);
void tmodel_fini(struct tmodel *md);
static inline uint64_t *tmodel_at(struct tmodel *md, uint64_t gpa)
{
    return &md->pg[(gpa - md->base) >> 12];
}

/*
 * Compare [a, b) (inside the window) of the SLAT with the model by walking
 * the tables; returns the number of mismatches (0 = equal) and CUnit-fails
 * with a message on the first one.
 */
uint64_t tcompare(struct tslat *t, struct tmodel *md, uint64_t a, uint64_t b);

/* Compare translate and query of one address with the model (CUnit asserts). */
void tcheck_translate(struct tslat *t, struct tmodel *md, uint64_t gpa);

/* Tiny deterministic PRNG (xorshift64*). */
static inline uint64_t trand(uint64_t *st)
{
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Seed: HV_SEED from the environment, else time-based; printed once. */
uint64_t tseed(void);

/* Suites. */
void test_slat_register_format(void);
void test_slat_register_basic(void);
void test_slat_register_diff(void);
void test_slat_register_fail(void);
void test_slat_register_mock(void);

#endif /* TEST_SLAT_H */

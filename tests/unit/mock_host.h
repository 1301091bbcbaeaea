/*
 * mock_host: a struct hv_host_ops for hosted unit tests.
 *
 * Pages come from aligned_alloc and get FAKE host-physical addresses (from
 * 2^40 up, never equal to the host-virtual address, with an unmapped gap
 * between blocks), so code that confuses the two address spaces fails.
 * phys_to_virt / virt_to_phys resolve any address inside a live block
 * through hash tables (O(1)).
 *
 * Usage:
 *     struct mock_host m;
 *     mock_host_init(&m);
 *     ... hv_host_init(&host, &m.ops) or hv_ctx_create(&m.ops, ...) ...
 *     m.fail_at = m.alloc_index + 3;     // the 4th allocation from now fails
 *     ...
 *     CU_ASSERT(mock_host_clean(&m));    // nothing outstanding, no misuse
 *     mock_host_fini(&m);
 *
 * Everything is single-threaded. Counters and settings are plain fields:
 * read and write them directly.
 */
#ifndef MOCK_HOST_H
#define MOCK_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hv/host.h>

/* "Never" for fail_at / fail_from / fail_cpu. */
#define MOCK_NEVER UINT64_MAX
/* First fake host-physical address handed out. */
#define MOCK_HPA_BASE (1ull << 40)
/* Bytes written before and after every object, checked at free. */
#define MOCK_GUARD_BYTES 16
#define MOCK_GUARD_BYTE  0x5C
/* Fill of freed memory when poison_free is set. */
#define MOCK_POISON_BYTE 0xA5
#define MOCK_LOG_LINES   32
#define MOCK_LOG_LEN     256
#define MOCK_KICK_CPUS   64
#define MOCK_QUARANTINE  256

/* Open-addressing hash map uint64 -> uint64 (private to mock_host.c). */
struct mock_map {
    uint64_t *keys; /* 0 = empty slot; keys are never 0 */
    uint64_t *vals;
    size_t cap; /* power of two */
    size_t used;
};

struct mock_log_line {
    hv_log_level_t level;
    char text[MOCK_LOG_LEN];
};

struct mock_host {
    /* Filled by mock_host_init (opaque = this mock); pass it to libhv. */
    struct hv_host_ops ops;

    /* ---- settings (change at any time) ---- */
    uint32_t cpus;        /* cpu_count(); default 1 */
    uint32_t current_cpu; /* cpu_current(); run_on_each_cpu sets it while running fn */
    uint64_t fail_cpu;    /* run_on_each_cpu fails on this CPU (MOCK_NEVER: never) */
    bool poison_free;     /* freed memory is filled with 0xA5 and quarantined */
    bool log_echo;        /* also print log lines on stderr */
    uint64_t time;        /* time_ns() result */
    uint64_t time_step;   /* added to `time` after every time_ns() call */
    bool scan_free;       /* look at every freed page and object (freed_* counters below) */

    /* ---- allocation failure injection (pages and objects share the index) ---- */
    uint64_t alloc_index; /* index of the next page_alloc/obj_alloc attempt */
    uint64_t fail_at;     /* fail the attempt with exactly this index */
    uint64_t fail_from;   /* fail every attempt with an index >= this */
    uint64_t failed;      /* attempts failed on purpose */

    /* ---- translation failure injection ---- */
    uint64_t p2v_calls;   /* phys_to_virt calls so far */
    uint64_t p2v_fail_at; /* that call (by index) answers NULL, as if the page left
                             meanwhile (MOCK_NEVER: never) */

    /* ---- library allocations (guest RAM excluded) ---- */
    uint64_t pages_out;     /* pages allocated and not freed */
    uint64_t objs_out;      /* objects allocated and not freed */
    uint64_t obj_bytes_out; /* their bytes */
    uint64_t allocs_total;  /* successful page_alloc + obj_alloc calls */
    uint64_t page_allocs;   /* successful page_alloc calls */
    uint64_t obj_allocs;    /* successful obj_alloc calls */
    uint64_t frees_total;   /* page_free + obj_free calls */
    uint64_t page_frees;    /* page_free calls */
    uint64_t obj_frees;     /* obj_free calls */

    /* ---- content of freed blocks (only while scan_free is set) ---- */
    uint64_t freed_scanned;        /* pages and objects freed and scanned */
    uint64_t freed_scanned_bytes;  /* their bytes */
    uint64_t freed_nonzero;        /* of those, blocks that still held a non-zero byte */
    uint64_t freed_nonzero_bytes;  /* non-zero bytes they held */
    char freed_nonzero_first[128]; /* the first such block (page/object, address, size) */

    /* ---- misuse detected (bad free, wrong size/count, guard or poison overwritten) ---- */
    uint64_t errors;
    char last_error[256];

    /* ---- CPUs, IPIs, interrupts, log ---- */
    uint64_t run_calls; /* run_on_each_cpu calls */
    uint64_t kicks;     /* kick_cpu calls */
    uint32_t last_kick_cpu;
    uint64_t kicks_per_cpu[MOCK_KICK_CPUS];
    uint32_t irq_depth;                       /* irq_save nesting now */
    uint32_t irq_max_depth;                   /* deepest nesting seen */
    uint64_t irq_saves;                       /* irq_save calls */
    uint64_t log_total;                       /* lines logged so far */
    struct mock_log_line log[MOCK_LOG_LINES]; /* ring of the last lines */

    /* ---- private ---- */
    uint64_t next_hpa;
    struct mock_map p2v;    /* hpa page -> hva page (library pages and guest RAM) */
    struct mock_map v2p;    /* hva page -> hpa page */
    struct mock_map blocks; /* hva of a block's first page -> struct mock_block * */
    struct mock_map objs;   /* object address -> size */
    struct {
        void *raw;
        size_t bytes;
    } quarantine[MOCK_QUARANTINE];
    unsigned q_head, q_count;
};

/* Set up `m` with defaults (1 CPU, no failures, time 0) and fill m->ops. */
void mock_host_init(struct mock_host *m);

/*
 * Release everything the mock still holds: leaked library pages and
 * objects, guest RAM, quarantine (checked first). Counters stay readable.
 */
void mock_host_fini(struct mock_host *m);

/* No library page or object outstanding and no misuse recorded. */
bool mock_host_clean(const struct mock_host *m);

/* Fail the allocation attempt `n` attempts from now (0: the next one). */
void mock_fail_in(struct mock_host *m, uint64_t n);
/* Fail every allocation attempt from `n` attempts from now on. */
void mock_fail_from_now(struct mock_host *m, uint64_t n);
/* Stop injecting failures. */
void mock_fail_none(struct mock_host *m);

/*
 * Guest RAM: `bytes` (rounded up to pages) of zeroed, page-aligned memory
 * with a fake contiguous host-physical range, translatable both ways but
 * not counted as a library allocation. Returns the hva (NULL on failure).
 */
void *mock_guest_ram_alloc(struct mock_host *m, size_t bytes, uint64_t *hpa);
void mock_guest_ram_free(struct mock_host *m, void *hva);

/*
 * Reserve `bytes` of fake host-physical space with no memory behind it (to
 * map large guest ranges in SLAT tests); phys_to_virt returns NULL there.
 * The result is aligned to `align` (a power of two, at least 4096).
 */
uint64_t mock_reserve_hpa(struct mock_host *m, uint64_t bytes, uint64_t align);

/* Direct access to the translation the mock gives libhv. */
void *mock_phys_to_virt(struct mock_host *m, uint64_t hpa);
uint64_t mock_virt_to_phys(struct mock_host *m, const void *hva);

/* Check the guard bytes of every live object now; returns how many are damaged. */
uint64_t mock_check_guards(struct mock_host *m);

/* Check that quarantined (freed, poisoned) memory was not written; returns damaged blocks. */
uint64_t mock_check_quarantine(struct mock_host *m);

/* The n-th most recent log line (0 = last), or NULL. */
const char *mock_log_line(const struct mock_host *m, unsigned n);
/* Some retained log line contains `needle`. */
bool mock_log_contains(const struct mock_host *m, const char *needle);
void mock_log_clear(struct mock_host *m);

#endif /* MOCK_HOST_H */

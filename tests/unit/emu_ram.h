/*
 * Test helper: a flat guest RAM for walker and emulator tests, with the
 * hv_emu_ops callbacks over it, page-table builders and access counters.
 */
#ifndef TESTS_EMU_RAM_H
#define TESTS_EMU_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/emu.h"

#define EMU_RAM_SIZE (8u << 20) /* guest RAM is gpa [0, 8 MiB) */

/* One recorded MMIO or PIO access. */
struct emu_io_rec {
    uint64_t addr;
    unsigned size;
    bool write;
    uint64_t value;
};

struct emu_ram {
    uint8_t *mem;        /* EMU_RAM_SIZE bytes */
    uint64_t next_table; /* bump allocator for page tables */
    unsigned writes;     /* gpa_write calls */
    unsigned cmpxchgs;   /* gpa_cmpxchg calls */
    int cmpxchg_fail;    /* > 0: fail (HV_ERR_AGAIN) this many more cmpxchg calls; < 0: always */
    /* gpa ranges [mmio_lo, mmio_hi) outside RAM are MMIO backed by mmio_mem. */
    uint64_t mmio_lo, mmio_hi;
    uint8_t *mmio_mem;
    uint64_t ram_hole_lo, ram_hole_hi; /* inside RAM but reported as MMIO (is_ram false) */
    struct emu_io_rec log[64];
    unsigned nlog;
    hv_status_t mmio_status; /* returned by the mmio callback (HV_OK normally) */
    unsigned mmio_fail_in;   /* > 0: the mmio call that brings it to 0 fails with HV_ERR_HOST */
    uint64_t pio_in;         /* value INS reads */
    unsigned mmio_calls, pio_calls;
};

void emu_ram_init(struct emu_ram *r);
void emu_ram_fini(struct emu_ram *r);
/* A zeroed 4 KiB table page in RAM; returns its gpa. */
uint64_t emu_ram_table(struct emu_ram *r);
void emu_ram_w64(struct emu_ram *r, uint64_t gpa, uint64_t v);
uint64_t emu_ram_r64(const struct emu_ram *r, uint64_t gpa);
void emu_ram_w32(struct emu_ram *r, uint64_t gpa, uint32_t v);
uint32_t emu_ram_r32(const struct emu_ram *r, uint64_t gpa);

extern const struct hv_emu_ops emu_ram_ops;            /* with gpa_cmpxchg */
extern const struct hv_emu_ops emu_ram_ops_no_cmpxchg; /* gpa_write for A/D updates */

/* env over @p r; maxphyaddr 46, 1 GiB pages on. */
void emu_ram_env(struct emu_ram *r, struct hv_emu_env *env);

/*
 * Map the 4 KiB page at linear @p la to @p gpa in 4-level paging rooted at
 * CR3 @p cr3 (allocating missing tables), with @p flags on the leaf and
 * P|RW|US on the intermediate entries.
 */
void emu_ram_map4k(struct emu_ram *r, uint64_t cr3, uint64_t la, uint64_t gpa, uint64_t flags);

#endif /* TESTS_EMU_RAM_H */

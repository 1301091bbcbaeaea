/*
 * Test helpers for the loader: a bounded fake guest memory with guard bytes
 * (the sink every test loads through) and a builder of synthetic ELF images
 * with chosen headers, segments and notes.
 */
#ifndef LOADER_UTIL_H
#define LOADER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/image.h>

/* ---- fake guest memory ------------------------------------------------- */

#define FAKE_GUARD 4096u
#define FAKE_FILL  0xa5u
#define GUARD_FILL 0x5au

/* Guest RAM [base, base+size) backed by a buffer with guard pages both sides. */
struct fake_mem {
    uint8_t *raw; /* guard | ram | guard */
    uint8_t *ram;
    uint64_t base, size;
    uint64_t writes, bytes; /* accepted writes and bytes */
    uint64_t rejected;      /* writes refused (outside RAM) */
    int fail_after;         /* >= 0: refuse every write after this many (HV_ERR_HOST) */
    struct hv_image_sink sink;
};

bool fake_mem_init(struct fake_mem *m, uint64_t base, uint64_t size);
void fake_mem_free(struct fake_mem *m);
/* Guard bytes intact. */
bool fake_mem_guards_ok(const struct fake_mem *m);
/* Every RAM byte still holds FAKE_FILL. */
bool fake_mem_untouched(const struct fake_mem *m);
/* Pointer to guest-physical gpa, or NULL if [gpa, gpa+len) is not RAM. */
uint8_t *fake_mem_at(const struct fake_mem *m, uint64_t gpa, uint64_t len);

/* ---- synthetic ELF images ---------------------------------------------- */

struct gen_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

struct gen_elf {
    int cls;          /* 32 or 64 */
    uint16_t machine; /* e_machine */
    uint16_t type;    /* e_type */
    uint64_t entry;
    struct gen_phdr ph[16];
    int nph;
};

/* Writes ehdr (at 0) and phdrs (right after it) into buf; returns the phdr table size. */
size_t gen_write_headers(uint8_t *buf, const struct gen_elf *g);
size_t gen_ehdr_size(int cls);
size_t gen_phdr_size(int cls);

/* Appends a note at buf+off (4-byte alignment); returns its padded size. */
size_t gen_note(uint8_t *buf, size_t off, const char *name, uint32_t type, const void *desc,
                uint32_t descsz);

/*
 * A PVH-style test kernel: two PT_LOAD segments (text at 1 MiB with a bss
 * tail, data at 2 MiB), one zero-size PT_LOAD (skipped), a PT_NOTE with Xen
 * notes (PHYS32_ENTRY of @p entry_size bytes = 0x100040, ENTRY, GUEST_OS
 * "hvtest", LOADER "generic", FEATURES, PHYS32_RELOC) and a GNU note.
 * Returns the image size (< 64 KiB); buf must hold 64 KiB.
 */
#define PVH_IMG_MAX     65536u
#define PVH_IMG_ENTRY   0x100040u
#define PVH_TEXT_PADDR  0x100000u
#define PVH_TEXT_FILESZ 0x1234u
#define PVH_TEXT_MEMSZ  0x3000u
#define PVH_DATA_PADDR  0x200000u
#define PVH_DATA_FILESZ 0x800u
#define PVH_DATA_MEMSZ  0x800u
#define PVH_TEXT_OFF    0x1000u
#define PVH_DATA_OFF    0x3000u
#define PVH_NOTE_OFF    0x4000u
size_t gen_pvh_image(uint8_t *buf, int cls, uint16_t machine, uint32_t entry_size);

/* File offset of program header @p i in an image from gen_write_headers(). */
size_t gen_phdr_off(int cls, int i);

/* Little-endian stores. */
void put16(uint8_t *p, uint16_t v);
void put32(uint8_t *p, uint32_t v);
void put64(uint8_t *p, uint64_t v);
uint32_t get32(const uint8_t *p);
uint64_t get64(const uint8_t *p);

/* gzip @p len bytes with zlib (level, strategy); returns a malloc'd buffer. */
uint8_t *gz_compress(const void *src, size_t len, int level, int strategy, size_t *out_len);

/* Reads tests/unit/data/<name> (found from this source file's path); malloc'd, or NULL. */
uint8_t *loader_read_fixture(const char *name, size_t *len);

/* Allocator for the builtin inflate hook (malloc/free). */
extern const struct hv_inflate_alloc loader_test_alloc;

#endif /* LOADER_UTIL_H */

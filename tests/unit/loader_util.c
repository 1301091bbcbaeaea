/* Test helpers for the loader tests (see loader_util.h). */
#include "loader_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- fake guest memory ------------------------------------------------- */

static hv_status_t fake_write(void *opaque, uint64_t gpa, const void *src, uint64_t len)
{
    struct fake_mem *m = opaque;
    uint8_t *dst;

    if (m->fail_after >= 0 && m->writes >= (uint64_t)m->fail_after) {
        m->rejected++;
        return HV_ERR_HOST;
    }
    dst = fake_mem_at(m, gpa, len);
    if (!dst) {
        m->rejected++;
        return HV_ERR_RANGE;
    }
    if (src)
        memcpy(dst, src, len);
    else
        memset(dst, 0, len);
    m->writes++;
    m->bytes += len;
    return HV_OK;
}

bool fake_mem_init(struct fake_mem *m, uint64_t base, uint64_t size)
{
    memset(m, 0, sizeof(*m));
    m->raw = malloc(size + 2 * FAKE_GUARD);
    if (!m->raw)
        return false;
    memset(m->raw, GUARD_FILL, FAKE_GUARD);
    memset(m->raw + FAKE_GUARD, FAKE_FILL, size);
    memset(m->raw + FAKE_GUARD + size, GUARD_FILL, FAKE_GUARD);
    m->ram = m->raw + FAKE_GUARD;
    m->base = base;
    m->size = size;
    m->fail_after = -1;
    m->sink.opaque = m;
    m->sink.write = fake_write;
    return true;
}

void fake_mem_free(struct fake_mem *m)
{
    free(m->raw);
    m->raw = m->ram = NULL;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v)
            return false;
    }
    return true;
}

bool fake_mem_guards_ok(const struct fake_mem *m)
{
    return all_bytes(m->raw, FAKE_GUARD, GUARD_FILL) &&
           all_bytes(m->ram + m->size, FAKE_GUARD, GUARD_FILL);
}

bool fake_mem_untouched(const struct fake_mem *m)
{
    return all_bytes(m->ram, m->size, FAKE_FILL);
}

uint8_t *fake_mem_at(const struct fake_mem *m, uint64_t gpa, uint64_t len)
{
    if (gpa < m->base || gpa - m->base > m->size || len > m->size - (gpa - m->base))
        return NULL;
    return m->ram + (gpa - m->base);
}

/* ---- little-endian helpers --------------------------------------------- */

void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t get32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- ELF builder (gABI layouts, written field by field) ----------------- */

size_t gen_ehdr_size(int cls)
{
    return cls == 64 ? 64 : 52;
}

size_t gen_phdr_size(int cls)
{
    return cls == 64 ? 56 : 32;
}

size_t gen_phdr_off(int cls, int i)
{
    return gen_ehdr_size(cls) + (size_t)i * gen_phdr_size(cls);
}

size_t gen_write_headers(uint8_t *b, const struct gen_elf *g)
{
    size_t eh = gen_ehdr_size(g->cls), ph = gen_phdr_size(g->cls);

    memset(b, 0, eh);
    b[0] = 0x7f;
    b[1] = 'E';
    b[2] = 'L';
    b[3] = 'F';
    b[4] = g->cls == 64 ? 2 : 1;
    b[5] = 1; /* little-endian */
    b[6] = 1; /* EV_CURRENT */
    put16(b + 16, g->type);
    put16(b + 18, g->machine);
    put32(b + 20, 1);
    if (g->cls == 64) {
        put64(b + 24, g->entry);
        put64(b + 32, eh); /* e_phoff */
        put64(b + 40, 0);  /* e_shoff */
        put16(b + 52, (uint16_t)eh);
        put16(b + 54, (uint16_t)ph);
        put16(b + 56, (uint16_t)g->nph);
        put16(b + 58, 64);
    } else {
        put32(b + 24, (uint32_t)g->entry);
        put32(b + 28, (uint32_t)eh);
        put32(b + 32, 0);
        put16(b + 40, (uint16_t)eh);
        put16(b + 42, (uint16_t)ph);
        put16(b + 44, (uint16_t)g->nph);
        put16(b + 46, 40);
    }
    for (int i = 0; i < g->nph; i++) {
        uint8_t *p = b + gen_phdr_off(g->cls, i);
        const struct gen_phdr *s = &g->ph[i];
        memset(p, 0, ph);
        put32(p, s->type);
        if (g->cls == 64) {
            put32(p + 4, s->flags);
            put64(p + 8, s->offset);
            put64(p + 16, s->vaddr);
            put64(p + 24, s->paddr);
            put64(p + 32, s->filesz);
            put64(p + 40, s->memsz);
            put64(p + 48, s->align);
        } else {
            put32(p + 4, (uint32_t)s->offset);
            put32(p + 8, (uint32_t)s->vaddr);
            put32(p + 12, (uint32_t)s->paddr);
            put32(p + 16, (uint32_t)s->filesz);
            put32(p + 20, (uint32_t)s->memsz);
            put32(p + 24, s->flags);
            put32(p + 28, (uint32_t)s->align);
        }
    }
    return (size_t)g->nph * ph;
}

size_t gen_note(uint8_t *buf, size_t off, const char *name, uint32_t type, const void *desc,
                uint32_t descsz)
{
    uint32_t namesz = (uint32_t)strlen(name) + 1;
    size_t npad = (namesz + 3) & ~3u, dpad = (descsz + 3) & ~3u;
    uint8_t *p = buf + off;

    memset(p, 0, 12 + npad + dpad);
    put32(p, namesz);
    put32(p + 4, descsz);
    put32(p + 8, type);
    memcpy(p + 12, name, namesz);
    if (descsz)
        memcpy(p + 12 + npad, desc, descsz);
    return 12 + npad + dpad;
}

size_t gen_pvh_image(uint8_t *buf, int cls, uint16_t machine, uint32_t entry_size)
{
    struct gen_elf g = {.cls = cls, .machine = machine, .type = 2};
    uint64_t vbase = cls == 64 ? 0xffffffff80000000ull : 0xc0000000ull;
    uint8_t v[8];
    size_t n = 0;
    static const char features[] = "!writable_page_tables|pae_pgdir_above_4gb";
    static const uint8_t reloc[12] = {0, 0, 0x20, 0, 0, 0, 0x10, 0, 0xff, 0xff, 0xff, 0xff};

    memset(buf, 0, PVH_IMG_MAX);
    for (size_t o = PVH_TEXT_OFF; o < PVH_TEXT_OFF + PVH_TEXT_FILESZ; o++)
        buf[o] = (uint8_t)(o * 131 + 7);
    for (size_t o = PVH_DATA_OFF; o < PVH_DATA_OFF + PVH_DATA_FILESZ; o++)
        buf[o] = (uint8_t)(o * 37 + 11);

    /* Notes: Xen ones plus a foreign GNU one that must be ignored. */
    put64(v, PVH_IMG_ENTRY);
    n += gen_note(buf, PVH_NOTE_OFF + n, "Xen", HV_XEN_ELFNOTE_PHYS32_ENTRY, v, entry_size);
    put64(v, vbase + PVH_TEXT_PADDR);
    n += gen_note(buf, PVH_NOTE_OFF + n, "Xen", HV_XEN_ELFNOTE_ENTRY, v, cls == 64 ? 8 : 4);
    n += gen_note(buf, PVH_NOTE_OFF + n, "Xen", HV_XEN_ELFNOTE_GUEST_OS, "hvtest", 7);
    n += gen_note(buf, PVH_NOTE_OFF + n, "GNU", 3, "0123456789abcdefghij", 20);
    n += gen_note(buf, PVH_NOTE_OFF + n, "Xen", HV_XEN_ELFNOTE_LOADER, "generic", 8);
    n +=
        gen_note(buf, PVH_NOTE_OFF + n, "Xen", HV_XEN_ELFNOTE_FEATURES, features, sizeof(features));
    n += gen_note(buf, PVH_NOTE_OFF + n, "Xen", HV_XEN_ELFNOTE_PHYS32_RELOC, reloc, 12);
    n += gen_note(buf, PVH_NOTE_OFF + n, "Xen", 0x1000001, "crash", 6); /* unknown type */

    g.entry = vbase + PVH_TEXT_PADDR + 0x40;
    g.nph = 4;
    g.ph[0] = (struct gen_phdr){1,
                                5,
                                PVH_TEXT_OFF,
                                vbase + PVH_TEXT_PADDR,
                                PVH_TEXT_PADDR,
                                PVH_TEXT_FILESZ,
                                PVH_TEXT_MEMSZ,
                                0x1000};
    g.ph[1] = (struct gen_phdr){1, 6, 0, vbase + 0x300000, 0x300000, 0, 0, 0x1000};
    g.ph[2] = (struct gen_phdr){1,
                                6,
                                PVH_DATA_OFF,
                                vbase + PVH_DATA_PADDR,
                                PVH_DATA_PADDR,
                                PVH_DATA_FILESZ,
                                PVH_DATA_MEMSZ,
                                0x1000};
    g.ph[3] = (struct gen_phdr){4, 4, PVH_NOTE_OFF, 0, 0, n, n, 4};
    gen_write_headers(buf, &g);
    return PVH_NOTE_OFF + n;
}

/* ---- zlib and allocation helpers --------------------------------------- */

uint8_t *gz_compress(const void *src, size_t len, int level, int strategy, size_t *out_len)
{
    z_stream zs = {0};
    size_t cap;
    uint8_t *out;

    if (deflateInit2(&zs, level, Z_DEFLATED, 16 + 15, 8, strategy) != Z_OK)
        return NULL;
    cap = deflateBound(&zs, len) + 64;
    out = malloc(cap);
    zs.next_in = (Bytef *)src;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (!out || deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&zs);
        free(out);
        return NULL;
    }
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static void *test_alloc(void *opaque, size_t size)
{
    (void)opaque;
    return malloc(size);
}

static void test_free(void *opaque, void *p, size_t size)
{
    (void)opaque;
    (void)size;
    free(p);
}

const struct hv_inflate_alloc loader_test_alloc = {NULL, test_alloc, test_free};

/* ---- fixtures ---------------------------------------------------------- */

/* Reads tests/unit/data/<name>, located from this source file's path. */
uint8_t *loader_read_fixture(const char *name, size_t *len)
{
    char path[4096];
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__) : 1;
    FILE *f;
    long size;
    uint8_t *buf = NULL;

    snprintf(path, sizeof(path), "%.*s/data/%s", dir, slash ? __FILE__ : ".", name);
    f = fopen(path, "rb");
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size);
        if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)size;
    }
    fclose(f);
    return buf;
}

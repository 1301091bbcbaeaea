/* Test helper: flat guest RAM with hv_emu_ops callbacks (see emu_ram.h). */
#include "emu_ram.h"

#include <stdlib.h>
#include <string.h>

void emu_ram_init(struct emu_ram *r)
{
    memset(r, 0, sizeof(*r));
    r->mem = calloc(1, EMU_RAM_SIZE);
    r->next_table = 0x100000;
    if (!r->mem)
        abort();
}

void emu_ram_fini(struct emu_ram *r)
{
    free(r->mem);
    free(r->mmio_mem);
    r->mem = NULL;
    r->mmio_mem = NULL;
}

uint64_t emu_ram_table(struct emu_ram *r)
{
    uint64_t gpa = r->next_table;
    if (gpa + 4096 > EMU_RAM_SIZE)
        abort();
    r->next_table += 4096;
    memset(r->mem + gpa, 0, 4096);
    return gpa;
}

void emu_ram_w64(struct emu_ram *r, uint64_t gpa, uint64_t v)
{
    memcpy(r->mem + gpa, &v, 8);
}

uint64_t emu_ram_r64(const struct emu_ram *r, uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, r->mem + gpa, 8);
    return v;
}

void emu_ram_w32(struct emu_ram *r, uint64_t gpa, uint32_t v)
{
    memcpy(r->mem + gpa, &v, 4);
}

uint32_t emu_ram_r32(const struct emu_ram *r, uint64_t gpa)
{
    uint32_t v;
    memcpy(&v, r->mem + gpa, 4);
    return v;
}

static bool in_ram(const struct emu_ram *r, uint64_t gpa, size_t len)
{
    return gpa < EMU_RAM_SIZE && len <= EMU_RAM_SIZE - gpa &&
           !(gpa < r->ram_hole_hi && gpa + len > r->ram_hole_lo);
}

static hv_status_t ram_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    struct emu_ram *r = opaque;
    if ((gpa & 4095) + len > 4096)
        abort(); /* the emulator promises never to cross a page */
    if (!in_ram(r, gpa, len))
        return HV_ERR_GUEST_FAULT;
    memcpy(buf, r->mem + gpa, len);
    return HV_OK;
}

static hv_status_t ram_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    struct emu_ram *r = opaque;
    if ((gpa & 4095) + len > 4096)
        abort();
    if (!in_ram(r, gpa, len))
        return HV_ERR_GUEST_FAULT;
    r->writes++;
    memcpy(r->mem + gpa, buf, len);
    return HV_OK;
}

static hv_status_t ram_cmpxchg(void *opaque, uint64_t gpa, unsigned size, uint64_t expected,
                               uint64_t desired)
{
    struct emu_ram *r = opaque;
    uint64_t cur = 0;
    r->cmpxchgs++;
    if (!in_ram(r, gpa, size) || (size != 4 && size != 8))
        return HV_ERR_GUEST_FAULT;
    if (r->cmpxchg_fail) {
        if (r->cmpxchg_fail > 0)
            r->cmpxchg_fail--;
        return HV_ERR_AGAIN;
    }
    memcpy(&cur, r->mem + gpa, size);
    if (cur != expected)
        return HV_ERR_AGAIN;
    r->writes++;
    memcpy(r->mem + gpa, &desired, size);
    return HV_OK;
}

static bool ram_is_ram(void *opaque, uint64_t gpa)
{
    return in_ram(opaque, gpa, 1);
}

static hv_status_t ram_mmio(void *opaque, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    struct emu_ram *r = opaque;
    struct emu_io_rec *e = NULL;
    r->mmio_calls++;
    if (size != 1 && size != 2 && size != 4 && size != 8)
        abort();
    if ((gpa & 4095) + size > 4096)
        abort();
    if (r->nlog < 64) {
        e = &r->log[r->nlog++];
        e->addr = gpa;
        e->size = size;
        e->write = write;
        e->value = write ? *value : 0;
    }
    if (r->mmio_status != HV_OK)
        return r->mmio_status;
    if (r->mmio_fail_in && --r->mmio_fail_in == 0)
        return HV_ERR_HOST;
    if (r->mmio_mem && gpa >= r->mmio_lo && gpa + size <= r->mmio_hi) {
        uint8_t *p = r->mmio_mem + (gpa - r->mmio_lo);
        if (write) {
            memcpy(p, value, size);
        } else {
            *value = 0;
            memcpy(value, p, size);
        }
    } else if (!write) {
        *value = ~0ull; /* open bus; the emulator must truncate */
    }
    if (!write && e)
        e->value = *value;
    return HV_OK;
}

static hv_status_t ram_pio(void *opaque, uint16_t port, unsigned size, bool write, uint64_t *value)
{
    struct emu_ram *r = opaque;
    r->pio_calls++;
    if (size != 1 && size != 2 && size != 4)
        abort();
    if (r->nlog < 64) {
        struct emu_io_rec *e = &r->log[r->nlog++];
        e->addr = port;
        e->size = size;
        e->write = write;
        e->value = write ? *value : r->pio_in;
    }
    if (!write)
        *value = r->pio_in | ~0ull << 32; /* garbage above the size: must be dropped */
    return HV_OK;
}

const struct hv_emu_ops emu_ram_ops = {
    .gpa_read = ram_read,
    .gpa_write = ram_write,
    .gpa_cmpxchg = ram_cmpxchg,
    .is_ram = ram_is_ram,
    .mmio = ram_mmio,
    .pio = ram_pio,
};

const struct hv_emu_ops emu_ram_ops_no_cmpxchg = {
    .gpa_read = ram_read,
    .gpa_write = ram_write,
    .is_ram = ram_is_ram,
    .mmio = ram_mmio,
    .pio = ram_pio,
};

void emu_ram_env(struct emu_ram *r, struct hv_emu_env *env)
{
    memset(env, 0, sizeof(*env));
    env->ops = &emu_ram_ops;
    env->opaque = r;
    env->maxphyaddr = 46;
    env->gbpages = true;
}

void emu_ram_map4k(struct emu_ram *r, uint64_t cr3, uint64_t la, uint64_t gpa, uint64_t flags)
{
    uint64_t table = cr3 & ~0xfffull;
    for (int level = 4; level > 1; level--) {
        uint64_t slot = table + ((la >> (12 + 9 * (level - 1))) & 0x1ff) * 8;
        uint64_t e = emu_ram_r64(r, slot);
        if (!(e & 1)) {
            e = emu_ram_table(r) | 7;
            emu_ram_w64(r, slot, e);
        }
        table = e & 0x000ffffffffff000ull;
    }
    emu_ram_w64(r, table + ((la >> 12) & 0x1ff) * 8, (gpa & ~0xfffull) | flags);
}

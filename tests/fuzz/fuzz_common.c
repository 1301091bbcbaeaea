/* fuzz_common.h */
#include "fuzz_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t fz_u8(struct fz *f)
{
    if (!f->n)
        return 0;
    f->n--;
    return *f->p++;
}

static uint64_t fz_le(struct fz *f, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)fz_u8(f) << (8 * i);
    return v;
}

uint16_t fz_u16(struct fz *f)
{
    return (uint16_t)fz_le(f, 2);
}

uint32_t fz_u32(struct fz *f)
{
    return (uint32_t)fz_le(f, 4);
}

uint64_t fz_u64(struct fz *f)
{
    return fz_le(f, 8);
}

size_t fz_bytes(struct fz *f, void *dst, size_t len)
{
    size_t k = len < f->n ? len : f->n;
    memcpy(dst, f->p, k);
    memset((uint8_t *)dst + k, 0, len - k);
    f->p += k;
    f->n -= k;
    return k;
}

void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FUZZ INVARIANT BROKEN: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void fz_check_clean(struct mock_host *m, const char *where)
{
    fz_check_clean_from(m, 0, 0, where);
}

void fz_check_clean_from(struct mock_host *m, uint64_t pages, uint64_t objs, const char *where)
{
    /* Freed (poisoned) blocks are checked when they leave the quarantine
       ring and by fz_check_quarantine(); scanning all of them after every
       input would cost more than the input. */
    uint64_t guards = mock_check_guards(m);
    FZ_CHECK(guards == 0, "%s: %llu damaged guards", where, (unsigned long long)guards);
    FZ_CHECK(m->pages_out == pages && m->objs_out == objs && m->errors == 0,
             "%s: leak or misuse: pages %llu (want %llu) objs %llu (want %llu) errors %llu (%s)",
             where, (unsigned long long)m->pages_out, (unsigned long long)pages,
             (unsigned long long)m->objs_out, (unsigned long long)objs,
             (unsigned long long)m->errors, m->last_error);
}

void fz_check_quarantine(struct mock_host *m, const char *where)
{
    uint64_t poison = mock_check_quarantine(m);
    FZ_CHECK(poison == 0, "%s: %llu freed blocks written after their free", where,
             (unsigned long long)poison);
}

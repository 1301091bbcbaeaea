/* Freestanding memory, string and formatting primitives (see util.h). */
#include "core/util.h"

/*
 * Small buffers (guest-visible structs, log lines) go through word and
 * byte loops; blocks of REP_MIN bytes or more (PVH images, permission
 * maps, pages) through REP STOSQ / MOVSQ, which the CPU's fast-string
 * operation runs a cache line at a time (SDM Vol. 1 7.3.9.3) and which
 * keeps the architectural element-by-element result when the buffers
 * overlap. DF is 0 at every call (System V ABI). The compiler is told not
 * to turn the loops back into calls to memset/memcpy
 * (-fno-tree-loop-distribute-patterns, -fno-builtin).
 */
#define REP_MIN 256

/* AddressSanitizer cannot see inside inline assembly: sanitized builds
   (the fuzz targets, the ASan+UBSan test tree) take the loops, which it
   checks access by access. */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define USE_REP_STRINGS 0
#else
#define USE_REP_STRINGS 1
#endif

void hv_memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    /* Word stores in the middle: exit paths clear structs of a few hundred bytes. */
    while (n && ((uintptr_t)d & 7)) {
        *d++ = (unsigned char)c;
        n--;
    }
    typedef uint64_t __attribute__((may_alias)) word_t; /* stores into any object type */
    word_t w = 0x0101010101010101ull * (unsigned char)c;
    if (USE_REP_STRINGS && n >= REP_MIN) {
        size_t words = n / 8;
        __asm__ volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(w) : "memory");
        n &= 7;
    }
    for (; n >= 32; n -= 32, d += 32) {
        word_t *dw = (word_t *)(void *)d;
        dw[0] = w;
        dw[1] = w;
        dw[2] = w;
        dw[3] = w;
    }
    for (; n >= 8; n -= 8, d += 8)
        *(word_t *)(void *)d = w;
    while (n--)
        *d++ = (unsigned char)c;
}

/* Unaligned 8-byte accesses (x86 allows them; aligned(1) tells the
   compiler and UBSan so) into and out of any object type (may_alias). */
typedef uint64_t __attribute__((may_alias, aligned(1))) unaligned_word_t;

/*
 * Copy upwards: a large block by REP MOVSQ, else 32 bytes per iteration,
 * then words, then bytes. Each 32-byte block is loaded whole before it is
 * stored, so an overlap with dst below src is copied right too (the
 * stores stay below the next block's loads), as REP MOVSQ's is:
 * hv_memmove uses it for that direction.
 */
static void copy_up(unsigned char *d, const unsigned char *s, size_t n)
{
    if (USE_REP_STRINGS && n >= REP_MIN) {
        size_t words = n / 8;
        __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(words) : : "memory");
        n &= 7;
    }
    for (; n >= 32; n -= 32, d += 32, s += 32) {
        const unaligned_word_t *sw = (const unaligned_word_t *)(const void *)s;
        unaligned_word_t *dw = (unaligned_word_t *)(void *)d;
        uint64_t w0 = sw[0], w1 = sw[1], w2 = sw[2], w3 = sw[3];
        dw[0] = w0;
        dw[1] = w1;
        dw[2] = w2;
        dw[3] = w3;
    }
    for (; n >= 8; n -= 8, d += 8, s += 8) {
        uint64_t w = *(const unaligned_word_t *)(const void *)s;
        *(unaligned_word_t *)(void *)d = w;
    }
    while (n--)
        *d++ = *s++;
}

/* The mirror image of copy_up, from the ends downwards: for dst above an
   overlapping src. */
static void copy_down(unsigned char *d, const unsigned char *s, size_t n)
{
    d += n;
    s += n;
    for (; n >= 32; n -= 32) {
        d -= 32;
        s -= 32;
        const unaligned_word_t *sw = (const unaligned_word_t *)(const void *)s;
        unaligned_word_t *dw = (unaligned_word_t *)(void *)d;
        uint64_t w0 = sw[0], w1 = sw[1], w2 = sw[2], w3 = sw[3];
        dw[3] = w3;
        dw[2] = w2;
        dw[1] = w1;
        dw[0] = w0;
    }
    for (; n >= 8; n -= 8) {
        d -= 8;
        s -= 8;
        uint64_t w = *(const unaligned_word_t *)(const void *)s;
        *(unaligned_word_t *)(void *)d = w;
    }
    while (n--)
        *--d = *--s;
}

/* Word copies whatever the alignment: the PVH load copies whole images,
   the Xen layer small structures at any guest offset. */
void hv_memcpy(void *dst, const void *src, size_t n)
{
    copy_up(dst, src, n);
}

void hv_memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d == s || n == 0)
        return;
    if (d < s || d >= s + n)
        copy_up(d, s, n);
    else
        copy_down(d, s, n);
}

int hv_memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t hv_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t hv_strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int hv_strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

size_t hv_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = hv_strlen(src);
    if (size) {
        size_t n = len < size - 1 ? len : size - 1;
        hv_memcpy(dst, src, n);
        dst[n] = 0;
    }
    return len;
}

/* Output cursor for hv_vsnprintf: counts every character, stores what fits. */
struct fmt_out {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct fmt_out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct fmt_out *o, uint64_t v, unsigned base, bool upper, bool neg, int width,
                    char pad)
{
    char tmp[24];
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    for (int i = n; i < width; i++)
        put(o, pad);
    while (n)
        put(o, tmp[--n]);
}

int hv_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct fmt_out o = {buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        bool alt = false;
        for (;; fmt++) {
            if (*fmt == '0')
                pad = '0';
            else if (*fmt == '#')
                alt = true;
            else
                break;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z') {
            longs += *fmt == 'z' ? 2 : 1;
            fmt++;
        }
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = longs ? va_arg(ap, long long) : va_arg(ap, int);
            bool neg = v < 0;
            put_num(&o, neg ? 0 - (uint64_t)v : (uint64_t)v, 10, false, neg, width, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            if (alt && *fmt != 'u') {
                put(&o, '0');
                put(&o, 'x');
            }
            put_num(&o, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', false, width, pad);
            break;
        }
        case 'p':
            put(&o, '0');
            put(&o, 'x');
            put_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, false, false, width, pad);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            while (*s)
                put(&o, *s++);
            break;
        }
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case '%':
            put(&o, '%');
            break;
        case 0:
            fmt--;
            break;
        default:
            put(&o, '%');
            put(&o, *fmt);
            break;
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}

int hv_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = hv_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

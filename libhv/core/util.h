/*
 * Freestanding helpers shared by all of libhv: memory and string primitives
 * (the library links against no libc, so it cannot call memcpy & co.),
 * overflow-checked arithmetic and alignment helpers.
 */
#ifndef HV_CORE_UTIL_H
#define HV_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HV_ARRAY_SIZE(a)     (sizeof(a) / sizeof((a)[0]))
#define HV_ALIGNED(x, a)     ((((uint64_t)(x)) & ((uint64_t)(a)-1)) == 0)
#define HV_ALIGN_DOWN(x, a)  (((uint64_t)(x)) & ~((uint64_t)(a)-1))
#define HV_ALIGN_UP(x, a)    HV_ALIGN_DOWN((uint64_t)(x) + (uint64_t)(a)-1, a)
#define HV_MIN(a, b)         ((a) < (b) ? (a) : (b))
#define HV_MAX(a, b)         ((a) > (b) ? (a) : (b))
#define HV_BIT(n)            (1ull << (n))
#define HV_STATIC_ASSERT(c, msg) _Static_assert(c, msg)
#define HV_UNLIKELY(x)       __builtin_expect(!!(x), 0)
#define HV_LIKELY(x)         __builtin_expect(!!(x), 1)

/* Canonical for a linear-address width of @p bits (48, or 57 with 5-level
   paging): bits 63 down to bits - 1 all equal (SDM Vol. 1 3.3.7.1). */
static inline bool hv_canonical(uint64_t a, unsigned bits)
{
    unsigned sh = 64 - bits;
    return (uint64_t)((int64_t)(a << sh) >> sh) == a;
}

void hv_memset(void *dst, int c, size_t n);
void hv_memcpy(void *dst, const void *src, size_t n);
void hv_memmove(void *dst, const void *src, size_t n);
int hv_memcmp(const void *a, const void *b, size_t n);
size_t hv_strlen(const char *s);
size_t hv_strnlen(const char *s, size_t max);
int hv_strcmp(const char *a, const char *b);
/* Copies at most size-1 bytes and always NUL-terminates (size > 0). */
size_t hv_strlcpy(char *dst, const char *src, size_t size);

/* Two adjacent bool flags in one 16-bit load, for hot paths that test
   both at once (the pair may start at an odd offset: a copy, not a cast,
   so that the unaligned access is defined; it compiles to one load). */
static inline uint16_t hv_flag_pair(const bool *first)
{
    uint16_t v;
    __builtin_memcpy(&v, first, sizeof(v));
    return v;
}

/* a + b without wrapping: false when the sum overflows 64 bits. */
static inline bool hv_add_overflows(uint64_t a, uint64_t b, uint64_t *sum)
{
    return __builtin_add_overflow(a, b, sum);
}

/* [base, base+len) is non-empty and its end does not pass 2^64. */
static inline bool hv_range_valid(uint64_t base, uint64_t len)
{
    uint64_t end;
    return len != 0 && !hv_add_overflows(base, len - 1, &end);
}

/*
 * snprintf subset for log messages: %d %i %u %x %X %p %s %c %%, with the
 * l/ll/z length modifiers, the '0' and '#' flags and a field width. Always NUL-terminates;
 * returns the number of characters written (excluding the NUL).
 */
#include <stdarg.h>
int hv_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int hv_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* HV_CORE_UTIL_H */

/*
 * The four functions GCC may call even in freestanding code, for struct
 * copies and large initializers (GCC manual, "Language Standards Supported
 * by GCC"). The kernel provides them for itself and for libhv. String
 * instructions keep the compiler from turning a copy loop back into a call
 * to the very function it is in.
 */
#include <stddef.h>

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    /* Eight bytes per iteration (the page zeroing of the object caches is
       the bulk), the tail byte-wise. */
    size_t words = n / 8, tail = n % 8;
    unsigned long v = (unsigned char)c * 0x0101010101010101ul;
    __asm__ volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(v) : "memory");
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(tail) : "a"(v) : "memory");
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (n == 0 || d <= s || d >= s + n)
        return memcpy(dst, src, n);
    /* dst overlaps src from above: copy backwards (DF=1), last byte first. */
    d += n - 1;
    s += n - 1;
    __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] - y[i];
    return 0;
}

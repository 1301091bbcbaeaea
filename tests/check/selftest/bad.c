/*
 * Deliberately not freestanding: the checker's self-test builds this into an
 * archive and expects check-freestanding.sh to reject it, naming the libc
 * call, the stack-protector reference and the SSE/x87 instructions.
 */
#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);

void selftest_copy(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
}

double selftest_scale(double x)
{
    return x * 0.5;
}

long double selftest_x87(long double x)
{
    return x + 1.0L;
}

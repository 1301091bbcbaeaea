/* The freestanding primitives of libhv/core/util.c against libc as oracle. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static void check_fmt(const char *fmt, ...)
{
    char ours[128], theirs[128];
    va_list a, b;
    va_start(a, fmt);
    va_copy(b, a);
    int n1 = hv_vsnprintf(ours, sizeof(ours), fmt, a);
    int n2 = vsnprintf(theirs, sizeof(theirs), fmt, b);
    va_end(a);
    va_end(b);
    CU_ASSERT_STRING_EQUAL(ours, theirs);
    CU_ASSERT_EQUAL(n1, n2);
    if (strcmp(ours, theirs) != 0)
        fprintf(stderr, "fmt '%s': '%s' vs '%s'\n", fmt, ours, theirs);
}

static void test_format(void)
{
    check_fmt("plain");
    check_fmt("%d %i %u", -5, 42, 7u);
    check_fmt("%x %X %#x %08x %#llx", 0xabcu, 0xabcu, 0x1fu, 0x2au, 0x123456789abcull);
    check_fmt("%lld %llu %zu", -9223372036854775807ll - 1, 18446744073709551615ull, (size_t)77);
    check_fmt("%5d|%s|%c|%%", 12, "str", 'q');
    check_fmt("%016llx", 0xfeedull);
    char small[8];
    int n = hv_snprintf(small, sizeof(small), "%s", "0123456789");
    CU_ASSERT_EQUAL(n, 10);
    CU_ASSERT_STRING_EQUAL(small, "0123456");
    CU_ASSERT_EQUAL(hv_snprintf(NULL, 0, "%d", 1234), 4);
    char buf[16];
    const char *volatile nothing = NULL;
    hv_snprintf(buf, sizeof(buf), "%s", nothing);
    CU_ASSERT_STRING_EQUAL(buf, "(null)");
}

static void test_memory(void)
{
    /* Every overlap distance and source/destination alignment up to 40
       bytes, lengths across the 32-byte blocks, the words and the bytes,
       in both directions; memcpy from misaligned sources too. */
    enum { N = 192 };
    unsigned char a[N], b[N], c[N];
    for (int i = 0; i < N; i++)
        a[i] = (unsigned char)(i * 7 + 1);
    for (int off = 0; off < 41; off++) {
        for (int len = 0; len <= N - 41; len += len < 80 ? 1 : 13) {
            memcpy(b, a, N);
            hv_memmove(b + off, b, len);
            memcpy(c, a, N);
            memmove(c + off, c, len);
            CU_ASSERT_EQUAL(memcmp(b, c, N), 0);
            memcpy(b, a, N);
            hv_memmove(b, b + off, len);
            memcpy(c, a, N);
            memmove(c, c + off, len);
            CU_ASSERT_EQUAL(memcmp(b, c, N), 0);
            memset(b, 0, N);
            hv_memcpy(b + off, a, len);
            memset(c, 0, N);
            memcpy(c + off, a, len);
            CU_ASSERT_EQUAL(memcmp(b, c, N), 0);
            memset(b, 0, N);
            hv_memcpy(b + 3, a + off, len);
            memset(c, 0, N);
            memcpy(c + 3, a + off, len);
            CU_ASSERT_EQUAL(memcmp(b, c, N), 0);
        }
    }
    /* Blocks from REP_MIN (256) bytes on take REP MOVSQ in an
       unsanitized build: overlaps closer than a word and than a block. */
    enum { L = 1024 };
    static unsigned char la[L], lb[L], lc[L];
    for (int i = 0; i < L; i++)
        la[i] = (unsigned char)(i * 13 + 5);
    static const int offs[] = {0, 1, 3, 7, 8, 9, 31, 32, 33, 255, 256, 300};
    for (unsigned k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
        int off = offs[k];
        for (int len = 250; len <= L - 300; len += 37) {
            memcpy(lb, la, L);
            hv_memmove(lb + off, lb, len);
            memcpy(lc, la, L);
            memmove(lc + off, lc, len);
            CU_ASSERT_EQUAL(memcmp(lb, lc, L), 0);
            memcpy(lb, la, L);
            hv_memmove(lb, lb + off, len);
            memcpy(lc, la, L);
            memmove(lc, lc + off, len);
            CU_ASSERT_EQUAL(memcmp(lb, lc, L), 0);
            memset(lb, 0, L);
            hv_memcpy(lb + off, la + 5, len);
            memset(lc, 0, L);
            memcpy(lc + off, la + 5, len);
            CU_ASSERT_EQUAL(memcmp(lb, lc, L), 0);
            memset(lb, 1, L);
            hv_memset(lb + off, 0x3c, len);
            memset(lc, 1, L);
            memset(lc + off, 0x3c, len);
            CU_ASSERT_EQUAL(memcmp(lb, lc, L), 0);
        }
    }
    hv_memset(b, 0x5a, 64);
    for (int i = 0; i < 64; i++)
        CU_ASSERT_EQUAL(b[i], 0x5a);
    for (int off = 0; off < 9; off++) {
        for (int len = 0; len < 40; len++) {
            memset(b, 1, 64);
            memset(c, 1, 64);
            hv_memset(b + off, 0xe7, len);
            memset(c + off, 0xe7, len);
            CU_ASSERT_EQUAL(memcmp(b, c, 64), 0);
        }
    }
    CU_ASSERT(hv_memcmp("abc", "abd", 3) < 0);
    CU_ASSERT(hv_memcmp("abd", "abc", 3) > 0);
    CU_ASSERT_EQUAL(hv_memcmp("abc", "abc", 3), 0);
}

static void test_strings(void)
{
    CU_ASSERT_EQUAL(hv_strlen(""), 0);
    CU_ASSERT_EQUAL(hv_strlen("abc"), 3);
    CU_ASSERT_EQUAL(hv_strnlen("abcdef", 4), 4);
    CU_ASSERT(hv_strcmp("svm", "svm") == 0);
    CU_ASSERT(hv_strcmp("svm", "vmx") < 0);
    char d[4];
    CU_ASSERT_EQUAL(hv_strlcpy(d, "abcdef", sizeof(d)), 6);
    CU_ASSERT_STRING_EQUAL(d, "abc");
}

static void test_ranges(void)
{
    uint64_t s;
    CU_ASSERT(!hv_add_overflows(1, 2, &s) && s == 3);
    CU_ASSERT(hv_add_overflows(UINT64_MAX, 1, &s));
    CU_ASSERT(!hv_range_valid(0, 0));
    CU_ASSERT(hv_range_valid(UINT64_MAX, 1));
    CU_ASSERT(!hv_range_valid(UINT64_MAX, 2));
    CU_ASSERT_EQUAL(HV_ALIGN_UP(4097, 4096), 8192);
    CU_ASSERT_EQUAL(HV_ALIGN_DOWN(8191, 4096), 4096);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("util", NULL, NULL);
    CU_add_test(s, "formatting vs libc", test_format);
    CU_add_test(s, "memory primitives vs libc", test_memory);
    CU_add_test(s, "strings", test_strings);
    CU_add_test(s, "ranges and alignment", test_ranges);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

/*
 * gzip images and the freestanding inflate: compressed images load exactly
 * like plain ones through both the zlib hook and the builtin one, bombs and
 * corrupt streams are refused, and hv_gunzip() agrees with zlib (the
 * oracle) on compressed random data, on mutated streams and on every .gz
 * file under /usr/share/doc.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "loader/inflate_zlib.h"
#include "loader_util.h"

static uint8_t plain[PVH_IMG_MAX];

static void load_and_compare(const void *bytes, size_t len, const struct hv_inflate_ops *ops,
                             const struct fake_mem *ref, size_t plain_len)
{
    struct hv_image img;
    struct fake_mem m;

    CU_ASSERT_FATAL(fake_mem_init(&m, 0, 4u << 20));
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, bytes, len, NULL, ops), HV_OK);
    CU_ASSERT_EQUAL(img.compression, HV_IMAGE_GZIP);
    CU_ASSERT_EQUAL(img.stored_size, len);
    CU_ASSERT_EQUAL(img.size, plain_len);
    CU_ASSERT_EQUAL(memcmp(img.data, plain, plain_len), 0);
    CU_ASSERT_TRUE(img.has_phys32_entry);
    CU_ASSERT_STRING_EQUAL(img.xen[HV_XEN_ELFNOTE_GUEST_OS].str, "hvtest");
    CU_ASSERT_EQUAL(hv_image_load(&img, &m.sink), HV_OK);
    CU_ASSERT_EQUAL(m.writes, ref->writes);
    CU_ASSERT_EQUAL(memcmp(m.raw, ref->raw, m.size + 2 * FAKE_GUARD), 0);
    hv_image_close(&img);
    fake_mem_free(&m);
}

static void test_gzip_image_loads_like_plain(void)
{
    struct hv_inflate_ops builtin;
    struct hv_image img;
    struct fake_mem ref;
    size_t n, gz_len;

    hv_inflate_builtin_ops(&builtin, &loader_test_alloc);
    for (int cls = 32; cls <= 64; cls += 32) {
        n = gen_pvh_image(plain, cls, HV_ELF_EM_X86_64, 4);
        CU_ASSERT_FATAL(fake_mem_init(&ref, 0, 4u << 20));
        CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, plain, n, NULL, NULL), HV_OK);
        CU_ASSERT_EQUAL_FATAL(hv_image_load(&img, &ref.sink), HV_OK);
        hv_image_close(&img);
        for (int level = 1; level <= 9; level += 8) {
            uint8_t *gz = gz_compress(plain, n, level, Z_DEFAULT_STRATEGY, &gz_len);
            CU_ASSERT_PTR_NOT_NULL_FATAL(gz);
            CU_ASSERT(gz_len < n);
            load_and_compare(gz, gz_len, &hv_inflate_zlib_ops, &ref, n);
            load_and_compare(gz, gz_len, &builtin, &ref, n);
            free(gz);
        }
        fake_mem_free(&ref);
    }
}

static void test_gzip_refusals(void)
{
    struct hv_inflate_ops builtin;
    struct hv_image_limits lim = {.max_inflated = 1u << 20};
    const struct hv_inflate_ops *hooks[2] = {&hv_inflate_zlib_ops, &builtin};
    struct hv_image img;
    hv_status_t st;
    size_t n = gen_pvh_image(plain, 64, HV_ELF_EM_X86_64, 4), gz_len, bomb_len;
    uint8_t *gz = gz_compress(plain, n, 6, Z_DEFAULT_STRATEGY, &gz_len);
    size_t zeros_len = 64u << 20;
    uint8_t *zeros = calloc(1, zeros_len);
    uint8_t *bomb = gz_compress(zeros, zeros_len, 9, Z_DEFAULT_STRATEGY, &bomb_len);

    CU_ASSERT_FATAL(gz && zeros && bomb);
    hv_inflate_builtin_ops(&builtin, &loader_test_alloc);
    /* No hook: refused, not misparsed as ELF. */
    CU_ASSERT_EQUAL(hv_image_open(&img, gz, gz_len, NULL, NULL), HV_ERR_UNSUPPORTED);
    CU_ASSERT_STRING_EQUAL(img.reason, "gzip-compressed image but no decompression hook");
    hv_image_close(&img);
    for (int h = 0; h < 2; h++) {
        /* 64 MiB of zeros in ~64 KiB: over the 1 MiB cap. */
        CU_ASSERT_EQUAL(hv_image_open(&img, bomb, bomb_len, &lim, hooks[h]), HV_ERR_LIMIT);
        CU_ASSERT_STRING_EQUAL(img.reason,
                               "decompressed image exceeds the size limit (decompression bomb)");
        CU_ASSERT_PTR_NULL(img.inflated);
        hv_image_close(&img);
        /* The plain image is under the cap by one byte / exactly at it. */
        struct hv_image_limits tight = {.max_inflated = n - 1};
        CU_ASSERT_EQUAL(hv_image_open(&img, gz, gz_len, &tight, hooks[h]), HV_ERR_LIMIT);
        hv_image_close(&img);
        tight.max_inflated = n;
        CU_ASSERT_EQUAL(hv_image_open(&img, gz, gz_len, &tight, hooks[h]), HV_OK);
        hv_image_close(&img);
        /* Corrupt CRC, corrupt data, truncation, trailing garbage. */
        uint8_t *c = malloc(gz_len + 4);
        memcpy(c, gz, gz_len);
        c[gz_len - 6] ^= 1;
        CU_ASSERT_EQUAL(hv_image_open(&img, c, gz_len, NULL, hooks[h]), HV_ERR_BAD_IMAGE);
        CU_ASSERT_STRING_EQUAL(img.reason, "corrupt gzip data");
        hv_image_close(&img);
        memcpy(c, gz, gz_len);
        c[gz_len / 2] ^= 0x10;
        CU_ASSERT_EQUAL(hv_image_open(&img, c, gz_len, NULL, hooks[h]), HV_ERR_BAD_IMAGE);
        hv_image_close(&img);
        /*
         * Truncated, and trailing garbage. The builtin hook sizes its buffer
         * from the ISIZE trailer, so when the damaged trailer claims more than
         * the cap it reports the limit rather than corruption: refused either way.
         */
        memcpy(c, gz, gz_len);
        st = hv_image_open(&img, c, gz_len - 5, NULL, hooks[h]);
        CU_ASSERT(st == HV_ERR_BAD_IMAGE || (h == 1 && st == HV_ERR_LIMIT));
        CU_ASSERT_PTR_NULL(img.inflated);
        hv_image_close(&img);
        memcpy(c + gz_len, "junk", 4);
        st = hv_image_open(&img, c, gz_len + 4, NULL, hooks[h]);
        CU_ASSERT(st == HV_ERR_BAD_IMAGE || (h == 1 && st == HV_ERR_LIMIT));
        hv_image_close(&img);
        /* Trailing bytes that keep the claimed size small: corruption for both. */
        memcpy(c, gz, gz_len);
        memcpy(c + gz_len, c + gz_len - 4, 4);
        CU_ASSERT_EQUAL(hv_image_open(&img, c, gz_len + 4, NULL, hooks[h]), HV_ERR_BAD_IMAGE);
        hv_image_close(&img);
        free(c);
    }
    free(gz);
    free(zeros);
    free(bomb);
}

/* ---- hv_gunzip against zlib -------------------------------------------- */

/* Decompresses with both; returns false (and reports) when they disagree. */
static bool agree(const uint8_t *gz, size_t len, size_t cap, const char *what)
{
    void *zout = NULL;
    size_t zlen = 0, hlen = 0;
    uint8_t *hout = malloc(cap ? cap : 1);
    hv_status_t zs = hv_inflate_zlib_ops.inflate(NULL, gz, len, cap, &zout, &zlen);
    hv_status_t hs = hv_gunzip(gz, len, hout, cap, &hlen);
    bool ok = zs == hs && (zs != HV_OK || (zlen == hlen && memcmp(zout, hout, hlen) == 0));

    if (!ok)
        fprintf(stderr, "\n  %s: zlib %d (%zu bytes), hv_gunzip %d (%zu bytes)\n", what, zs, zlen,
                hs, hlen);
    if (zs == HV_OK)
        hv_inflate_zlib_ops.release(NULL, zout, zlen);
    free(hout);
    return ok;
}

static void fill_random(uint8_t *p, size_t n, int kind, unsigned *seed)
{
    static const char words[][8] = {"the ", "xen ", "page ", "grant ", "event ", "\n", "0x1f "};
    size_t i = 0;
    while (i < n) {
        unsigned r = (unsigned)rand_r(seed);
        if (kind == 0) { /* incompressible */
            p[i++] = (uint8_t)r;
        } else if (kind == 1) { /* text-like */
            const char *w = words[r % 7];
            for (size_t k = 0; w[k] && i < n; k++)
                p[i++] = (uint8_t)w[k];
        } else { /* runs and long matches */
            size_t run = 1 + r % 300;
            uint8_t c = (uint8_t)(r >> 9);
            for (size_t k = 0; k < run && i < n; k++)
                p[i++] = c;
        }
    }
}

static void test_inflate_random_vs_zlib(void)
{
    static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE,
                                     Z_FIXED};
    unsigned seed = 12345, cases = 0, bad = 0, mutants = 0;
    size_t sizes[] = {0, 1, 100, 4096, 70000, 300000};

    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        for (int kind = 0; kind < 3; kind++) {
            size_t n = sizes[si], gz_len;
            uint8_t *src = malloc(n ? n : 1);
            fill_random(src, n, kind, &seed);
            for (int level = 0; level <= 9; level += 3) {
                for (size_t st = 0; st < 5; st++) {
                    uint8_t *gz = gz_compress(src, n, level, strategies[st], &gz_len);
                    size_t out = 0;
                    uint8_t *dst = malloc(n ? n : 1);
                    CU_ASSERT_PTR_NOT_NULL_FATAL(gz);
                    /* Exact round trip, and the cap is exact. */
                    CU_ASSERT_EQUAL(hv_gunzip(gz, gz_len, dst, n, &out), HV_OK);
                    CU_ASSERT_EQUAL(out, n);
                    CU_ASSERT_EQUAL(memcmp(dst, src, n), 0);
                    if (n)
                        CU_ASSERT_EQUAL(hv_gunzip(gz, gz_len, dst, n - 1, &out), HV_ERR_LIMIT);
                    bad += !agree(gz, gz_len, n + 16, "round trip");
                    cases++;
                    /* Mutants: random bit flips and truncations must get zlib's verdict. */
                    if (n <= 70000) {
                        for (int k = 0; k < 40; k++) {
                            uint8_t *mgz = malloc(gz_len);
                            memcpy(mgz, gz, gz_len);
                            size_t len = gz_len;
                            int flips = 1 + rand_r(&seed) % 3;
                            for (int f = 0; f < flips; f++) {
                                size_t pos = (size_t)rand_r(&seed) % gz_len;
                                mgz[pos] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
                            }
                            if (k % 8 == 7)
                                len = (size_t)rand_r(&seed) % gz_len;
                            bad += !agree(mgz, len, n + 4096, "mutant");
                            mutants++;
                            free(mgz);
                        }
                    }
                    free(dst);
                    free(gz);
                }
            }
            free(src);
        }
    }
    printf("\n    inflate oracle: %u round trips, %u mutated streams, %u disagreements\n", cases,
           mutants, bad);
    CU_ASSERT_EQUAL(bad, 0);
}

static unsigned gz_files, gz_bad;
static time_t gz_deadline;

static void walk_gz(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    struct stat st;

    if (!d || depth > 8)
        goto out;
    while ((e = readdir(d)) && time(NULL) < gz_deadline) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk_gz(path, depth + 1);
        } else if (S_ISREG(st.st_mode) && st.st_size < (16 << 20)) {
            size_t len = strlen(e->d_name);
            if (len < 3 || strcmp(e->d_name + len - 3, ".gz") != 0)
                continue;
            FILE *f = fopen(path, "rb");
            uint8_t *buf = malloc((size_t)st.st_size + 1);
            size_t got = f && buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
            if (f)
                fclose(f);
            if (got == (size_t)st.st_size) {
                gz_files++;
                if (!agree(buf, got, 64u << 20, path))
                    gz_bad++;
            }
            free(buf);
        }
    }
out:
    if (d)
        closedir(d);
}

static void test_inflate_system_gz_vs_zlib(void)
{
    gz_files = gz_bad = 0;
    gz_deadline = time(NULL) + 15;
    walk_gz("/usr/share/doc", 0);
    printf("\n    inflate oracle: %u .gz files under /usr/share/doc, %u disagreements\n", gz_files,
           gz_bad);
    CU_ASSERT(gz_files > 0);
    CU_ASSERT_EQUAL(gz_bad, 0);
}

/*
 * Back-references a stream may not make (RFC 1951 3.2.5): a distance
 * before the start of the output (distance 1 with nothing written yet),
 * and distance code 30 (codes 30 and 31 never occur). Fixed Huffman codes,
 * by hand: BFINAL and BTYPE 01, the length code 257 (3 bytes), the
 * distance code, the end of the block. Refused like zlib; a copy from
 * before the output buffer would also show under AddressSanitizer and
 * valgrind (unit.asan.loader, unit.valgrind.loader).
 */
static void test_inflate_bad_distances(void)
{
    static const uint8_t deflate[2][3] = {
        {0x03, 0x02, 0x00}, /* distance code 0: distance 1, before the output */
        {0x03, 0x3e, 0x00}, /* distance code 30 */
    };
    for (int i = 0; i < 2; i++) {
        /* gzip header (RFC 1952), the block, CRC32 0 and ISIZE 3. */
        uint8_t gz[21] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
        memcpy(gz + 10, deflate[i], 3);
        gz[17] = 3;
        uint8_t out[16];
        size_t n = 0;
        CU_ASSERT_EQUAL(hv_gunzip(gz, sizeof(gz), out, sizeof(out), &n), HV_ERR_BAD_IMAGE);
        CU_ASSERT(agree(gz, sizeof(gz), sizeof(out), "bad distance"));
    }
}

/* A header that announces an extra field's length (FEXTRA) or a header
   CRC (FHCRC, RFC 1952 2.3.1), both two bytes, and ends before them or
   after one byte: refused without reading past the input (each in a heap
   block of its exact size, for unit.asan.loader). */
static void test_gzip_header_cut_short(void)
{
    static const uint8_t flags[2] = {4 /* FEXTRA */, 2 /* FHCRC */};
    for (int f = 0; f < 2; f++) {
        const uint8_t head[11] = {0x1f, 0x8b, 8, flags[f], 0, 0, 0, 0, 0, 3, 0x10};
        for (size_t len = 10; len <= 11; len++) {
            uint8_t *gz = malloc(len);
            CU_ASSERT_PTR_NOT_NULL_FATAL(gz);
            memcpy(gz, head, len);
            uint8_t out[16];
            size_t n = 0;
            CU_ASSERT_EQUAL(hv_gunzip(gz, len, out, sizeof(out), &n), HV_ERR_BAD_IMAGE);
            free(gz);
        }
    }
}

static void test_crc32(void)
{
    static const char s[] = "123456789";
    CU_ASSERT_EQUAL(hv_crc32(0, s, 9), 0xcbf43926u); /* the CRC-32 check value */
    CU_ASSERT_EQUAL(hv_crc32(hv_crc32(0, s, 4), s + 4, 5), 0xcbf43926u);
    CU_ASSERT_EQUAL(hv_crc32(0, s, 0), 0);
}

void loader_register_gzip(void);
void loader_register_gzip(void)
{
    CU_pSuite s = CU_add_suite("loader.gzip", NULL, NULL);
    CU_add_test(s, "gzip images load like plain ones", test_gzip_image_loads_like_plain);
    CU_add_test(s, "no hook, bombs, corrupt and trailing data refused", test_gzip_refusals);
    CU_add_test(s, "crc32 check value", test_crc32);
    CU_add_test(s, "back-references before the output or with distance codes 30-31",
                test_inflate_bad_distances);
    CU_add_test(s, "a header cut short in its extra length or header CRC",
                test_gzip_header_cut_short);
    CU_add_test(s, "hv_gunzip agrees with zlib on random and mutated data",
                test_inflate_random_vs_zlib);
    CU_add_test(s, "hv_gunzip agrees with zlib on every .gz in /usr/share/doc",
                test_inflate_system_gz_vs_zlib);
}

/*
 * A minimal "kernel" that embeds libhv the way a hobby kernel would: built
 * freestanding, linked statically with no libc and no runtime, against
 * whichever libhv the consumer project found (add_subdirectory,
 * find_package, pkg-config or libhv.mk). api_refs.c takes the address of
 * every public function, so the link fails if the archive lacks one or
 * needs any symbol from outside.
 *
 * It runs as a static Linux program (raw system calls, CPL 3) and only calls
 * functions that must not touch the CPU's virtualization state: argument
 * validation and pure helpers. Exit status 0 means every check held.
 */
#include <stddef.h>
#include <stdint.h>

#include <hv/ctx.h>
#include <hv/image.h>
#include <hv/status.h>

typedef void (*hv_consumer_fn)(void);
extern const unsigned hv_consumer_api_count;
extern hv_consumer_fn const hv_consumer_api[];

static long sys3(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

static size_t len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void put(const char *s)
{
    sys3(1 /* write */, 1, (long)s, (long)len(s));
}

static void put_u32(uint32_t v)
{
    char buf[11];
    int i = 10;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(buf + i);
}

static int same(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static int check(int ok, const char *what)
{
    put(ok ? "consumer: ok   " : "consumer: FAIL ");
    put(what);
    put("\n");
    return ok ? 0 : 1;
}

int consumer_main(void);
int consumer_main(void)
{
    int failures = 0;
    unsigned i, present = 0;
    struct hv_ctx *ctx = NULL;

    for (i = 0; i < hv_consumer_api_count; i++)
        present += hv_consumer_api[i] != NULL;
    put("consumer: ");
    put_u32(present);
    put(" public functions linked\n");
    failures +=
        check(present == hv_consumer_api_count && present > 0, "every public function resolved");

    failures += check(same(hv_status_str(HV_OK), "HV_OK"), "hv_status_str(HV_OK)");
    failures += check(same(hv_status_str(HV_ERR_NO_MEMORY), "HV_ERR_NO_MEMORY"),
                      "hv_status_str(HV_ERR_NO_MEMORY)");
    failures += check(hv_ctx_create(NULL, NULL, &ctx) == HV_ERR_INVALID_ARG && ctx == NULL,
                      "hv_ctx_create(NULL ops) is HV_ERR_INVALID_ARG");
    /* The CRC-32 check value of "123456789" (the gzip polynomial). */
    failures += check(hv_crc32(0, "123456789", 9) == 0xcbf43926u, "hv_crc32 check value");
    return failures;
}

/* Entry point: align the stack as the ABI expects at a call, run, exit. */
__asm__(".globl _start\n"
        "_start:\n"
        "    xor %ebp, %ebp\n"
        "    and $-16, %rsp\n"
        "    call consumer_main\n"
        "    mov %eax, %edi\n"
        "    mov $60, %eax\n" /* exit */
        "    syscall\n"
        "    hlt\n");

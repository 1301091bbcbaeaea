/*
 * Test runner: runs the selected cases from the .kcases tables, prints one
 * result line per case and a summary, then ends the run (kernel_exit).
 *
 * Selection: NULL runs every case not marked KCASE_EXPLICIT; otherwise a
 * comma-separated list of names, where a trailing '*' matches a prefix
 * ("kernel.*"). A pattern that matches no case is reported as a failure,
 * so that a typo cannot turn into an empty, passing run.
 */
#include <stdarg.h>

#include "core/util.h"
#include "cpu.h"
#include "kcase.h"

extern const struct kcase __start_kcases[], __stop_kcases[]; /* linker.ld */

static const char *current; /* case being run, for kpanic() */
static unsigned passed, failed;

int kcase_fail(struct kcase_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hv_vsnprintf(ctx->reason, sizeof(ctx->reason), fmt, ap);
    va_end(ap);
    return -1;
}

static bool pattern_matches(const char *pat, size_t len, const char *name)
{
    if (len > 0 && pat[len - 1] == '*')
        return hv_strnlen(name, len - 1) == len - 1 && hv_memcmp(pat, name, len - 1) == 0;
    return hv_strlen(name) == len && hv_memcmp(pat, name, len) == 0;
}

/* Calls @p fn for each pattern of @p sel until it returns true. */
static bool any_pattern(const char *sel, bool (*fn)(const char *pat, size_t len, const void *arg),
                        const void *arg)
{
    while (*sel) {
        const char *end = sel;
        while (*end && *end != ',')
            end++;
        if (end > sel && fn(sel, (size_t)(end - sel), arg))
            return true;
        sel = *end ? end + 1 : end;
    }
    return false;
}

static bool matches_case(const char *pat, size_t len, const void *arg)
{
    return pattern_matches(pat, len, ((const struct kcase *)arg)->name);
}

static bool selected(const struct kcase *c, const char *sel)
{
    if (!sel)
        return !(c->flags & KCASE_EXPLICIT);
    return any_pattern(sel, matches_case, c);
}

/* Reports patterns that select nothing; returns false (keep going). */
static bool check_pattern(const char *pat, size_t len, const void *arg)
{
    for (const struct kcase *c = __start_kcases; c < __stop_kcases; c++)
        if (c->name && pattern_matches(pat, len, c->name))
            return false;
    char p[64];
    hv_strlcpy(p, pat, HV_MIN(len + 1, sizeof(p)));
    kprintf("FAIL cases: no case matches \"%s\"\n", p);
    failed++;
    return false;
}

/* Pages and objects that a case must give back (the heap's cache excluded). */
static size_t pages_in_use(void)
{
    return pmm_pages_used() - heap_cache_pages();
}

static void run_one(const struct kcase *c)
{
    struct kcase_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.name = c->name;
    kernel_host_ops(&ctx.host_ops);

    size_t pages = pages_in_use(), objects = heap_objects();
    current = c->name;
    int rc = c->fn(&ctx);
    current = NULL;

    if (rc == 0 && (pages_in_use() != pages || heap_objects() != objects))
        rc = kcase_fail(&ctx, "leak: %lld pages, %lld objects not freed",
                        (long long)(pages_in_use() - pages), (long long)(heap_objects() - objects));
    if (rc != 0 && !ctx.reason[0])
        kcase_fail(&ctx, "returned %d", rc);
    if (rc == 0) {
        passed++;
        kprintf("PASS %s\n", c->name);
    } else {
        failed++;
        kprintf("FAIL %s: %s\n", c->name, ctx.reason);
    }
}

void kcase_run(const char *selection)
{
    if (selection)
        any_pattern(selection, check_pattern, NULL);
    for (const struct kcase *c = __start_kcases; c < __stop_kcases; c++)
        if (c->name && c->fn && selected(c, selection)) /* skip alignment padding */
            run_one(c);
    kprintf("%u passed, %u failed\n", passed, failed);
    kernel_exit(failed == 0);
}

void kpanic(const char *fmt, ...)
{
    static bool panicking;
    if (panicking) /* a fault while reporting one: just stop */
        kernel_exit(false);
    panicking = true;

    char msg[192];
    va_list ap;
    va_start(ap, fmt);
    hv_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kprintf("FAIL %s: %s\n", current ? current : "kernel.boot", msg);
    kprintf("%u passed, %u failed\n", passed, failed + 1);
    kernel_exit(false);
}

bool kcase_on_qemu(void)
{
    static const char sig[4] = {'Q', 'E', 'M', 'U'};
    outw(0x510, 0);
    for (unsigned i = 0; i < 4; i++)
        if (inb(0x511) != (uint8_t)sig[i])
            return false;
    return true;
}

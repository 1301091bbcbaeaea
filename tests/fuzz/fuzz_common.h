/*
 * Shared pieces of the libFuzzer targets: a byte reader over the input and
 * the invariant checks every target applies to the mock host (no leak, no
 * guard or poison damage, no misuse). A broken invariant aborts, which
 * libFuzzer records as a crash with the input that caused it.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mock_host.h"

/* Reads past the end of the input yield zeros. */
struct fz {
    const uint8_t *p;
    size_t n;
};

uint8_t fz_u8(struct fz *f);
uint16_t fz_u16(struct fz *f);
uint32_t fz_u32(struct fz *f);
uint64_t fz_u64(struct fz *f);
/* Copy up to len bytes (zero-filling the rest); returns how many came from the input. */
size_t fz_bytes(struct fz *f, void *dst, size_t len);
static inline bool fz_empty(const struct fz *f)
{
    return f->n == 0;
}

/* Abort with a message (the finding). */
void fz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(__VA_ARGS__);                                                                  \
    } while (0)

/*
 * The mock host is clean: nothing allocated is still out, no guard byte or
 * quarantined page was overwritten, no bad free. Call at teardown.
 */
void fz_check_clean(struct mock_host *m, const char *where);
/* The same for a host that keeps long-lived objects: exactly `pages` and `objs` out. */
void fz_check_clean_from(struct mock_host *m, uint64_t pages, uint64_t objs, const char *where);

/* No quarantined (freed, poisoned) block was written. */
void fz_check_quarantine(struct mock_host *m, const char *where);

#endif /* FUZZ_COMMON_H */

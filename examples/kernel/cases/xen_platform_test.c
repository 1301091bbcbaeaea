/*
 * xen.platform: the MP table that xen.linux's domain gets
 * (xen_platform.h), checked on its own for one and two CPUs: the
 * structures Linux's MP table scan validates (signatures, checksums, the
 * pointer, the processor entries). No VM is involved.
 */
#ifdef HV_XEN_GUESTS
#include "core/util.h"
#include "kcase.h"
#include "xen_platform.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    hv_memcpy(&v, p, 4);
    return v;
}

/* The table for @p ncpus (as asked), expecting @p want processor entries. */
static int mp_table(struct kcase_ctx *kc, unsigned ncpus, unsigned want)
{
    static uint8_t buf[XPLAT_MP_BYTES + 16];
    hv_memset(buf, 0xa5, sizeof(buf));
    xplat_mp_table(buf, ncpus);
    const uint8_t *f = buf;
    KCHECK(kc, !hv_memcmp(f, "_MP_", 4) && f[8] == 1 && f[9] == 4);
    KCHECK(kc, sum(f, 16) == 0);
    uint32_t table = get32(f + 4);
    KCHECK(kc, table >= XPLAT_MP_GPA && table < XPLAT_MP_GPA + XPLAT_MP_BYTES);
    const uint8_t *c = buf + (table - XPLAT_MP_GPA);
    uint16_t len = (uint16_t)(c[4] | c[5] << 8);
    KCHECK(kc, !hv_memcmp(c, "PCMP", 4) && c[6] == 4);
    KCHECK(kc, len == 44 + 20 * want);
    KCHECK(kc, c + len <= buf + XPLAT_MP_BYTES && sum(c, len) == 0);
    KCHECK(kc, get32(c + 36) == XPLAT_LAPIC_GPA && c[34] == want && c[35] == 0);
    /* Processor entries: APIC ids 0, 1, ..., all enabled, the first the boot processor. */
    for (unsigned i = 0; i < want; i++) {
        const uint8_t *e = c + 44 + 20 * i;
        KCHECK(kc, e[0] == 0 && e[1] == i && e[2] == 0x14);
        KCHECK(kc, (e[3] & 3) == (i == 0 ? 3 : 1));
    }
    KCHECK(kc, buf[XPLAT_MP_BYTES] == 0xa5); /* nothing written past it */
    return 0;
}

static int case_platform(struct kcase_ctx *kc)
{
    int rc = mp_table(kc, 1, 1);
    if (!rc)
        rc = mp_table(kc, 2, 2);
    if (!rc)
        rc = mp_table(kc, XPLAT_MAX_CPUS + 1, 1); /* out of range: one */
    return rc ? rc : mp_table(kc, 0, 1);
}

static const struct kcase platform_cases[] KCASE_TABLE = {
    {"xen.platform", case_platform, 0},
};

#endif /* HV_XEN_GUESTS */

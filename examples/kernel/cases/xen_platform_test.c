/*
 * xen.platform: the MP table and the local APIC register page that
 * xen.linux's domain gets (xen_platform.h), checked on their own: the
 * structures Linux's MP table scan validates (signatures, checksums, the
 * pointer, the processor entry) and the register page's store-only
 * semantics. No VM is involved.
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

static int mp_table(struct kcase_ctx *kc)
{
    static uint8_t buf[XPLAT_MP_BYTES + 16];
    hv_memset(buf, 0xa5, sizeof(buf));
    xplat_mp_table(buf);
    const uint8_t *f = buf;
    KCHECK(kc, !hv_memcmp(f, "_MP_", 4) && f[8] == 1 && f[9] == 4);
    KCHECK(kc, sum(f, 16) == 0);
    uint32_t table = get32(f + 4);
    KCHECK(kc, table >= XPLAT_MP_GPA && table < XPLAT_MP_GPA + XPLAT_MP_BYTES);
    const uint8_t *c = buf + (table - XPLAT_MP_GPA);
    uint16_t len = (uint16_t)(c[4] | c[5] << 8);
    KCHECK(kc, !hv_memcmp(c, "PCMP", 4) && c[6] == 4);
    KCHECK(kc, c + len <= buf + XPLAT_MP_BYTES && sum(c, len) == 0);
    KCHECK(kc, get32(c + 36) == XPLAT_LAPIC_GPA && c[34] == 1 && c[35] == 0);
    /* The one entry: processor, APIC id 0, enabled boot processor. */
    KCHECK(kc, c[44] == 0 && c[45] == 0 && (c[47] & 3) == 3);
    KCHECK(kc, buf[XPLAT_MP_BYTES] == 0xa5); /* nothing written past it */
    return 0;
}

static uint64_t rd(struct xplat_lapic *l, uint32_t off, unsigned size)
{
    uint64_t v = 0xdeadbeef;
    xplat_lapic_access(l, XPLAT_LAPIC_GPA + off, size, false, &v);
    return v;
}

static void wr(struct xplat_lapic *l, uint32_t off, uint64_t v)
{
    xplat_lapic_access(l, XPLAT_LAPIC_GPA + off, 4, true, &v);
}

static int lapic(struct kcase_ctx *kc)
{
    static struct xplat_lapic l;
    hv_memset(&l, 0x5a, sizeof(l));
    xplat_lapic_reset(&l);
    KCHECK(kc, rd(&l, 0x20, 4) == 0);           /* ID */
    KCHECK(kc, rd(&l, 0x30, 4) == 0x50014);     /* version, 6 LVTs */
    KCHECK(kc, rd(&l, 0x350, 4) == 0x10000);    /* LINT0 masked */
    KCHECK(kc, rd(&l, 0xe0, 4) == 0xffffffffu); /* DFR: flat */
    wr(&l, 0x80, 0x20);                         /* TPR */
    KCHECK(kc, rd(&l, 0x80, 4) == 0x20);
    wr(&l, 0x20, 7);  /* ID: read-only here */
    wr(&l, 0x100, 1); /* ISR: read-only */
    wr(&l, 0x270, 1); /* IRR: read-only */
    wr(&l, 0x390, 5); /* timer count: read-only */
    wr(&l, 0xb0, 0);  /* EOI: no state */
    KCHECK(kc, rd(&l, 0x20, 4) == 0 && rd(&l, 0x100, 4) == 0 && rd(&l, 0x270, 4) == 0);
    KCHECK(kc, rd(&l, 0x390, 4) == 0 && rd(&l, 0xb0, 4) == 0);
    wr(&l, 0x300, 0xc4500); /* ICR low: kept, never busy */
    KCHECK(kc, rd(&l, 0x300, 4) == 0xc4500 && !(rd(&l, 0x300, 4) & 0x1000));
    KCHECK(kc, rd(&l, 0x84, 4) == 0 && rd(&l, 0x80, 2) == 0); /* not a register access */
    uint64_t v = 0x99;
    xplat_lapic_access(&l, XPLAT_LAPIC_GPA + 0xff0, 8, true, &v); /* dropped */
    KCHECK(kc, rd(&l, 0xff0, 4) == 0);
    return 0;
}

static int case_platform(struct kcase_ctx *kc)
{
    int rc = mp_table(kc);
    return rc ? rc : lapic(kc);
}

static const struct kcase platform_cases[] KCASE_TABLE = {
    {"xen.platform", case_platform, 0},
};

#endif /* HV_XEN_GUESTS */

/* The MP table and the local APIC register page of a PVH domain U (xen_platform.h). */
#ifdef HV_XEN_GUESTS
#include "xen_platform.h"

#include <hv/assist.h>

#include "core/util.h"

/* MP specification 1.4, 4.1 (floating pointer) and 4.2/4.3.1 (table header, processor entry). */
#define MPF_BYTES    16u
#define MPC_HDR      44u
#define MPC_PROC     20u
#define MPC_BYTES    (MPC_HDR + MPC_PROC)
#define MP_SPEC_REV  4u /* version 1.4 */
#define CPU_ENABLED  0x1u
#define CPU_BSP      0x2u
#define LAPIC_VER    0x14u /* an integrated APIC */
#define LAPIC_NR_LVT 6u

/* APIC register offsets (SDM Vol. 3A table 11-1). */
#define APIC_ID     0x020u
#define APIC_LVR    0x030u
#define APIC_EOI    0x0b0u
#define APIC_DFR    0x0e0u
#define APIC_SPIV   0x0f0u
#define APIC_ISR    0x100u /* to 0x170 */
#define APIC_IRR    0x200u /* to 0x270 */
#define APIC_LVTT   0x320u
#define APIC_LVTERR 0x370u
#define APIC_TMCCT  0x390u
#define LVT_MASKED  0x10000u

static void put16(uint8_t *p, uint16_t v)
{
    hv_memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
    hv_memcpy(p, &v, 4);
}

/* Bytes that sum to zero with the checksum byte (MP spec 4.1, 4.2). */
static uint8_t checksum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return (uint8_t)-s;
}

void xplat_mp_table(uint8_t *at)
{
    uint8_t *f = at, *c = at + MPF_BYTES;
    hv_memset(at, 0, XPLAT_MP_BYTES);
    /* Configuration table: header, then the boot CPU's processor entry. */
    hv_memcpy(c, "PCMP", 4);
    put16(c + 4, MPC_BYTES);
    c[6] = MP_SPEC_REV;
    hv_memcpy(c + 8, "LIBHV   ", 8);       /* OEM id */
    hv_memcpy(c + 16, "EXAMPLE     ", 12); /* product id */
    put16(c + 34, 1);                      /* entry count */
    put32(c + 36, XPLAT_LAPIC_GPA);
    uint8_t *e = c + MPC_HDR;
    e[0] = 0; /* processor */
    e[1] = 0; /* local APIC id */
    e[2] = LAPIC_VER;
    e[3] = CPU_ENABLED | CPU_BSP;
    c[7] = checksum(c, MPC_BYTES);
    /* Floating pointer: the table's address, 16-byte units, no default configuration. */
    hv_memcpy(f, "_MP_", 4);
    put32(f + 4, XPLAT_MP_GPA + MPF_BYTES);
    f[8] = 1;
    f[9] = MP_SPEC_REV;
    f[10] = checksum(f, MPF_BYTES);
}

hv_status_t xplat_lapic_access(void *opaque, uint64_t gpa, unsigned size, bool write,
                               uint64_t *value)
{
    struct xplat_lapic *l = opaque;
    uint32_t off = (uint32_t)(gpa - XPLAT_LAPIC_GPA);
    /* Registers are 32-bit at 16-byte alignment; other accesses read 0 and store nothing. */
    if (size != 4 || off % 16) {
        if (!write)
            *value = 0;
        return HV_OK;
    }
    uint32_t slot = off / 16;
    if (write) {
        if (off != APIC_ID && off != APIC_LVR && off != APIC_EOI && off != APIC_TMCCT &&
            !(off >= APIC_ISR && off < APIC_IRR + 0x80))
            l->reg[slot] = (uint32_t)*value;
        return HV_OK;
    }
    *value = l->reg[slot];
    return HV_OK;
}

void xplat_lapic_reset(struct xplat_lapic *l)
{
    hv_memset(l, 0, sizeof(*l));
    l->reg[APIC_LVR / 16] = LAPIC_VER | ((LAPIC_NR_LVT - 1) << 16);
    l->reg[APIC_DFR / 16] = 0xffffffffu;
    l->reg[APIC_SPIV / 16] = 0xffu;
    for (uint32_t off = APIC_LVTT; off <= APIC_LVTERR; off += 16)
        l->reg[off / 16] = LVT_MASKED;
}

int xplat_lapic_attach(struct hv_vm *vm, struct xplat_lapic *l)
{
    xplat_lapic_reset(l);
    return hv_vm_mmio_register(vm, XPLAT_LAPIC_GPA, 4096, xplat_lapic_access, l) == HV_OK ? 0 : -1;
}

#endif /* HV_XEN_GUESTS */

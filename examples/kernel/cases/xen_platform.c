/* The MP table of a PVH domain U (xen_platform.h). */
#ifdef HV_XEN_GUESTS
#include "xen_platform.h"

#include "core/util.h"

/* MP specification 1.4, 4.1 (floating pointer) and 4.2/4.3.1 (table header, processor entry). */
#define MPF_BYTES    16u
#define MPC_HDR      44u
#define MPC_PROC     20u
#define MP_SPEC_REV  4u /* version 1.4 */
#define CPU_ENABLED  0x1u
#define CPU_BSP      0x2u
#define LAPIC_VER    0x14u /* an integrated APIC */

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

void xplat_mp_table(uint8_t *at, unsigned ncpus)
{
    uint8_t *f = at, *c = at + MPF_BYTES;
    if (ncpus < 1 || ncpus > XPLAT_MAX_CPUS)
        ncpus = 1;
    uint16_t bytes = (uint16_t)(MPC_HDR + ncpus * MPC_PROC);
    hv_memset(at, 0, XPLAT_MP_BYTES);
    /* Configuration table: header, then one processor entry per CPU, the
       boot CPU first; APIC ids are the vCPU ids. */
    hv_memcpy(c, "PCMP", 4);
    put16(c + 4, bytes);
    c[6] = MP_SPEC_REV;
    hv_memcpy(c + 8, "LIBHV   ", 8);       /* OEM id */
    hv_memcpy(c + 16, "EXAMPLE     ", 12); /* product id */
    put16(c + 34, (uint16_t)ncpus);        /* entry count */
    put32(c + 36, XPLAT_LAPIC_GPA);
    for (unsigned i = 0; i < ncpus; i++) {
        uint8_t *e = c + MPC_HDR + i * MPC_PROC;
        e[0] = 0;          /* processor */
        e[1] = (uint8_t)i; /* local APIC id */
        e[2] = LAPIC_VER;
        e[3] = (uint8_t)(CPU_ENABLED | (i == 0 ? CPU_BSP : 0));
    }
    c[7] = checksum(c, bytes);
    /* Floating pointer: the table's address, 16-byte units, no default configuration. */
    hv_memcpy(f, "_MP_", 4);
    put32(f + 4, XPLAT_MP_GPA + MPF_BYTES);
    f[8] = 1;
    f[9] = MP_SPEC_REV;
    f[10] = checksum(f, MPF_BYTES);
}

#endif /* HV_XEN_GUESTS */

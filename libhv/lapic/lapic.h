/*
 * The local APIC (SDM Vol. 3A ch. 11): the register model (lapic.c, no
 * backend, no host: unit-testable), and its connection to a vCPU (vcpu.c:
 * MSRs, the xAPIC page, event delivery, HLT, INIT/SIPI, IPIs).
 *
 * Concurrency: a vCPU's APIC is changed by its own thread only, except
 * irr[] and the pending NMI/INIT/SIPI flags, which other CPUs (IPIs of
 * other vCPUs, hv_lapic_raise) set with atomic ORs and the owner takes
 * with atomic exchanges. Nothing of a guest's making allocates or waits.
 */
#ifndef HV_LAPIC_LAPIC_H
#define HV_LAPIC_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

/* Register offsets in the xAPIC page (SDM Vol. 3A table 11-1); the x2APIC
   MSR of a register is 0x800 + offset / 16 (11.12.1.2, table 11-6). */
#define LAPIC_ID        0x020u
#define LAPIC_VER       0x030u
#define LAPIC_TPR       0x080u
#define LAPIC_APR       0x090u
#define LAPIC_PPR       0x0a0u
#define LAPIC_EOI       0x0b0u
#define LAPIC_RRD       0x0c0u
#define LAPIC_LDR       0x0d0u
#define LAPIC_DFR       0x0e0u
#define LAPIC_SVR       0x0f0u
#define LAPIC_ISR       0x100u
#define LAPIC_TMR       0x180u
#define LAPIC_IRR       0x200u
#define LAPIC_ESR       0x280u
#define LAPIC_LVT_CMCI  0x2f0u
#define LAPIC_ICR_LO    0x300u
#define LAPIC_ICR_HI    0x310u
#define LAPIC_LVT_TIMER 0x320u
#define LAPIC_LVT_LINT1 0x360u
#define LAPIC_LVT_ERROR 0x370u
#define LAPIC_TMICT     0x380u
#define LAPIC_TMCCT     0x390u
#define LAPIC_TDCR      0x3e0u
#define LAPIC_SELF_IPI  0x3f0u /* x2APIC only */

/* LVT entries held: timer, thermal, performance, LINT0, LINT1, error
   (0x320..0x370); no CMCI. */
#define LAPIC_LVTS   6u
#define LAPIC_LVT_T  0u
#define LAPIC_LVT_L0 3u
#define LAPIC_LVT_L1 4u
#define LAPIC_LVT_E  5u

/* IA32_APIC_BASE bits (SDM Vol. 3A 11.4.4, 11.12.1). */
#define LAPIC_BASE_BSP  (1ull << 8)
#define LAPIC_BASE_EXTD (1ull << 10)
#define LAPIC_BASE_EN   (1ull << 11)
#define LAPIC_BASE_ADDR 0xfee00000ull

/* ICR / LVT fields (11.5.1, 11.6.1). */
#define LAPIC_VEC_MASK         0xffu
#define LAPIC_DM_SHIFT         8u
#define LAPIC_DM_MASK          (7u << LAPIC_DM_SHIFT)
#define LAPIC_DM_FIXED         0u
#define LAPIC_DM_LOWEST        1u
#define LAPIC_DM_SMI           2u
#define LAPIC_DM_NMI           4u
#define LAPIC_DM_INIT          5u
#define LAPIC_DM_SIPI          6u
#define LAPIC_DM_EXTINT        7u
#define LAPIC_ICR_LOGICAL      (1u << 11)
#define LAPIC_ICR_LEVEL        (1u << 14)
#define LAPIC_ICR_TRIGGER      (1u << 15)
#define LAPIC_SH_SHIFT         18u
#define LAPIC_SH_NONE          0u
#define LAPIC_SH_SELF          1u
#define LAPIC_SH_ALL           2u
#define LAPIC_SH_OTHERS        3u
#define LAPIC_LVT_MASKED       (1u << 16)
#define LAPIC_TIMER_MODE_SHIFT 17u
#define LAPIC_TIMER_ONESHOT    0u
#define LAPIC_TIMER_PERIODIC   1u
#define LAPIC_TIMER_TSCDL      2u
#define LAPIC_SVR_ENABLE       (1u << 8)

/* ESR bits (11.5.3). */
#define LAPIC_ESR_SEND_ILLEGAL 0x20u
#define LAPIC_ESR_RECV_ILLEGAL 0x40u
#define LAPIC_ESR_ILLEGAL_REG  0x80u

/* What an access did beyond the register (lapic_write's result). */
enum lapic_result {
    LAPIC_OK = 0,
    LAPIC_GP,  /* x2APIC: #GP (reserved MSR, read-only register, reserved bits) */
    LAPIC_IPI, /* ICR written: the vCPU layer sends l->icr */
};

struct hv_lapic {
    /* Set from other CPUs with atomic ORs (lapic_set_irr). */
    uint32_t irr[8];
    uint32_t isr[8];
    uint32_t tmr[8];
    volatile uint8_t nmi;    /* an NMI waits (atomic) */
    volatile uint8_t init;   /* an INIT waits (atomic) */
    volatile uint16_t sipi;  /* 0x100 | vector: a SIPI waits (atomic) */
    volatile uint8_t halted; /* hv_vcpu_run returned for a HLT / wait-for-SIPI (atomic) */
    uint8_t wait_sipi;       /* INIT taken: the vCPU waits for a SIPI */
    uint8_t x2apic_ok;       /* CPUID offers x2APIC: EXTD may be set */
    uint8_t tscdl_ok;        /* CPUID offers the TSC-deadline mode */
    uint32_t id;             /* APIC ID (x2APIC ID; the xAPIC ID is its low byte) */
    uint64_t base;           /* IA32_APIC_BASE */
    uint32_t tpr, ldr, dfr, svr;
    uint32_t esr;     /* as last latched by an ESR write */
    uint32_t esr_acc; /* errors since that write */
    uint64_t icr;     /* ICR (xAPIC: ICR_HI << 32 | ICR_LO) */
    uint32_t lvt[LAPIC_LVTS];
    uint32_t tmict, tdcr;
    /* The timer in guest TSC ticks (its clock is the TSC divided by
       TDCR's divisor): t_start when TMICT was loaded, t_next when it fires
       next (0: not armed), tscdl the IA32_TSC_DEADLINE value. */
    uint64_t t_start, t_next, tscdl;
};

/* Power-up / INIT state of the registers (11.4.7.1); id and base kept by
   the caller as the SDM says for INIT. */
void lapic_reset(struct hv_lapic *l, uint32_t id, bool bsp);

/* Hardware-enabled (IA32_APIC_BASE.EN) and x2APIC mode. */
static inline bool lapic_hw_enabled(const struct hv_lapic *l)
{
    return (l->base & LAPIC_BASE_EN) != 0;
}
static inline bool lapic_x2apic(const struct hv_lapic *l)
{
    return (l->base & LAPIC_BASE_EXTD) != 0;
}
static inline bool lapic_sw_enabled(const struct hv_lapic *l)
{
    return lapic_hw_enabled(l) && (l->svr & LAPIC_SVR_ENABLE);
}

/* IA32_APIC_BASE write: false for #GP (11.12.5 transitions, reserved bits). */
bool lapic_set_base(struct hv_lapic *l, uint64_t v, uint32_t maxphyaddr);

/* Does an access to `reg` read the timer's clock (the `now` of lapic_read
   and lapic_write): TMCCT's count, TMICT's load. The caller reads the
   guest's TSC for these only. */
static inline bool lapic_reads_clock(uint32_t reg)
{
    return reg == LAPIC_TMICT || reg == LAPIC_TMCCT;
}

/* The register at xAPIC offset `reg` (16-byte aligned), x2 for the MSR
   interface. Reads: LAPIC_GP for x2APIC reserved / write-only registers.
   now: the guest's TSC, read when lapic_reads_clock(reg). */
enum lapic_result lapic_read(struct hv_lapic *l, uint32_t reg, bool x2, uint64_t now, uint64_t *v);
/* Writes: x2APIC reserved bits and read-only registers #GP; xAPIC ones
   are ignored. LAPIC_IPI: the caller sends the ICR now in l->icr. */
enum lapic_result lapic_write(struct hv_lapic *l, uint32_t reg, bool x2, uint64_t now, uint64_t v);

/* IA32_TSC_DEADLINE (11.5.4.1): reads 0 outside the TSC-deadline mode. */
uint64_t lapic_tscdl_read(const struct hv_lapic *l);
void lapic_tscdl_write(struct hv_lapic *l, uint64_t v);

/* Accept a fixed interrupt into IRR (any CPU): false when refused (APIC
   software-disabled; vectors 0-15 latch "receive illegal vector"). */
bool lapic_accept(struct hv_lapic *l, uint8_t vector);

/* Guest TSC ticks from `now` to the armed timer's expiry, 0 when it is
   due. The TSC-deadline mode compares as the CPU does (due once the TSC
   reaches the deadline, SDM Vol. 3A 11.5.4.1). The count-based modes run
   modulo 2^64 from where TMICT was loaded, less than 2^40 ticks ahead, so
   that a guest TSC wrapping past 2^64 (a guest may write its TSC) delays
   nothing and fires nothing early. */
static inline uint64_t lapic_until(const struct hv_lapic *l, uint64_t now)
{
    if (((l->lvt[LAPIC_LVT_T] >> LAPIC_TIMER_MODE_SHIFT) & 3u) == LAPIC_TIMER_TSCDL)
        return l->t_next > now ? l->t_next - now : 0;
    return (int64_t)(l->t_next - now) > 0 ? l->t_next - now : 0;
}
/* Fire the timer when due at guest TSC `now`. Returns whether it fired. */
bool lapic_timer_run(struct hv_lapic *l, uint64_t now);

/* Processor priority (11.8.3.1). */
uint32_t lapic_ppr(const struct hv_lapic *l);
/* The highest vector in IRR that PPR lets through, or -1. */
int lapic_deliverable(const struct hv_lapic *l);
/* The CPU takes `vector` (INTA): IRR -> ISR. */
void lapic_ack(struct hv_lapic *l, uint8_t vector);
/* Any vector in IRR (deliverable or not). */
bool lapic_irr_any(const struct hv_lapic *l);

/* Does `dest` in `logical` (or physical) mode name this APIC (11.6.2)? */
bool lapic_match(const struct hv_lapic *l, uint32_t dest, bool logical);

/* Divisor of TDCR (11.5.4). */
uint32_t lapic_divisor(uint32_t tdcr);

#endif /* HV_LAPIC_LAPIC_H */

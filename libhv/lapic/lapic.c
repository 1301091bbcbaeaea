/*
 * The local APIC register model (SDM Vol. 3A ch. 11): registers, priorities,
 * acceptance and EOI, the timer, destination matching. Pure: the vCPU
 * layer (vcpu.c) passes the guest's TSC and carries out IPIs.
 */
#include "lapic/lapic.h"
#include "core/util.h"

/* Version register: integrated APIC (0x14), LAPIC_LVTS entries (11.4.8). */
#define LAPIC_VERSION (0x14u | ((LAPIC_LVTS - 1u) << 16))

/* Writable bits of each LVT entry (11.5.1, figure 11-8): timer with its
   mode, thermal and performance with a delivery mode, LINT0/1 with
   polarity and trigger, error. */
static const uint32_t lvt_bits[LAPIC_LVTS] = {
    0x700ffu, 0x107ffu, 0x107ffu, 0x1a7ffu, 0x1a7ffu, 0x100ffu,
};
/* Read-only bits a write may carry (delivery status, remote IRR). */
#define LVT_RO 0x5000u

void lapic_reset(struct hv_lapic *l, uint32_t id, bool bsp)
{
    /* The CPUID view and what other CPUs raise (an NMI, INIT or SIPI that
       arrives while this one is handled) are not registers: kept. The
       latter are left untouched (not cleared and put back), so that one
       stored meanwhile by another CPU is not wiped. */
    _Static_assert(offsetof(struct hv_lapic, init) == offsetof(struct hv_lapic, nmi) + 1 &&
                       offsetof(struct hv_lapic, sipi) == offsetof(struct hv_lapic, nmi) + 2 &&
                       offsetof(struct hv_lapic, halted) == offsetof(struct hv_lapic, nmi) + 4 &&
                       offsetof(struct hv_lapic, wait_sipi) == offsetof(struct hv_lapic, nmi) + 5,
                   "nmi, init, sipi, halted side by side");
    uint8_t x2ok = l->x2apic_ok, dlok = l->tscdl_ok;
    size_t kept_end = offsetof(struct hv_lapic, wait_sipi);
    hv_memset(l, 0, offsetof(struct hv_lapic, nmi));
    hv_memset((uint8_t *)l + kept_end, 0, sizeof(*l) - kept_end);
    l->x2apic_ok = x2ok;
    l->tscdl_ok = dlok;
    l->id = id;
    l->base = LAPIC_BASE_ADDR | LAPIC_BASE_EN | (bsp ? LAPIC_BASE_BSP : 0);
    l->dfr = 0xffffffffu;
    l->svr = 0xffu;
    for (unsigned i = 0; i < LAPIC_LVTS; i++)
        l->lvt[i] = LAPIC_LVT_MASKED;
}

/* The registers back to their reset values, the base and ID kept: a
   hardware disable (11.4.3) and INIT (11.4.7.1) both do this. */
static void reset_keep_base(struct hv_lapic *l)
{
    uint64_t base = l->base;
    lapic_reset(l, l->id, false);
    l->base = base;
}

bool lapic_set_base(struct hv_lapic *l, uint64_t v, uint32_t maxphyaddr)
{
    /* Bits 0-7 and 9 reserved, the base limited to MAXPHYADDR (11.4.4). */
    uint64_t rsvd = 0x2ffull | ~((1ull << maxphyaddr) - 1);
    if (v & rsvd)
        return false;
    bool en = v & LAPIC_BASE_EN, x2 = v & LAPIC_BASE_EXTD;
    if (x2 && !l->x2apic_ok)
        return false;
    /* 11.12.5: EXTD without EN is invalid; x2APIC goes back to xAPIC only
       through disabled, and disabled goes to xAPIC first. */
    if (x2 && !en)
        return false;
    if (lapic_x2apic(l) && en && !x2)
        return false;
    if (!lapic_hw_enabled(l) && x2)
        return false;
    /* Relocation is not modelled: the page stays at its reset address. */
    if ((v & ~0xfffull) != LAPIC_BASE_ADDR)
        return false;
    bool was_en = lapic_hw_enabled(l);
    l->base = (v & ~LAPIC_BASE_BSP) | (l->base & LAPIC_BASE_BSP);
    if (was_en && !en)
        reset_keep_base(l);
    return true;
}

uint32_t lapic_divisor(uint32_t tdcr)
{
    /* Bits 0, 1, 3 (11.5.4, figure 11-10): 111b divides by 1. */
    uint32_t v = (tdcr & 3u) | ((tdcr >> 1) & 4u);
    return v == 7 ? 1u : 2u << v;
}

static uint32_t timer_mode(const struct hv_lapic *l)
{
    return (l->lvt[LAPIC_LVT_T] >> LAPIC_TIMER_MODE_SHIFT) & 3u;
}

static uint32_t current_count(const struct hv_lapic *l, uint64_t now)
{
    uint32_t mode = timer_mode(l);
    if (mode == LAPIC_TIMER_TSCDL || !l->tmict || !l->t_next)
        return 0;
    /* Modulo 2^64, as lapic_until: a TSC that wrapped since the load still counts. */
    uint64_t elapsed =
        (int64_t)(now - l->t_start) > 0 ? (now - l->t_start) / lapic_divisor(l->tdcr) : 0;
    if (mode == LAPIC_TIMER_PERIODIC)
        return l->tmict - (uint32_t)(elapsed % l->tmict);
    return elapsed >= l->tmict ? 0 : l->tmict - (uint32_t)elapsed;
}

/* Any bit set in a 256-bit register: the words ORed, no search (checked
   before every entry and every EOI). */
static bool any_set(const uint32_t *w)
{
    uint32_t any = 0;
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        any |= __atomic_load_n(&w[i], __ATOMIC_RELAXED);
    return any != 0;
}

/* Highest vector set in a 256-bit register, or -1. */
static int highest(const uint32_t *w)
{
    if (!any_set(w))
        return -1;
    for (int i = 7; i >= 0; i--) {
        uint32_t x = __atomic_load_n(&w[i], __ATOMIC_RELAXED);
        if (x)
            return i * 32 + 31 - __builtin_clz(x);
    }
    return -1;
}

/* An error (11.5.3): latched for the next ESR write, and the error LVT's
   interrupt unless masked. */
static void lapic_error(struct hv_lapic *l, uint32_t bit)
{
    __atomic_or_fetch(&l->esr_acc, bit, __ATOMIC_RELAXED);
    uint32_t e = l->lvt[LAPIC_LVT_E];
    uint8_t vec = e & LAPIC_VEC_MASK;
    if (!(e & LAPIC_LVT_MASKED) && vec >= 16 && lapic_sw_enabled(l))
        __atomic_or_fetch(&l->irr[vec >> 5], 1u << (vec & 31), __ATOMIC_RELEASE);
}

bool lapic_accept(struct hv_lapic *l, uint8_t vector)
{
    /* Software-disabled, the APIC takes only NMI, INIT, SIPI (11.4.7.2). */
    if (!lapic_sw_enabled(l))
        return false;
    if (vector < 16) {
        lapic_error(l, LAPIC_ESR_RECV_ILLEGAL);
        return false;
    }
    __atomic_or_fetch(&l->irr[vector >> 5], 1u << (vector & 31), __ATOMIC_RELEASE);
    return true;
}

uint32_t lapic_ppr(const struct hv_lapic *l)
{
    int isrv = highest(l->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0u;
    return (l->tpr & 0xf0u) >= isr_class ? l->tpr & 0xffu : isr_class;
}

int lapic_deliverable(const struct hv_lapic *l)
{
    if (!lapic_sw_enabled(l))
        return -1;
    int v = highest(l->irr);
    if (v < 0 || ((uint32_t)v & 0xf0u) <= (lapic_ppr(l) & 0xf0u))
        return -1;
    return v;
}

bool lapic_irr_any(const struct hv_lapic *l)
{
    return any_set(l->irr);
}

void lapic_ack(struct hv_lapic *l, uint8_t vector)
{
    __atomic_and_fetch(&l->irr[vector >> 5], ~(1u << (vector & 31)), __ATOMIC_ACQUIRE);
    l->isr[vector >> 5] |= 1u << (vector & 31);
}

/* EOI: the highest in-service vector is done (11.8.5). */
static void eoi(struct hv_lapic *l)
{
    int v = highest(l->isr);
    if (v >= 0)
        l->isr[v >> 5] &= ~(1u << (v & 31));
}

static void timer_fire(struct hv_lapic *l)
{
    uint32_t t = l->lvt[LAPIC_LVT_T];
    if (!(t & LAPIC_LVT_MASKED))
        lapic_accept(l, t & LAPIC_VEC_MASK);
}

bool lapic_timer_run(struct hv_lapic *l, uint64_t now)
{
    if (!l->t_next || lapic_until(l, now))
        return false;
    uint32_t mode = timer_mode(l);
    if (mode == LAPIC_TIMER_PERIODIC && l->tmict) {
        /* Periods missed while the vCPU did not run give one interrupt
           (IRR holds one per vector). */
        uint64_t period = (uint64_t)l->tmict * lapic_divisor(l->tdcr);
        l->t_next += ((now - l->t_next) / period + 1) * period;
        if (!l->t_next) /* 0 means disarmed: a tick late at the wrap */
            l->t_next = 1;
    } else {
        l->t_next = 0;
        if (mode == LAPIC_TIMER_TSCDL)
            l->tscdl = 0; /* disarmed and cleared when it fires (11.5.4.1) */
    }
    timer_fire(l);
    return true;
}

uint64_t lapic_tscdl_read(const struct hv_lapic *l)
{
    return timer_mode(l) == LAPIC_TIMER_TSCDL ? l->tscdl : 0;
}

void lapic_tscdl_write(struct hv_lapic *l, uint64_t v)
{
    if (timer_mode(l) != LAPIC_TIMER_TSCDL)
        return; /* ignored outside the TSC-deadline mode (11.5.4.1) */
    l->tscdl = v;
    l->t_next = v; /* 0 disarms; a past deadline fires at once */
}

static void load_count(struct hv_lapic *l, uint32_t v, uint64_t now)
{
    l->tmict = v;
    l->t_start = now;
    l->t_next = v ? now + (uint64_t)v * lapic_divisor(l->tdcr) : 0;
    if (l->t_next == 0 && v)
        l->t_next = 1;
}

static uint32_t x2_ldr(const struct hv_lapic *l)
{
    /* Derived from the x2APIC ID (11.12.10.2). */
    return ((l->id >> 4) << 16) | (1u << (l->id & 15));
}

bool lapic_match(const struct hv_lapic *l, uint32_t dest, bool logical)
{
    if (lapic_x2apic(l)) {
        if (dest == 0xffffffffu)
            return true;
        if (!logical)
            return dest == l->id;
        uint32_t ldr = x2_ldr(l);
        return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffffu);
    }
    dest &= 0xffu;
    if (dest == 0xffu)
        return true;
    if (!logical)
        return dest == (l->id & 0xffu);
    uint32_t ldr = l->ldr >> 24;
    switch (l->dfr >> 28) {
    case 0xf: /* flat (11.6.2.2) */
        return (ldr & dest) != 0;
    case 0x0: /* cluster: cluster in bits 7:4, members in 3:0 */
        return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xfu);
    default:
        return false;
    }
}

/* The x2APIC registers (11.12.1.2, table 11-6) as a bit per 16-byte
   slot of the xAPIC page: ID, version, TPR, PPR, EOI, LDR, SVR, ISR, TMR,
   IRR, ESR, ICR, the LVT from the timer to the error entry, TMICT, TMCCT,
   TDCR and SELF IPI (no DFR, ICR high, CMCI). */
#define X2_SLOT(reg)          HV_BIT((reg) >> 4)
#define X2_RANGE(first, last) (((HV_BIT(((last) >> 4) - ((first) >> 4) + 1) - 1)) << ((first) >> 4))
static const uint64_t x2_regs =
    X2_SLOT(LAPIC_ID) | X2_SLOT(LAPIC_VER) | X2_SLOT(LAPIC_TPR) | X2_SLOT(LAPIC_PPR) |
    X2_SLOT(LAPIC_EOI) | X2_SLOT(LAPIC_LDR) | X2_SLOT(LAPIC_SVR) |
    X2_RANGE(LAPIC_ISR, LAPIC_ESR - 0x10u) | X2_SLOT(LAPIC_ESR) | X2_SLOT(LAPIC_ICR_LO) |
    X2_RANGE(LAPIC_LVT_TIMER, LAPIC_LVT_ERROR) | X2_SLOT(LAPIC_TMICT) | X2_SLOT(LAPIC_TMCCT) |
    X2_SLOT(LAPIC_TDCR) | X2_SLOT(LAPIC_SELF_IPI);

/* Is reg an x2APIC register? One bit test. */
static bool x2_exists(uint32_t reg)
{
    return reg < 0x400u && !(reg & 0xfu) && ((x2_regs >> (reg >> 4)) & 1);
}

enum lapic_result lapic_read(struct hv_lapic *l, uint32_t reg, bool x2, uint64_t now, uint64_t *v)
{
    *v = 0;
    if (x2 && (!x2_exists(reg) || reg == LAPIC_EOI || reg == LAPIC_SELF_IPI))
        return LAPIC_GP; /* reserved or write-only */
    if (reg >= LAPIC_ISR && reg < LAPIC_ESR) {
        uint32_t i = (reg - LAPIC_ISR) >> 4;
        const uint32_t *w = i < 8 ? l->isr : i < 16 ? l->tmr : l->irr;
        *v = __atomic_load_n(&w[i & 7], __ATOMIC_RELAXED);
        return LAPIC_OK;
    }
    if (reg >= LAPIC_LVT_TIMER && reg <= LAPIC_LVT_ERROR) {
        *v = l->lvt[(reg - LAPIC_LVT_TIMER) >> 4];
        return LAPIC_OK;
    }
    switch (reg) {
    case LAPIC_ID:
        *v = x2 ? l->id : (l->id & 0xffu) << 24;
        break;
    case LAPIC_VER:
        *v = LAPIC_VERSION;
        break;
    case LAPIC_TPR:
        *v = l->tpr;
        break;
    case LAPIC_PPR:
        *v = lapic_ppr(l);
        break;
    case LAPIC_LDR:
        *v = x2 ? x2_ldr(l) : l->ldr;
        break;
    case LAPIC_DFR:
        *v = l->dfr;
        break;
    case LAPIC_SVR:
        *v = l->svr;
        break;
    case LAPIC_ESR:
        *v = l->esr;
        break;
    case LAPIC_ICR_LO:
        *v = x2 ? l->icr : (uint32_t)l->icr; /* delivery status: always idle */
        break;
    case LAPIC_ICR_HI:
        *v = l->icr >> 32;
        break;
    case LAPIC_TMICT:
        *v = timer_mode(l) == LAPIC_TIMER_TSCDL ? 0 : l->tmict;
        break;
    case LAPIC_TMCCT:
        *v = current_count(l, now);
        break;
    case LAPIC_TDCR:
        *v = l->tdcr;
        break;
    default: /* xAPIC: reserved registers read 0 */
        break;
    }
    return LAPIC_OK;
}

static enum lapic_result write_lvt(struct hv_lapic *l, uint32_t i, bool x2, uint64_t v)
{
    uint32_t bits = lvt_bits[i];
    if (i == LAPIC_LVT_T && !l->tscdl_ok)
        bits &= ~(1u << 18); /* the TSC-deadline mode only when CPUID offers it */
    if (x2 && (v & ~(uint64_t)(bits | LVT_RO)))
        return LAPIC_GP;
    uint32_t nv = (uint32_t)v & bits;
    if (i == LAPIC_LVT_T && ((nv >> LAPIC_TIMER_MODE_SHIFT) & 3u) == 3u) {
        if (x2)
            return LAPIC_GP; /* mode 11b is reserved */
        nv &= ~(3u << LAPIC_TIMER_MODE_SHIFT);
    }
    if (!lapic_sw_enabled(l))
        nv |= LAPIC_LVT_MASKED; /* masks stay set while disabled (11.4.7.2) */
    if (i == LAPIC_LVT_T && ((nv ^ l->lvt[i]) >> LAPIC_TIMER_MODE_SHIFT) & 3u) {
        /* A mode change disarms the timer (11.5.4.1). */
        l->tmict = 0;
        l->t_next = 0;
        l->tscdl = 0;
    }
    l->lvt[i] = nv;
    return LAPIC_OK;
}

enum lapic_result lapic_write(struct hv_lapic *l, uint32_t reg, bool x2, uint64_t now, uint64_t v)
{
    if (x2) {
        if (!x2_exists(reg))
            return LAPIC_GP;
        if (reg != LAPIC_ICR_LO && (v >> 32))
            return LAPIC_GP;
    } else {
        v &= 0xffffffffull;
    }
    if (reg >= LAPIC_LVT_TIMER && reg <= LAPIC_LVT_ERROR)
        return write_lvt(l, (reg - LAPIC_LVT_TIMER) >> 4, x2, v);
    switch (reg) {
    case LAPIC_TPR:
        if (x2 && (v & ~0xffull))
            return LAPIC_GP;
        l->tpr = (uint32_t)v & 0xffu;
        return LAPIC_OK;
    case LAPIC_EOI:
        if (x2 && v)
            return LAPIC_GP; /* 11.12.1.2: a non-zero EOI write */
        eoi(l);
        return LAPIC_OK;
    case LAPIC_LDR:
        if (x2)
            return LAPIC_GP; /* read-only in x2APIC mode */
        l->ldr = (uint32_t)v & 0xff000000u;
        return LAPIC_OK;
    case LAPIC_DFR:
        l->dfr = (uint32_t)v | 0x0fffffffu;
        return LAPIC_OK;
    case LAPIC_SVR:
        /* Vector, APIC enable, focus check; EOI-broadcast suppression is
           not offered (version bit 24 clear). */
        if (x2 && (v & ~0x3ffull))
            return LAPIC_GP;
        l->svr = (uint32_t)v & 0x3ffu;
        if (!(l->svr & LAPIC_SVR_ENABLE)) {
            for (unsigned i = 0; i < LAPIC_LVTS; i++)
                l->lvt[i] |= LAPIC_LVT_MASKED;
        }
        return LAPIC_OK;
    case LAPIC_ESR:
        if (x2 && v)
            return LAPIC_GP;
        l->esr = __atomic_exchange_n(&l->esr_acc, 0, __ATOMIC_RELAXED);
        return LAPIC_OK;
    case LAPIC_ICR_LO:
        if (x2) {
            /* Reserved: 12, 13, 16, 17, 20-31 (11.12.9). */
            if (v & 0xfff33000ull)
                return LAPIC_GP;
            l->icr = v;
        } else {
            l->icr = (l->icr & 0xffffffff00000000ull) | (v & 0x000ccfffull);
        }
        if (((uint32_t)l->icr & LAPIC_DM_MASK) >> LAPIC_DM_SHIFT == LAPIC_DM_FIXED &&
            (l->icr & LAPIC_VEC_MASK) < 16) {
            lapic_error(l, LAPIC_ESR_SEND_ILLEGAL);
            return LAPIC_OK; /* not sent (11.5.3) */
        }
        return LAPIC_IPI;
    case LAPIC_ICR_HI:
        l->icr = (uint32_t)l->icr | ((v & 0xff000000ull) << 32);
        return LAPIC_OK;
    case LAPIC_TMICT:
        if (timer_mode(l) != LAPIC_TIMER_TSCDL)
            load_count(l, (uint32_t)v, now);
        return LAPIC_OK;
    case LAPIC_TDCR:
        if (x2 && (v & ~0xbull))
            return LAPIC_GP;
        l->tdcr = (uint32_t)v & 0xbu;
        if (l->t_next && timer_mode(l) != LAPIC_TIMER_TSCDL) {
            l->t_next = l->t_start + (uint64_t)l->tmict * lapic_divisor(l->tdcr);
            if (!l->t_next)
                l->t_next = 1;
        }
        return LAPIC_OK;
    case LAPIC_SELF_IPI:
        if (!x2)
            return LAPIC_OK;
        if (v & ~0xffull)
            return LAPIC_GP;
        if (v < 16)
            lapic_error(l, LAPIC_ESR_SEND_ILLEGAL);
        else
            lapic_accept(l, (uint8_t)v);
        return LAPIC_OK;
    default:
        /* Read-only registers: #GP in x2APIC mode, ignored in xAPIC. */
        return x2 ? LAPIC_GP : LAPIC_OK;
    }
}

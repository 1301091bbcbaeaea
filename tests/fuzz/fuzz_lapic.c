/*
 * Fuzz target: the local APIC's register model (libhv/lapic/lapic.c), as
 * a hostile guest drives it through the xAPIC page or the x2APIC MSRs,
 * with the guest's TSC free to jump forward or back (a guest may write
 * its TSC) and interrupts arriving from other CPUs between accesses.
 *
 * Input: a program of commands, each a selector byte and its operands:
 * register write or read (xAPIC or x2APIC form, any offset of the page),
 * IA32_APIC_BASE write, IA32_TSC_DEADLINE write or read, a fixed
 * interrupt accepted from outside, the TSC moved, the timer run, the
 * highest deliverable vector taken (INTA), an EOI.
 *
 * Invariants, besides the sanitizers:
 * - every access gives a defined result; xAPIC accesses are never
 *   refused, and an x2APIC access refused with #GP changes nothing;
 * - nothing outside an x2APIC access of an x2APIC-mode APIC is refused;
 * - vectors 0-15 never reach IRR or ISR;
 * - what lapic_deliverable names is in IRR, at least 16, and of a higher
 *   priority class than PPR; taking it moves it from IRR to ISR;
 * - the current count never exceeds the initial count, and a timer run
 *   leaves no expiry due at the time it ran at (no re-firing storm, also
 *   where the TSC wraps past 2^64);
 * - the state stays within its architectural bits (TPR, SVR, TDCR, the
 *   LVT entries, the timer mode).
 */
#include <string.h>

#include "fuzz_common.h"
#include "lapic/lapic.h"

static void check_state(const struct hv_lapic *l)
{
    FZ_CHECK(l->tpr <= 0xff, "TPR 0x%x", l->tpr);
    FZ_CHECK(l->svr <= 0x3ff, "SVR 0x%x", l->svr);
    FZ_CHECK(l->tdcr <= 0xb, "TDCR 0x%x", l->tdcr);
    FZ_CHECK(!(l->irr[0] & 0xffff) && !(l->isr[0] & 0xffff), "vector below 16 in IRR/ISR");
    for (unsigned i = 0; i < LAPIC_LVTS; i++)
        FZ_CHECK(!(l->lvt[i] & ~0x7ffffu), "LVT %u 0x%x", i, l->lvt[i]);
    FZ_CHECK(((l->lvt[LAPIC_LVT_T] >> LAPIC_TIMER_MODE_SHIFT) & 3u) != 3u, "timer mode 3");
}

static bool irr_has(const struct hv_lapic *l, unsigned v)
{
    return (l->irr[v / 32] >> (v % 32)) & 1;
}

static bool isr_has(const struct hv_lapic *l, unsigned v)
{
    return (l->isr[v / 32] >> (v % 32)) & 1;
}

/* Interesting TSC moves: small steps, a timer period's worth, huge jumps
   and backwards. */
static uint64_t move_tsc(struct fz *in, uint64_t now)
{
    uint8_t s = fz_u8(in);
    switch (s & 7) {
    case 0:
        return now + (s >> 3);
    case 1:
        return now + fz_u16(in);
    case 2:
        return now + ((uint64_t)fz_u32(in) << (s >> 3));
    case 3:
        return now - fz_u16(in);
    case 4:
        return fz_u64(in);
    case 5:
        return ~0ull - fz_u8(in);
    default:
        return now + fz_u8(in) * 1000ull;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in = {data, size};
    struct hv_lapic l;
    uint8_t setup = fz_u8(&in);
    lapic_reset(&l, fz_u8(&in), setup & 1);
    l.x2apic_ok = (setup >> 1) & 1;
    l.tscdl_ok = (setup >> 2) & 1;
    uint64_t now = fz_u64(&in);
    if (setup & 8) /* start hardware-enabled (xAPIC), as a fresh vCPU does */
        FZ_CHECK(lapic_set_base(
                     &l, LAPIC_BASE_ADDR | LAPIC_BASE_EN | (setup & 1 ? LAPIC_BASE_BSP : 0), 36),
                 "enable");

    for (unsigned step = 0; step < 64 && !fz_empty(&in); step++) {
        uint8_t c = fz_u8(&in);
        struct hv_lapic before = l;
        switch ((c & 15) % 10) { /* bits 4-5: the form and width */
        case 0:
        case 1: { /* register write, as the mode or the other interface */
            uint32_t reg = (uint32_t)(fz_u8(&in) << 4) & 0xff0u;
            bool x2 = (c >> 4) & 1;
            uint64_t v = (c >> 5) & 1 ? fz_u64(&in) : fz_u32(&in);
            enum lapic_result r = lapic_write(&l, reg, x2, now, v);
            FZ_CHECK(r == LAPIC_OK || r == LAPIC_GP || r == LAPIC_IPI, "write result %d", r);
            if (r == LAPIC_GP) {
                FZ_CHECK(x2, "xAPIC write of 0x%x refused", reg);
                FZ_CHECK(!memcmp(&before, &l, sizeof(l)), "a refused write of 0x%x changed state",
                         reg);
            }
            break;
        }
        case 2: { /* register read */
            uint32_t reg = (uint32_t)(fz_u8(&in) << 4) & 0xff0u;
            bool x2 = (c >> 4) & 1;
            uint64_t v = 0;
            enum lapic_result r = lapic_read(&l, reg, x2, now, &v);
            FZ_CHECK(r == LAPIC_OK || (x2 && r == LAPIC_GP), "read of 0x%x: %d", reg, r);
            if (!x2)
                FZ_CHECK(v <= 0xffffffffull, "xAPIC read of 0x%x: 0x%llx", reg,
                         (unsigned long long)v);
            if (r == LAPIC_OK && reg == LAPIC_TMCCT)
                FZ_CHECK(v <= l.tmict, "current count %llu above the initial %u",
                         (unsigned long long)v, l.tmict);
            FZ_CHECK(r != LAPIC_GP || !memcmp(&before, &l, sizeof(l)),
                     "a refused read changed state");
            break;
        }
        case 3: { /* IA32_APIC_BASE */
            uint64_t v =
                (c >> 4) & 1 ? fz_u64(&in) : LAPIC_BASE_ADDR | ((uint64_t)(fz_u8(&in) & 0xd) << 8);
            if (!lapic_set_base(&l, v, 36))
                FZ_CHECK(!memcmp(&before, &l, sizeof(l)), "a refused APIC base changed state");
            break;
        }
        case 4: /* IA32_TSC_DEADLINE */
            if ((c >> 4) & 1)
                (void)lapic_tscdl_read(&l);
            else
                lapic_tscdl_write(&l, (c >> 5) & 1 ? fz_u64(&in) : now + fz_u16(&in));
            break;
        case 5: { /* a fixed interrupt from another CPU or a device */
            uint8_t v = fz_u8(&in);
            bool ok = lapic_accept(&l, v);
            if (ok)
                FZ_CHECK(v >= 16 && irr_has(&l, v), "vector %u accepted, not in IRR", v);
            break;
        }
        case 6:
            now = move_tsc(&in, now);
            break;
        case 7:
            (void)lapic_timer_run(&l, now);
            FZ_CHECK(!l.t_next || lapic_until(&l, now),
                     "timer left due at %llu after a run at %llu", (unsigned long long)l.t_next,
                     (unsigned long long)now);
            break;
        case 8: { /* the CPU takes the highest deliverable vector */
            int d = lapic_deliverable(&l);
            if (d < 0)
                break;
            FZ_CHECK(d >= 16 && d < 256 && irr_has(&l, (unsigned)d), "deliverable %d not in IRR",
                     d);
            FZ_CHECK(((unsigned)d >> 4) > (lapic_ppr(&l) >> 4), "deliverable %d under PPR 0x%x", d,
                     lapic_ppr(&l));
            lapic_ack(&l, (uint8_t)d);
            FZ_CHECK(isr_has(&l, (unsigned)d) && !irr_has(&l, (unsigned)d),
                     "vector %d not moved to ISR", d);
            break;
        }
        default: /* EOI in the current mode */
            (void)lapic_write(&l, LAPIC_EOI, lapic_x2apic(&l), now, 0);
            break;
        }
        check_state(&l);
    }
    return 0;
}

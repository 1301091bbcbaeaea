/*
 * Periodic timer and clock.
 *
 * The PIT (8254) channel 0 interrupts on IRQ 0 at TIMER_HZ. Besides
 * counting ticks, the interrupt is what gives the host its CPU back from a
 * guest that spins with interrupts disabled: libhv intercepts physical
 * interrupts, so a tick during guest execution is a VM exit. Tick callbacks
 * (timer_add_tick_fn) let the run loop act on deadlines, e.g. kick a vCPU.
 *
 * ktime_ns() reads the TSC, whose rate is measured against the PIT at boot.
 * The PIT is used rather than the local APIC timer because it needs no
 * calibration of its own and behaves the same in QEMU TCG and Bochs.
 */
#include "cpu.h"
#include "kernel.h"

#define PIT_HZ       1193182u /* input clock of the 8254 */
#define PIT_CH0      0x40
#define PIT_CMD      0x43
#define PIT_MODE2    0x34 /* channel 0, lo/hi byte, mode 2 (rate generator) */
#define CALIB_TICKS  10   /* measure the TSC over 100 ms */
#define MAX_TICK_FNS 4

static volatile uint64_t ticks;
static uint64_t tsc_base, tsc_freq;
static uint64_t ns_mult; /* ns = (tsc delta * ns_mult) >> 32 */

static struct {
    tick_fn fn;
    void *arg;
} tick_fns[MAX_TICK_FNS];

static void timer_irq(void)
{
    uint64_t now = ++ticks;
    for (unsigned i = 0; i < MAX_TICK_FNS; i++)
        if (tick_fns[i].fn)
            tick_fns[i].fn(tick_fns[i].arg, now);
}

/* Spin (interrupts on) until the tick count passes @p t; false if it never does. */
static bool wait_tick_after(uint64_t t)
{
    /* Generous bound: a tick is ~10^4..10^6 iterations in both emulators. */
    for (uint64_t spins = 0; spins < 100000000ull; spins++) {
        if (ticks > t)
            return true;
        cpu_relax();
    }
    return false;
}

void timer_init(void)
{
    uint16_t divisor = (PIT_HZ + TIMER_HZ / 2) / TIMER_HZ;
    outb(PIT_CMD, PIT_MODE2);
    outb(PIT_CH0, divisor & 0xff);
    outb(PIT_CH0, divisor >> 8);
    irq_set_handler(0, timer_irq);
    pic_unmask(0);
    irq_enable();

    /* Start on a tick edge so the interval is whole ticks. */
    if (!wait_tick_after(ticks))
        kpanic("timer: no interrupt from the PIT on IRQ 0");
    uint64_t t0 = ticks, tsc0 = rdtsc();
    if (!wait_tick_after(t0 + CALIB_TICKS - 1))
        kpanic("timer: PIT stopped during calibration");
    uint64_t tsc1 = rdtsc();
    /* The PIT period is divisor / PIT_HZ, not exactly 1 / TIMER_HZ. */
    tsc_freq = (tsc1 - tsc0) * PIT_HZ / ((uint64_t)divisor * CALIB_TICKS);
    if (tsc_freq == 0)
        kpanic("timer: TSC does not advance");
    ns_mult = (1000000000ull << 32) / tsc_freq;
    tsc_base = tsc1;
}

uint64_t timer_ticks(void)
{
    return ticks;
}

uint64_t tsc_hz(void)
{
    return tsc_freq;
}

uint64_t ktime_ns(void)
{
    /* 64x64->128-bit multiply: no overflow for centuries at any TSC rate. */
    return (uint64_t)(((unsigned __int128)(rdtsc() - tsc_base) * ns_mult) >> 32);
}

bool timer_add_tick_fn(tick_fn fn, void *arg)
{
    bool added = false;
    uint64_t flags = irq_save();
    for (unsigned i = 0; i < MAX_TICK_FNS && !added; i++) {
        if (!tick_fns[i].fn) {
            tick_fns[i].fn = fn;
            tick_fns[i].arg = arg;
            added = true;
        }
    }
    irq_restore(flags);
    return added;
}

void timer_remove_tick_fn(tick_fn fn, void *arg)
{
    uint64_t flags = irq_save();
    for (unsigned i = 0; i < MAX_TICK_FNS; i++) {
        if (tick_fns[i].fn == fn && tick_fns[i].arg == arg)
            tick_fns[i].fn = NULL;
    }
    irq_restore(flags);
}

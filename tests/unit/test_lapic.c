/* The local APIC register model (libhv/lapic/lapic.c) against the SDM
   Vol. 3A ch. 11 rules: priorities, EOI order, TPR, ESR, the timer modes,
   the x2APIC #GP rules and destination matching; and its connection to a
   vCPU (libhv/lapic/vcpu.c) through the core on the mock backend: the
   API's checks, MSRs, delivery through the event path, HLT deadlines,
   INIT/SIPI. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include <hv/hv.h>
#include "backend.h"
#include "core/cpu.h"
#include "core/ctx_internal.h"
#include "core/objects.h"
#include "core/policy.h"
#include "lapic/hooks.h"
#include "lapic/lapic.h"
#include "mock_backend.h"
#include "mock_host.h"
#include "vmx/ept_format.h"

static struct hv_lapic fresh(uint32_t id)
{
    struct hv_lapic l;
    memset(&l, 0, sizeof(l));
    l.x2apic_ok = 1;
    l.tscdl_ok = 1;
    lapic_reset(&l, id, id == 0);
    return l;
}

/* Software-enabled (SVR bit 8), spurious vector 0xff. */
static struct hv_lapic enabled(uint32_t id)
{
    struct hv_lapic l = fresh(id);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_SVR, false, 0, 0x1ff), LAPIC_OK);
    return l;
}

static uint64_t rd(struct hv_lapic *l, uint32_t reg, bool x2, uint64_t now)
{
    uint64_t v = 0xdead;
    CU_ASSERT_EQUAL(lapic_read(l, reg, x2, now, &v), LAPIC_OK);
    return v;
}

static void test_reset(void)
{
    struct hv_lapic l = fresh(3);
    CU_ASSERT_EQUAL(l.base, LAPIC_BASE_ADDR | LAPIC_BASE_EN);
    struct hv_lapic b = fresh(0);
    CU_ASSERT_EQUAL(b.base, LAPIC_BASE_ADDR | LAPIC_BASE_EN | LAPIC_BASE_BSP);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_ID, false, 0), 3u << 24);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_VER, false, 0) & 0xff, 0x14);
    CU_ASSERT_EQUAL((rd(&l, LAPIC_VER, false, 0) >> 16) & 0xff, LAPIC_LVTS - 1);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_DFR, false, 0), 0xffffffffu);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_SVR, false, 0), 0xff);
    for (uint32_t r = LAPIC_LVT_TIMER; r <= LAPIC_LVT_ERROR; r += 16)
        CU_ASSERT_EQUAL(rd(&l, r, false, 0), LAPIC_LVT_MASKED);
    /* Software-disabled: nothing accepted, LVT masks cannot be cleared. */
    CU_ASSERT_FALSE(lapic_accept(&l, 0x40));
    CU_ASSERT_FALSE(lapic_irr_any(&l));
    lapic_write(&l, LAPIC_LVT_TIMER, false, 0, 0x30);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_LVT_TIMER, false, 0), LAPIC_LVT_MASKED | 0x30);
    /* Reserved registers read 0 in xAPIC mode. */
    CU_ASSERT_EQUAL(rd(&l, 0x040, false, 0), 0);
    CU_ASSERT_EQUAL(rd(&l, 0x3f0, false, 0), 0);
}

static void test_priorities(void)
{
    struct hv_lapic l = enabled(0);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), -1);
    CU_ASSERT_TRUE(lapic_accept(&l, 0x31));
    CU_ASSERT_TRUE(lapic_accept(&l, 0x52));
    CU_ASSERT_TRUE(lapic_accept(&l, 0x45));
    CU_ASSERT_EQUAL(rd(&l, LAPIC_IRR + 0x10, false, 0), 1u << 0x11);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_IRR + 0x20, false, 0), (1u << 0x12) | (1u << 0x05));
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x52);
    lapic_ack(&l, 0x52);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_ISR + 0x20, false, 0), 1u << 0x12);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_PPR, false, 0), 0x50);
    /* 0x45 is of a lower class than the one in service. */
    CU_ASSERT_EQUAL(lapic_deliverable(&l), -1);
    /* A higher class nests. */
    lapic_accept(&l, 0x61);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x61);
    lapic_ack(&l, 0x61);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_PPR, false, 0), 0x60);
    /* EOI ends the highest in service first: 0x61, then 0x52. */
    lapic_write(&l, LAPIC_EOI, false, 0, 0);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_ISR + 0x30, false, 0), 0);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_ISR + 0x20, false, 0), 1u << 0x12);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), -1);
    lapic_write(&l, LAPIC_EOI, false, 0, 0);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_PPR, false, 0), 0);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x45);
    lapic_ack(&l, 0x45);
    /* Same class as in service: 0x41 waits although 0x41 < 0x45 too. */
    lapic_accept(&l, 0x4f);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), -1);
    lapic_write(&l, LAPIC_EOI, false, 0, 0);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x4f);
    lapic_ack(&l, 0x4f);
    lapic_write(&l, LAPIC_EOI, false, 0, 0);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x31);
    /* A vector pending twice is one IRR bit: delivered once. */
    lapic_accept(&l, 0x31);
    lapic_ack(&l, 0x31);
    CU_ASSERT_FALSE(lapic_irr_any(&l));
    lapic_write(&l, LAPIC_EOI, false, 0, 0);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), -1);
    /* EOI with nothing in service changes nothing. */
    lapic_write(&l, LAPIC_EOI, false, 0, 0);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_PPR, false, 0), 0);
}

static void test_tpr(void)
{
    struct hv_lapic l = enabled(0);
    lapic_write(&l, LAPIC_TPR, false, 0, 0x165); /* bits above 7 dropped in xAPIC */
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TPR, false, 0), 0x65);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_PPR, false, 0), 0x65);
    lapic_accept(&l, 0x6f);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), -1); /* class 6 not above TPR class 6 */
    lapic_accept(&l, 0x70);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x70);
    lapic_ack(&l, 0x70);
    /* ISR class above TPR: PPR is the ISR class, low bits 0. */
    CU_ASSERT_EQUAL(rd(&l, LAPIC_PPR, false, 0), 0x70);
    lapic_write(&l, LAPIC_EOI, false, 0, 0);
    lapic_write(&l, LAPIC_TPR, false, 0, 0x50);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x6f);
    /* TPR class above ISR class: PPR is TPR. */
    lapic_ack(&l, 0x6f);
    lapic_write(&l, LAPIC_TPR, false, 0, 0x7a);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_PPR, false, 0), 0x7a);
}

static void test_esr(void)
{
    struct hv_lapic l = enabled(0);
    /* Receive illegal vector: vectors 0-15 are refused. */
    CU_ASSERT_FALSE(lapic_accept(&l, 7));
    CU_ASSERT_FALSE(lapic_irr_any(&l));
    /* ESR shows errors only after a write latches them (11.5.3). */
    CU_ASSERT_EQUAL(rd(&l, LAPIC_ESR, false, 0), 0);
    lapic_write(&l, LAPIC_ESR, false, 0, 0);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_ESR, false, 0), LAPIC_ESR_RECV_ILLEGAL);
    lapic_write(&l, LAPIC_ESR, false, 0, 0);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_ESR, false, 0), 0);
    /* Send illegal vector: a fixed IPI with vector 3 is not sent, and the
       unmasked error LVT raises its vector. */
    lapic_write(&l, LAPIC_LVT_ERROR, false, 0, 0xe3);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_ICR_LO, false, 0, 0x40003), LAPIC_OK);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0xe3);
    lapic_write(&l, LAPIC_ESR, false, 0, 0);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_ESR, false, 0), LAPIC_ESR_SEND_ILLEGAL);
    /* A valid one is sent (the vCPU layer carries it out). */
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_ICR_HI, false, 0, 0x02000000), LAPIC_OK);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_ICR_LO, false, 0, 0x4041), LAPIC_IPI);
    CU_ASSERT_EQUAL(l.icr, 0x0200000000004041ull);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_ICR_HI, false, 0), 0x02000000);
}

static void test_timer_oneshot(void)
{
    struct hv_lapic l = enabled(0);
    CU_ASSERT_EQUAL(lapic_divisor(0x0), 2);
    CU_ASSERT_EQUAL(lapic_divisor(0x1), 4);
    CU_ASSERT_EQUAL(lapic_divisor(0x8), 32);
    CU_ASSERT_EQUAL(lapic_divisor(0xa), 128);
    CU_ASSERT_EQUAL(lapic_divisor(0xb), 1);
    lapic_write(&l, LAPIC_TDCR, false, 0, 0x1); /* divide by 4 */
    lapic_write(&l, LAPIC_LVT_TIMER, false, 0, 0x40);
    lapic_write(&l, LAPIC_TMICT, false, 100, 1000);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMICT, false, 500), 1000);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMCCT, false, 100), 1000);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMCCT, false, 500), 900);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMCCT, false, 4099), 1);
    CU_ASSERT_FALSE(lapic_timer_run(&l, 4099));
    CU_ASSERT_FALSE(lapic_irr_any(&l));
    CU_ASSERT_TRUE(lapic_timer_run(&l, 4100));
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x40);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMCCT, false, 5000), 0);
    CU_ASSERT_FALSE(lapic_timer_run(&l, 1000000)); /* one shot */
    /* Masked: it still counts down, without an interrupt. */
    lapic_ack(&l, 0x40);
    lapic_write(&l, LAPIC_EOI, false, 0, 0);
    lapic_write(&l, LAPIC_LVT_TIMER, false, 0, 0x40 | LAPIC_LVT_MASKED);
    lapic_write(&l, LAPIC_TMICT, false, 0, 10);
    CU_ASSERT_TRUE(lapic_timer_run(&l, 40));
    CU_ASSERT_FALSE(lapic_irr_any(&l));
    /* Writing 0 stops it. */
    lapic_write(&l, LAPIC_TMICT, false, 0, 10);
    lapic_write(&l, LAPIC_TMICT, false, 5, 0);
    CU_ASSERT_FALSE(lapic_timer_run(&l, 1000));
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMCCT, false, 6), 0);
}

static void test_timer_periodic(void)
{
    struct hv_lapic l = enabled(0);
    lapic_write(&l, LAPIC_TDCR, false, 0, 0xb); /* divide by 1 */
    lapic_write(&l, LAPIC_LVT_TIMER, false, 0, 0x20041);
    lapic_write(&l, LAPIC_TMICT, false, 0, 100);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMCCT, false, 30), 70);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMCCT, false, 130), 70); /* reloaded */
    CU_ASSERT_FALSE(lapic_timer_run(&l, 99));
    CU_ASSERT_TRUE(lapic_timer_run(&l, 100));
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x41);
    lapic_ack(&l, 0x41);
    lapic_write(&l, LAPIC_EOI, false, 0, 0);
    CU_ASSERT_FALSE(lapic_timer_run(&l, 199));
    CU_ASSERT_TRUE(lapic_timer_run(&l, 200));
    /* Periods missed give one interrupt, and the phase is kept. */
    CU_ASSERT_TRUE(lapic_timer_run(&l, 750));
    CU_ASSERT_EQUAL(l.t_next, 800);
    CU_ASSERT_FALSE(lapic_timer_run(&l, 799));
    /* A mode change disarms the timer (11.5.4.1). */
    lapic_write(&l, LAPIC_LVT_TIMER, false, 0, 0x00041);
    CU_ASSERT_FALSE(lapic_timer_run(&l, 100000));
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMCCT, false, 100000), 0);
}

static void test_timer_tscdl(void)
{
    struct hv_lapic l = enabled(0);
    /* Outside the TSC-deadline mode IA32_TSC_DEADLINE is ignored. */
    lapic_tscdl_write(&l, 5000);
    CU_ASSERT_EQUAL(lapic_tscdl_read(&l), 0);
    CU_ASSERT_FALSE(lapic_timer_run(&l, 6000));
    lapic_write(&l, LAPIC_LVT_TIMER, false, 0, 0x40042);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_LVT_TIMER, false, 0), 0x40042);
    lapic_tscdl_write(&l, 5000);
    CU_ASSERT_EQUAL(lapic_tscdl_read(&l), 5000);
    /* TMICT is ignored in this mode. */
    lapic_write(&l, LAPIC_TMICT, false, 0, 7);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMICT, false, 0), 0);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMCCT, false, 1), 0);
    CU_ASSERT_FALSE(lapic_timer_run(&l, 4999));
    CU_ASSERT_TRUE(lapic_timer_run(&l, 5000));
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x42);
    CU_ASSERT_EQUAL(lapic_tscdl_read(&l), 0); /* cleared when it fires */
    CU_ASSERT_FALSE(lapic_timer_run(&l, 90000));
    /* Writing 0 disarms; a past deadline fires at the next check. */
    lapic_tscdl_write(&l, 8000);
    lapic_tscdl_write(&l, 0);
    CU_ASSERT_FALSE(lapic_timer_run(&l, 9000));
    lapic_tscdl_write(&l, 10);
    CU_ASSERT_TRUE(lapic_timer_run(&l, 9000));
    /* Without the CPUID bit, mode 10b is not available. */
    struct hv_lapic n = enabled(0);
    n.tscdl_ok = 0;
    lapic_write(&n, LAPIC_LVT_TIMER, false, 0, 0x40042);
    CU_ASSERT_EQUAL(rd(&n, LAPIC_LVT_TIMER, false, 0), 0x42);
    CU_ASSERT_EQUAL(lapic_write(&n, LAPIC_LVT_TIMER, true, 0, 0x40042), LAPIC_GP);
}

static void test_base(void)
{
    struct hv_lapic l = enabled(5);
    uint64_t en = LAPIC_BASE_ADDR | LAPIC_BASE_EN;
    /* Reserved bits, beyond MAXPHYADDR, relocation, EXTD without EN. */
    CU_ASSERT_FALSE(lapic_set_base(&l, en | 0x200, 36));
    CU_ASSERT_FALSE(lapic_set_base(&l, en | (1ull << 40), 36));
    CU_ASSERT_FALSE(lapic_set_base(&l, 0xfec00000ull | LAPIC_BASE_EN, 36));
    CU_ASSERT_FALSE(lapic_set_base(&l, LAPIC_BASE_ADDR | LAPIC_BASE_EXTD, 36));
    CU_ASSERT_TRUE(lapic_set_base(&l, en | LAPIC_BASE_BSP, 36)); /* BSP is read-only */
    CU_ASSERT_EQUAL(l.base, en);
    /* xAPIC -> x2APIC; x2APIC -> xAPIC is invalid. */
    CU_ASSERT_TRUE(lapic_set_base(&l, en | LAPIC_BASE_EXTD, 36));
    CU_ASSERT_TRUE(lapic_x2apic(&l));
    CU_ASSERT_EQUAL(rd(&l, LAPIC_SVR, true, 0), 0x1ff); /* state kept */
    CU_ASSERT_FALSE(lapic_set_base(&l, en, 36));
    /* Disable: registers back to reset; then disabled -> x2APIC invalid. */
    lapic_accept(&l, 0x50);
    CU_ASSERT_TRUE(lapic_set_base(&l, LAPIC_BASE_ADDR, 36));
    CU_ASSERT_FALSE(lapic_hw_enabled(&l));
    CU_ASSERT_FALSE(lapic_irr_any(&l));
    CU_ASSERT_EQUAL(l.svr, 0xff);
    CU_ASSERT_EQUAL(l.id, 5);
    CU_ASSERT_FALSE(lapic_set_base(&l, en | LAPIC_BASE_EXTD, 36));
    CU_ASSERT_TRUE(lapic_set_base(&l, en, 36));
    /* No x2APIC in CPUID: EXTD is reserved. */
    struct hv_lapic n = fresh(1);
    n.x2apic_ok = 0;
    CU_ASSERT_FALSE(lapic_set_base(&n, en | LAPIC_BASE_EXTD, 36));
}

static void test_x2apic_rules(void)
{
    struct hv_lapic l = enabled(0x23);
    CU_ASSERT_TRUE(lapic_set_base(&l, LAPIC_BASE_ADDR | LAPIC_BASE_EN | LAPIC_BASE_EXTD, 36));
    uint64_t v;
    CU_ASSERT_EQUAL(rd(&l, LAPIC_ID, true, 0), 0x23);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_LDR, true, 0), (2u << 16) | (1u << 3));
    /* Write-only registers: reading #GP. */
    CU_ASSERT_EQUAL(lapic_read(&l, LAPIC_EOI, true, 0, &v), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_read(&l, LAPIC_SELF_IPI, true, 0, &v), LAPIC_GP);
    /* Registers without an MSR: APR, RRD, DFR, ICR_HI, CMCI, 0x40. */
    CU_ASSERT_EQUAL(lapic_read(&l, LAPIC_APR, true, 0, &v), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_read(&l, LAPIC_RRD, true, 0, &v), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_read(&l, LAPIC_DFR, true, 0, &v), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_DFR, true, 0, 0), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_read(&l, LAPIC_ICR_HI, true, 0, &v), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_read(&l, LAPIC_LVT_CMCI, true, 0, &v), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_read(&l, 0x040, true, 0, &v), LAPIC_GP);
    /* Read-only registers: writing #GP. */
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_ID, true, 0, 0x23), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_VER, true, 0, 0), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_LDR, true, 0, 0), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_PPR, true, 0, 0), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_IRR, true, 0, 0), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_TMCCT, true, 0, 0), LAPIC_GP);
    /* Reserved bits #GP. */
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_TPR, true, 0, 0x100), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_TPR, true, 0, 1ull << 32), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_EOI, true, 0, 1), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_ESR, true, 0, 1), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_SVR, true, 0, 0x11ff), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_TDCR, true, 0, 0x4), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_ICR_LO, true, 0, 0x2040), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_LVT_ERROR, true, 0, 0x400), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_LVT_TIMER, true, 0, 0x60040), LAPIC_GP);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_SELF_IPI, true, 0, 0x100), LAPIC_GP);
    /* None of the refused writes changed anything. */
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TPR, true, 0), 0);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_SVR, true, 0), 0x1ff);
    /* The valid forms. */
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_TPR, true, 0, 0x20), LAPIC_OK);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_SELF_IPI, true, 0, 0x61), LAPIC_OK);
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x61);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_ICR_LO, true, 0, 0x700004031ull), LAPIC_IPI);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_ICR_LO, true, 0), 0x700004031ull);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_EOI, true, 0, 0), LAPIC_OK);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_ESR, true, 0, 0), LAPIC_OK);
    /* The same accesses in xAPIC mode are ignored or read 0, never refused. */
    struct hv_lapic x = enabled(1);
    CU_ASSERT_EQUAL(lapic_write(&x, LAPIC_ID, false, 0, 0x5000000), LAPIC_OK);
    CU_ASSERT_EQUAL(rd(&x, LAPIC_ID, false, 0), 1u << 24);
    CU_ASSERT_EQUAL(lapic_write(&x, LAPIC_PPR, false, 0, 0xff), LAPIC_OK);
    CU_ASSERT_EQUAL(rd(&x, LAPIC_PPR, false, 0), 0);
    CU_ASSERT_EQUAL(lapic_write(&x, LAPIC_SVR, false, 0, 0xf1ff), LAPIC_OK);
    CU_ASSERT_EQUAL(rd(&x, LAPIC_SVR, false, 0), 0x1ff);
    CU_ASSERT_EQUAL(lapic_write(&x, LAPIC_SELF_IPI, false, 0, 0x61), LAPIC_OK);
    CU_ASSERT_FALSE(lapic_irr_any(&x));
}

static void test_match(void)
{
    struct hv_lapic l = enabled(3);
    CU_ASSERT_TRUE(lapic_match(&l, 3, false));
    CU_ASSERT_FALSE(lapic_match(&l, 4, false));
    CU_ASSERT_TRUE(lapic_match(&l, 0xff, false));
    CU_ASSERT_TRUE(lapic_match(&l, 0x103, false)); /* 8-bit field in xAPIC */
    /* Flat: LDR bit 2. */
    lapic_write(&l, LAPIC_LDR, false, 0, 0x04000000);
    CU_ASSERT_TRUE(lapic_match(&l, 0x06, true));
    CU_ASSERT_FALSE(lapic_match(&l, 0x09, true));
    CU_ASSERT_TRUE(lapic_match(&l, 0xff, true));
    /* Cluster: cluster 2, member bit 0. */
    lapic_write(&l, LAPIC_DFR, false, 0, 0x0fffffff);
    CU_ASSERT_EQUAL(rd(&l, LAPIC_DFR, false, 0), 0x0fffffff);
    lapic_write(&l, LAPIC_LDR, false, 0, 0x21000000);
    CU_ASSERT_TRUE(lapic_match(&l, 0x21, true));
    CU_ASSERT_TRUE(lapic_match(&l, 0x23, true));
    CU_ASSERT_FALSE(lapic_match(&l, 0x11, true));
    CU_ASSERT_FALSE(lapic_match(&l, 0x22, true));
    /* x2APIC: 32-bit physical IDs, cluster = ID >> 4, member 1 << (ID & 15). */
    struct hv_lapic x = enabled(0x23);
    lapic_set_base(&x, LAPIC_BASE_ADDR | LAPIC_BASE_EN | LAPIC_BASE_EXTD, 36);
    CU_ASSERT_TRUE(lapic_match(&x, 0x23, false));
    CU_ASSERT_FALSE(lapic_match(&x, 0x123, false));
    CU_ASSERT_FALSE(lapic_match(&x, 0xff, false));
    CU_ASSERT_TRUE(lapic_match(&x, 0xffffffffu, false));
    CU_ASSERT_TRUE(lapic_match(&x, 0x20008, true));
    CU_ASSERT_TRUE(lapic_match(&x, 0x2000c, true));
    CU_ASSERT_FALSE(lapic_match(&x, 0x10008, true));
    CU_ASSERT_FALSE(lapic_match(&x, 0x20004, true));
}

/* Count-based timers loaded just before the guest TSC wraps past 2^64
   (a guest may write its TSC): they expire after their count, modulo
   2^64, neither at once nor never. */
static void test_timer_wrap(void)
{
    const uint64_t t0 = ~0ull - 99; /* the TSC wraps 100 ticks later */
    struct hv_lapic l = enabled(0);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_TDCR, false, t0, 0xb), LAPIC_OK); /* divide by 1 */
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_LVT_TIMER, false, t0, 0x40), LAPIC_OK);
    CU_ASSERT_EQUAL(lapic_write(&l, LAPIC_TMICT, false, t0, 1000), LAPIC_OK);
    CU_ASSERT_FALSE(lapic_timer_run(&l, t0 + 1));
    CU_ASSERT_EQUAL(rd(&l, LAPIC_TMCCT, false, t0 + 500), 500); /* past the wrap */
    CU_ASSERT_FALSE(lapic_timer_run(&l, t0 + 999));
    CU_ASSERT_EQUAL(lapic_until(&l, t0 + 999), 1);
    CU_ASSERT_TRUE(lapic_timer_run(&l, t0 + 1000));
    CU_ASSERT_EQUAL(lapic_deliverable(&l), 0x40);
    /* Periodic across the wrap: once per period, not at every run. */
    struct hv_lapic p = enabled(0);
    lapic_write(&p, LAPIC_TDCR, false, t0, 0xb);
    lapic_write(&p, LAPIC_LVT_TIMER, false, t0, 0x20041);
    lapic_write(&p, LAPIC_TMICT, false, t0, 60);
    CU_ASSERT_TRUE(lapic_timer_run(&p, t0 + 60));
    CU_ASSERT_FALSE(lapic_timer_run(&p, t0 + 61)); /* next at t0 + 120, past the wrap */
    CU_ASSERT_FALSE(lapic_timer_run(&p, t0 + 119));
    CU_ASSERT_TRUE(lapic_timer_run(&p, t0 + 120));
    /* The TSC-deadline mode compares as the CPU does: a deadline below
       the TSC is due at once. */
    struct hv_lapic d = enabled(0);
    d.tscdl_ok = 1;
    lapic_write(&d, LAPIC_LVT_TIMER, false, t0, 0x40042);
    lapic_tscdl_write(&d, 5);
    CU_ASSERT_TRUE(lapic_timer_run(&d, t0));
}

/* A hostile guest's sweep: every register of the page and of the MSR
   range, written with patterns in both modes, at any TSC. Reads and writes
   give a defined result, x2APIC refusals change nothing, and the state
   stays within its architectural bits. */
static void test_sweep(void)
{
    static const uint64_t pats[] = {
        0,     ~0ull, 0xffffffffull, 0x100000000ull, 0x12345678ull, 0xfee00dffull, 0x0004c6ffull,
        0x7ull};
    static const uint64_t nows[] = {0, 1, 0x7fffffffffffffffull, ~0ull - 5};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int x2 = 0; x2 < 2; x2++) {
        for (unsigned n = 0; n < HV_ARRAY_SIZE(nows); n++) {
            struct hv_lapic l = enabled(7);
            if (x2)
                CU_ASSERT_TRUE(
                    lapic_set_base(&l, LAPIC_BASE_ADDR | LAPIC_BASE_EN | LAPIC_BASE_EXTD, 36));
            for (unsigned round = 0; round < 4; round++) {
                for (uint32_t reg = 0; reg < 0x1000; reg += 16) {
                    for (unsigned p = 0; p <= HV_ARRAY_SIZE(pats); p++) {
                        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                        uint64_t v = p < HV_ARRAY_SIZE(pats) ? pats[p] : seed;
                        struct hv_lapic before = l;
                        enum lapic_result r = lapic_write(&l, reg, x2, nows[n] + round, v);
                        CU_ASSERT(r == LAPIC_OK || r == LAPIC_GP || r == LAPIC_IPI);
                        if (r == LAPIC_GP)
                            CU_ASSERT_EQUAL(memcmp(&before, &l, sizeof(l)), 0);
                        if (!x2)
                            CU_ASSERT_NOT_EQUAL(r, LAPIC_GP);
                        uint64_t out;
                        r = lapic_read(&l, reg, x2, nows[n] + round + 3, &out);
                        CU_ASSERT(r == LAPIC_OK || (x2 && r == LAPIC_GP));
                        if (!x2)
                            CU_ASSERT(out <= 0xffffffffull);
                        lapic_timer_run(&l, nows[n] + round * 1000);
                        int d = lapic_deliverable(&l);
                        CU_ASSERT(d == -1 || (d >= 16 && d < 256));
                        if (d >= 0)
                            lapic_ack(&l, (uint8_t)d);
                    }
                }
            }
            CU_ASSERT(l.tpr <= 0xff);
            CU_ASSERT(l.svr <= 0x3ff);
            CU_ASSERT(l.tdcr <= 0xb);
            CU_ASSERT_EQUAL(l.isr[0] & 0xffff, 0); /* vectors 0-15 never accepted */
            CU_ASSERT_EQUAL(l.irr[0] & 0xffff, 0);
            for (unsigned i = 0; i < LAPIC_LVTS; i++)
                CU_ASSERT_EQUAL(l.lvt[i] & ~0x7ffffu, 0);
            CU_ASSERT(((l.lvt[LAPIC_LVT_T] >> LAPIC_TIMER_MODE_SHIFT) & 3u) != 3u);
        }
    }
}

/* ---- the vCPU layer on the mock backend ---- */

static struct mock_host mh;
static struct hv_slat_format ept;
static unsigned wakes;
static struct hv_vcpu *woken;

static void on_wake(void *opaque, struct hv_vcpu *vcpu)
{
    (void)opaque;
    wakes++;
    woken = vcpu;
}

/* One scripted exit, run until the script ends; the run's exit. */
static struct hv_exit run_one(struct hv_vcpu *v, uint32_t kind, uint32_t msr, uint64_t value)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.set_gprs = true;
    e.vx.kind = kind;
    e.vx.rip = 0x1000;
    e.vx.next_rip = kind == HV_VX_HLT ? 0x1001 : 0x1002;
    e.gpr[HV_GPR_RCX] = msr;
    e.gpr[HV_GPR_RAX] = (uint32_t)value;
    e.gpr[HV_GPR_RDX] = value >> 32;
    if (kind != HV_VX_NONE)
        mock_script(v, &e);
    struct hv_exit x;
    memset(&x, 0, sizeof(x));
    CU_ASSERT_EQUAL(hv_vcpu_run(v, &x), HV_OK);
    return x;
}

static bool ended(const struct hv_exit *x)
{
    return x->reason == HV_EXIT_UNHANDLED && x->raw_code == MOCK_END_OF_SCRIPT;
}

static void test_vcpu_layer(void)
{
    mock_host_init(&mh);
    hv_ept_format_init(&ept, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G, true, false);
    mock_backend_reset(&ept);
    mh.time = 5000;
    struct hv_ctx *ctx = NULL;
    CU_ASSERT_EQUAL_FATAL(hv_ctx_create_with_backend(&mh.ops, NULL, &mock_backend_ops, &ctx),
                          HV_OK);
    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = 2};
    struct hv_vm *vm, *vm2;
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(ctx, &vc, &vm), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(ctx, &vc, &vm2), HV_OK);

    /* The API's checks. A TSC of 1 GHz: a tick is a nanosecond. */
    struct hv_lapic_config cfg = {.size = sizeof(cfg), .tsc_khz = 1000000, .wake = on_wake};
    struct hv_lapic_config bad = cfg;
    CU_ASSERT_EQUAL(hv_lapic_enable(NULL, &cfg), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_lapic_enable(vm, NULL), HV_ERR_INVALID_ARG);
    bad.tsc_khz = 0;
    CU_ASSERT_EQUAL(hv_lapic_enable(vm, &bad), HV_ERR_INVALID_ARG);
    bad = cfg;
    bad.flags = 0x80;
    CU_ASSERT_EQUAL(hv_lapic_enable(vm, &bad), HV_ERR_INVALID_ARG);
    bad = cfg;
    bad.size = 4;
    CU_ASSERT_EQUAL(hv_lapic_enable(vm, &bad), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_lapic_enable(vm, &cfg), HV_OK);
    CU_ASSERT_EQUAL(hv_lapic_enable(vm, &cfg), HV_ERR_EXISTS);
    /* The xAPIC page is the library's: no region over it. */
    CU_ASSERT_EQUAL(hv_vm_mmio_register(vm, 0xfee00000ull, 0x1000, NULL, NULL), HV_ERR_EXISTS);
    struct hv_vcpu *v0, *v1, *w;
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(vm, 0, &v0), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(vm, 1, &v1), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(vm2, 0, &w), HV_OK);
    CU_ASSERT_EQUAL(hv_lapic_enable(vm2, &cfg), HV_ERR_STATE); /* vCPUs exist */
    CU_ASSERT_EQUAL(hv_lapic_raise(w, HV_LAPIC_FIXED, 0x40), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_lapic_send(vm2, 0, 0, HV_LAPIC_FIXED, 0x40), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_lapic_raise(NULL, HV_LAPIC_FIXED, 0x40), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_lapic_raise(v0, 3, 0x40), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_lapic_send(vm, 0, 4, HV_LAPIC_FIXED, 0x40), HV_ERR_INVALID_ARG);
    /* CPUID leaf 1 offers x2APIC and the TSC deadline only with the APIC. */
    uint32_t r[4];
    hv_cpuid_policy(v0, 1, 0, r);
    CU_ASSERT_EQUAL(r[2] & ((1u << 21) | (1u << 24)), (1u << 21) | (1u << 24));
    CU_ASSERT_TRUE(r[3] & (1u << 9));
    hv_cpuid_policy(w, 1, 0, r);
    CU_ASSERT_EQUAL(r[2] & ((1u << 21) | (1u << 24)), 0);

    struct mock_vcpu *m0 = mock_vcpu_of(v0), *m1 = mock_vcpu_of(v1);
    m0->st.rflags = 0x202; /* IF=1 */
    /* x2APIC MSRs #GP in xAPIC mode; IA32_APIC_BASE reads the BSP's. */
    struct hv_exit x = run_one(v0, HV_VX_RDMSR, 0x802, 0);
    CU_ASSERT_TRUE(ended(&x));
    CU_ASSERT_EQUAL(m0->injected_count, 1);
    CU_ASSERT_EQUAL(m0->injected[0].vector, 13);
    x = run_one(v0, HV_VX_RDMSR, 0x1b, 0);
    CU_ASSERT_EQUAL(v0->gpr[HV_GPR_RAX], 0xfee00900u);
    /* x2APIC on, software enable, a self-IPI: injected at the next entry. */
    run_one(v0, HV_VX_WRMSR, 0x1b, 0xfee00d00u);
    run_one(v0, HV_VX_WRMSR, 0x80f, 0x1ff);
    CU_ASSERT_EQUAL(m0->injected_count, 1);
    x = run_one(v0, HV_VX_WRMSR, 0x83f, 0x40);
    CU_ASSERT_TRUE(ended(&x));
    CU_ASSERT_EQUAL_FATAL(m0->injected_count, 2);
    CU_ASSERT_EQUAL(m0->injected[1].type, HV_EVENT_EXTINT);
    CU_ASSERT_EQUAL(m0->injected[1].vector, 0x40);
    /* Injected with nothing else waiting: the vCPU is quiet (its EOI may
       take the exit fast path: core/fast.h hv_quiet_now). */
    CU_ASSERT_EQUAL(v0->quiet, HV_QUIET);
    /* A device's 0x30 waits behind 0x40 in service, then comes after EOI;
       meanwhile the vCPU is not quiet (every exit looks again). */
    CU_ASSERT_EQUAL(hv_lapic_raise(v0, HV_LAPIC_FIXED, 0x30), HV_OK);
    run_one(v0, HV_VX_NONE, 0, 0);
    CU_ASSERT_EQUAL(m0->injected_count, 2);
    CU_ASSERT_EQUAL(v0->quiet, HV_QUIET_NOT);
    run_one(v0, HV_VX_WRMSR, 0x80b, 0);
    CU_ASSERT_EQUAL_FATAL(m0->injected_count, 3);
    CU_ASSERT_EQUAL(m0->injected[2].vector, 0x30);
    run_one(v0, HV_VX_WRMSR, 0x80b, 0);
    /* With IF=0 it waits for the window, and is not taken into ISR. */
    m0->st.rflags = 0x2;
    CU_ASSERT_EQUAL(hv_lapic_send(vm, 0, 0, HV_LAPIC_FIXED, 0x50), HV_OK);
    run_one(v0, HV_VX_NONE, 0, 0);
    CU_ASSERT_EQUAL(m0->injected_count, 3);
    CU_ASSERT_TRUE(m0->window[HV_EVENT_EXTINT]);
    CU_ASSERT_EQUAL(v0->lapic->isr[2], 0);
    m0->st.rflags = 0x202;
    x = run_one(v0, HV_VX_IRQ_WINDOW, 0, 0);
    CU_ASSERT_EQUAL_FATAL(m0->injected_count, 4);
    CU_ASSERT_EQUAL(m0->injected[3].vector, 0x50);
    run_one(v0, HV_VX_WRMSR, 0x80b, 0);
    /* An armed one-shot: a HLT returns its deadline in host ns. */
    run_one(v0, HV_VX_WRMSR, 0x83e, 0xb);
    run_one(v0, HV_VX_WRMSR, 0x832, 0x41);
    run_one(v0, HV_VX_WRMSR, 0x838, 3000000000u); /* 3 s at 1 GHz: valgrind is slow */
    /* Armed: quiet until its expiry, at most 3e9 host TSC ticks from now. */
    CU_ASSERT_EQUAL(v0->quiet, HV_QUIET_UNTIL);
    CU_ASSERT((int64_t)(v0->quiet_until - hv_rdtsc()) > 0 &&
              v0->quiet_until - hv_rdtsc() <= 3000000000ull);
    x = run_one(v0, HV_VX_HLT, 0, 0);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(x.hlt.source, HV_HLT_INSN);
    CU_ASSERT(x.hlt.deadline_ns > 5000 + 1000000000ull &&
              x.hlt.deadline_ns <= 5000 + 3000000000ull);
    /* Due by the HLT, not injectable before it (STI; HLT: the shadow):
       the HLT resumes inside the run. (The mock runs no guest time between
       an entry and its exit; vm.lapic has a timer expire in between.) */
    m0->st.interrupt_shadow = 1;
    run_one(v0, HV_VX_WRMSR, 0x838, 1);
    x = run_one(v0, HV_VX_HLT, 0, 0);
    CU_ASSERT_TRUE(ended(&x));
    CU_ASSERT_EQUAL(m0->injected_count, 4);
    CU_ASSERT_TRUE(m0->window[HV_EVENT_EXTINT]);
    m0->st.interrupt_shadow = 0;
    run_one(v0, HV_VX_IRQ_WINDOW, 0, 0);
    CU_ASSERT_EQUAL_FATAL(m0->injected_count, 5);
    CU_ASSERT_EQUAL(m0->injected[4].vector, 0x41);
    run_one(v0, HV_VX_WRMSR, 0x80b, 0);
    /* No timer: deadline 0. */
    x = run_one(v0, HV_VX_HLT, 0, 0);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(x.hlt.deadline_ns, 0);

    /* INIT to APIC ID 1: it waits for a SIPI without running the guest. */
    unsigned entries = m1->entries;
    CU_ASSERT_FALSE(hv_lapic_awaits_sipi(v1)); /* no HV_LAPIC_APS_WAIT_SIPI */
    CU_ASSERT_FALSE(hv_lapic_awaits_sipi(w));  /* no APIC */
    run_one(v0, HV_VX_WRMSR, 0x830, (1ull << 32) | 0x4500);
    CU_ASSERT_TRUE(hv_lapic_awaits_sipi(v1)); /* the INIT, not yet taken */
    x = run_one(v1, HV_VX_NONE, 0, 0);
    CU_ASSERT_TRUE(hv_lapic_awaits_sipi(v1)); /* taken: waiting */
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_HLT);
    CU_ASSERT_EQUAL(x.hlt.source, HV_HLT_WAIT_SIPI);
    x = run_one(v1, HV_VX_NONE, 0, 0);
    CU_ASSERT_EQUAL(x.hlt.source, HV_HLT_WAIT_SIPI);
    CU_ASSERT_EQUAL(m1->entries, entries);
    /* A fixed IPI does not start it; the SIPI does, and wakes it. */
    wakes = 0;
    run_one(v0, HV_VX_WRMSR, 0x830, (1ull << 32) | 0x4060);
    run_one(v0, HV_VX_WRMSR, 0x830, (1ull << 32) | 0x4608);
    CU_ASSERT_EQUAL(wakes, 1);
    CU_ASSERT_PTR_EQUAL(woken, v1);
    x = run_one(v1, HV_VX_NONE, 0, 0);
    CU_ASSERT_TRUE(ended(&x));
    CU_ASSERT_FALSE(hv_lapic_awaits_sipi(v1)); /* started */
    CU_ASSERT_EQUAL(m1->entries, entries + 1);
    CU_ASSERT_EQUAL(m1->st.seg[HV_SEG_CS].selector, 0x800);
    CU_ASSERT_EQUAL(m1->st.seg[HV_SEG_CS].base, 0x8000);
    CU_ASSERT_EQUAL(m1->st.rip, 0);
    CU_ASSERT_EQUAL(m1->st.cr0 & 1, 0);
    /* vCPU 1 disables its APIC: CPUID loses the APIC bit, the x2APIC MSRs
       #GP, interrupts are dropped. */
    m1->st.rflags = 0x202;
    unsigned inj1 = m1->injected_count;
    run_one(v1, HV_VX_WRMSR, 0x1b, 0xfee00000u);
    hv_cpuid_policy(v1, 1, 0, r);
    CU_ASSERT_FALSE(r[3] & (1u << 9));
    CU_ASSERT_EQUAL(hv_lapic_raise(v1, HV_LAPIC_FIXED, 0x44), HV_OK);
    run_one(v1, HV_VX_RDMSR, 0x80f, 0);
    CU_ASSERT_EQUAL_FATAL(m1->injected_count, inj1 + 1);
    CU_ASSERT_EQUAL(m1->injected[inj1].vector, 13);
    run_one(v1, HV_VX_WRMSR, 0x1b, 0xfee00800u);
    hv_cpuid_policy(v1, 1, 0, r);
    CU_ASSERT_TRUE(r[3] & (1u << 9));
    /* A second SIPI while it runs is ignored. */
    run_one(v0, HV_VX_WRMSR, 0x830, (1ull << 32) | 0x4609);
    x = run_one(v1, HV_VX_NONE, 0, 0);
    CU_ASSERT_TRUE(ended(&x));
    CU_ASSERT_EQUAL(m1->st.seg[HV_SEG_CS].base, 0x8000);

    CU_ASSERT_EQUAL(hv_vcpu_destroy(w), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_destroy(v0), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_destroy(v1), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_destroy(vm), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_destroy(vm2), HV_OK);
    CU_ASSERT_EQUAL(hv_ctx_destroy(ctx), HV_OK);
    CU_ASSERT(mock_host_clean(&mh));
    mock_host_fini(&mh);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("lapic", NULL, NULL);
    CU_add_test(s, "reset state, software disable", test_reset);
    CU_add_test(s, "priority classes, ISR, EOI order", test_priorities);
    CU_add_test(s, "TPR and PPR", test_tpr);
    CU_add_test(s, "ESR: illegal vectors, error LVT", test_esr);
    CU_add_test(s, "timer: one-shot, divider, mask", test_timer_oneshot);
    CU_add_test(s, "timer: periodic", test_timer_periodic);
    CU_add_test(s, "timer: TSC deadline", test_timer_tscdl);
    CU_add_test(s, "IA32_APIC_BASE transitions", test_base);
    CU_add_test(s, "x2APIC #GP rules", test_x2apic_rules);
    CU_add_test(s, "destination matching", test_match);
    CU_add_test(s, "timers across the TSC wrap", test_timer_wrap);
    CU_add_test(s, "hostile register sweep", test_sweep);
    CU_add_test(s, "vCPU layer on the mock backend", test_vcpu_layer);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

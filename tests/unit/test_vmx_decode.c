/*
 * Pure parts of the VMX backend: exit decoding into struct hv_vexit
 * (qualification layouts of SDM Vol. 3C 27.2.1 / 28.2.3.2), the segment
 * access-rights conversion (24.4.1), event encoding (24.8.3) and the
 * guest-state checks that diagnose failed entries (26.3.1).
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "vmx/vmx.h"
#include "vmx/vmx_arch.h"
#include "vmx/vmx_check.h"
#include "vmx/vmx_decode.h"

static void test_ar_conversion(void)
{
    /* 64-bit code: P S type 0xb DPL 0, L, G. VMX: 0xa09b. */
    uint16_t code64 = HV_SEG_P | HV_SEG_S | 0xb | HV_SEG_L | HV_SEG_G;
    CU_ASSERT_EQUAL(vmx_attr_to_ar(code64), 0xa09bu);
    CU_ASSERT_EQUAL(vmx_ar_to_attr(0xa09bu), code64);
    /* 32-bit flat data, DPL 3: 0xc0f3. */
    uint16_t data32 = HV_SEG_P | HV_SEG_S | 0x3 | (3u << HV_SEG_DPL_SHIFT) | HV_SEG_DB | HV_SEG_G;
    CU_ASSERT_EQUAL(vmx_attr_to_ar(data32), 0xc0f3u);
    CU_ASSERT_EQUAL(vmx_ar_to_attr(0xc0f3u), data32);
    /* Unusable: bit 16 <-> HV_SEG_UNUSABLE; AVL bit 12 <-> 8. */
    CU_ASSERT_EQUAL(vmx_attr_to_ar(HV_SEG_UNUSABLE), VMX_AR_UNUSABLE);
    CU_ASSERT_EQUAL(vmx_ar_to_attr(VMX_AR_UNUSABLE), HV_SEG_UNUSABLE);
    CU_ASSERT_EQUAL(vmx_attr_to_ar(HV_SEG_AVL), VMX_AR_AVL);
    /* Round trip of every attribute value. */
    for (uint32_t a = 0; a < 0x2000; a++)
        CU_ASSERT_EQUAL_FATAL(vmx_ar_to_attr(vmx_attr_to_ar((uint16_t)a)), a);
}

static struct vmx_exit_raw raw_exit(uint32_t reason, uint64_t qual)
{
    struct vmx_exit_raw r;
    memset(&r, 0, sizeof(r));
    r.reason = reason;
    r.qual = qual;
    r.rip = 0x1000;
    r.insn_len = 2;
    r.cpu_mode_addr_size = 4;
    return r;
}

static void test_io_decode(void)
{
    struct hv_vexit ex;
    /* OUT DX, AL to port 0x3f8: size 1 (0), direction out (bit 3 = 0). */
    struct vmx_exit_raw r = raw_exit(VMX_EXIT_IO, 0x03f80000ull);
    r.insn_len = 1;
    vmx_decode_exit(&r, &ex);
    CU_ASSERT_EQUAL(ex.kind, HV_VX_IO);
    CU_ASSERT_EQUAL(ex.io.port, 0x3f8);
    CU_ASSERT_EQUAL(ex.io.size, 1);
    CU_ASSERT_EQUAL(ex.io.write, 1);
    CU_ASSERT_EQUAL(ex.io.string, 0);
    CU_ASSERT_EQUAL(ex.insn_len, 1);
    CU_ASSERT_EQUAL(ex.next_rip, 0x1001);
    CU_ASSERT_EQUAL(ex.rip, 0x1000);
    CU_ASSERT_EQUAL(ex.raw_code, VMX_EXIT_IO);
    CU_ASSERT_EQUAL(ex.raw_info1, 0x03f80000ull);
    /* The guest-physical address field is undefined for this exit (SDM
       28.2.1): a stale value in it is not reported. */
    r.gpa = 0xdead000;
    vmx_decode_exit(&r, &ex);
    CU_ASSERT_EQUAL(ex.raw_info2, 0);
    /* IN EAX, imm8 0x71: size 4 (3), in (bit 3), immediate (bit 6). */
    r = raw_exit(VMX_EXIT_IO, (0x71ull << 16) | (1u << 6) | (1u << 3) | 3u);
    vmx_decode_exit(&r, &ex);
    CU_ASSERT_EQUAL(ex.io.port, 0x71);
    CU_ASSERT_EQUAL(ex.io.size, 4);
    CU_ASSERT_EQUAL(ex.io.write, 0);
    /* REP OUTSW with a 64-bit address and FS override: string, rep, size 2;
       instruction info: address size 2 (64) in 9:7, segment 4 (FS) in 17:15. */
    r = raw_exit(VMX_EXIT_IO, (0x80ull << 16) | (1u << 5) | (1u << 4) | 1u);
    r.insn_info_valid = true;
    r.insn_info = (2u << 7) | (4u << 15);
    vmx_decode_exit(&r, &ex);
    CU_ASSERT_EQUAL(ex.io.size, 2);
    CU_ASSERT(ex.io.string && ex.io.rep && ex.io.write);
    CU_ASSERT_EQUAL(ex.io.addr_size, 8);
    CU_ASSERT_EQUAL(ex.io.seg, HV_SEG_FS);
    /* INSB: segment is always ES; without instruction info the address
       size is the code's default. */
    r = raw_exit(VMX_EXIT_IO, (0x60ull << 16) | (1u << 4) | (1u << 3));
    vmx_decode_exit(&r, &ex);
    CU_ASSERT_EQUAL(ex.io.seg, HV_SEG_ES);
    CU_ASSERT_EQUAL(ex.io.addr_size, 4);
}

static void test_ept_violation_decode(void)
{
    struct hv_vexit ex;
    /* Write to an unmapped page, linear address valid, final translation. */
    struct vmx_exit_raw r = raw_exit(VMX_EXIT_EPT_VIOLATION, (1u << 1) | (1u << 7) | (1u << 8));
    r.gpa = 0x12345678;
    r.gla = 0xffff800000001000ull;
    vmx_decode_exit(&r, &ex);
    CU_ASSERT_EQUAL(ex.kind, HV_VX_NPF);
    CU_ASSERT_EQUAL(ex.npf.gpa, 0x12345678);
    CU_ASSERT_EQUAL(ex.npf.access, HV_ACCESS_WRITE);
    CU_ASSERT_EQUAL(ex.npf.present, 0);
    CU_ASSERT_EQUAL(ex.npf.gva_valid, 1);
    CU_ASSERT_EQUAL(ex.npf.gva, 0xffff800000001000ull);
    CU_ASSERT_EQUAL(ex.npf.during_walk, 0);
    CU_ASSERT_EQUAL(ex.insn_len, 0); /* not an instruction exit */
    CU_ASSERT_EQUAL(ex.next_rip, 0);
    CU_ASSERT_EQUAL(ex.raw_info2, 0x12345678);
    /* Read during a guest page walk of a readable-only page: present,
       bit 7 set, bit 8 clear. */
    r = raw_exit(VMX_EXIT_EPT_VIOLATION, (1u << 0) | (1u << 3) | (1u << 7));
    vmx_decode_exit(&r, &ex);
    CU_ASSERT_EQUAL(ex.npf.access, HV_ACCESS_READ);
    CU_ASSERT_EQUAL(ex.npf.present, 1);
    CU_ASSERT_EQUAL(ex.npf.during_walk, 1);
    /* Fetch without a linear address: neither gva nor walk flag. */
    r = raw_exit(VMX_EXIT_EPT_VIOLATION, (1u << 2));
    r.gla = 0xdead;
    vmx_decode_exit(&r, &ex);
    CU_ASSERT_EQUAL(ex.npf.access, HV_ACCESS_EXEC);
    CU_ASSERT_EQUAL(ex.npf.gva_valid, 0);
    CU_ASSERT_EQUAL(ex.npf.gva, 0);
    CU_ASSERT_EQUAL(ex.npf.during_walk, 0);
}

static void test_other_exits(void)
{
    static const struct {
        uint32_t reason;
        uint32_t kind;
        int insn;
    } map[] = {
        {VMX_EXIT_CPUID, HV_VX_CPUID, 1},
        {VMX_EXIT_RDMSR, HV_VX_RDMSR, 1},
        {VMX_EXIT_WRMSR, HV_VX_WRMSR, 1},
        {VMX_EXIT_HLT, HV_VX_HLT, 1},
        {VMX_EXIT_VMCALL, HV_VX_HYPERCALL, 1},
        {VMX_EXIT_TRIPLE_FAULT, HV_VX_SHUTDOWN, 0},
        {VMX_EXIT_EXTINT, HV_VX_EXTINT, 0},
        {VMX_EXIT_EXC_NMI, HV_VX_EXTINT, 0},
        {VMX_EXIT_INTR_WINDOW, HV_VX_IRQ_WINDOW, 0},
        {VMX_EXIT_NMI_WINDOW, HV_VX_NMI_WINDOW, 0},
        {VMX_EXIT_PREEMPT_TIMER, HV_VX_PREEMPT, 0},
        {VMX_EXIT_TASK_SWITCH, HV_VX_UNHANDLED, 0},
        {VMX_EXIT_XSETBV, HV_VX_XSETBV, 1},
        {VMX_EXIT_EPT_MISCONFIG, HV_VX_UNHANDLED, 0},
        {VMX_EXIT_INIT, HV_VX_UNHANDLED, 0},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        struct hv_vexit ex;
        struct vmx_exit_raw r = raw_exit(map[i].reason, 0);
        r.insn_len = 3;
        r.gpa = 0x5000;
        vmx_decode_exit(&r, &ex);
        CU_ASSERT_EQUAL(ex.kind, map[i].kind);
        /* The guest-physical address only where it is defined. */
        CU_ASSERT_EQUAL(ex.raw_info2, map[i].reason == VMX_EXIT_EPT_MISCONFIG ? 0x5000u : 0u);
        CU_ASSERT_EQUAL(ex.insn_len, map[i].insn ? 3u : 0u);
        CU_ASSERT_EQUAL(ex.next_rip, map[i].insn ? 0x1003u : 0u);
    }
    /* A nonsense length from a confused record is not trusted. */
    struct hv_vexit ex;
    struct vmx_exit_raw r = raw_exit(VMX_EXIT_CPUID, 0);
    r.insn_len = 16;
    vmx_decode_exit(&r, &ex);
    CU_ASSERT_EQUAL(ex.insn_len, 0);
    CU_ASSERT_EQUAL(ex.next_rip, 0);
}

static void test_names(void)
{
    CU_ASSERT_STRING_EQUAL(vmx_insn_error_name(7), "VM entry with invalid control field(s)");
    CU_ASSERT_STRING_EQUAL(vmx_insn_error_name(8), "VM entry with invalid host-state field(s)");
    CU_ASSERT_STRING_EQUAL(vmx_insn_error_name(14), "unknown VM-instruction error");
    CU_ASSERT_STRING_EQUAL(vmx_insn_error_name(1000), "unknown VM-instruction error");
    CU_ASSERT_STRING_EQUAL(vmx_exit_reason_name(48), "EPT violation");
    CU_ASSERT_STRING_EQUAL(vmx_exit_reason_name(35), "unknown exit reason");
}

/* Haswell-like fixed bits with unrestricted guest. */
static void test_config(struct vmx_config *c, bool ug)
{
    memset(c, 0, sizeof(*c));
    c->cr0_fixed0 = 0x80000021;
    c->cr0_fixed1 = 0xffffffff;
    c->cr4_fixed0 = 0x2000;
    c->cr4_fixed1 = 0x1727ff;
    c->hpa_bits = 40;
    c->ug = ug;
    c->guest_cr0_fixed0 = ug ? X86_CR0_NE : 0x80000021;
}

/* A valid 64-bit guest: long mode, flat segments, busy 64-bit TSS. */
static void long_mode_guest(struct vmx_guest_state *g)
{
    memset(g, 0, sizeof(*g));
    g->cr0 = X86_CR0_PE | X86_CR0_NE | X86_CR0_PG | X86_CR0_ET;
    g->cr4 = X86_CR4_PAE | X86_CR4_VMXE;
    g->cr3 = 0x1000;
    g->efer = X86_EFER_LME | X86_EFER_LMA;
    g->pat = 0x0007040600070406ull;
    g->rflags = 2;
    g->rip = 0xffffffff80001000ull;
    for (int i = 0; i < 8; i++) {
        g->seg[i].limit = 0xffffffff;
        g->seg[i].ar = 0xc093;
    }
    g->seg[HV_SEG_CS].ar = 0xa09b;
    g->seg[HV_SEG_CS].sel = 8;
    g->seg[HV_SEG_SS].sel = 16;
    g->seg[HV_SEG_LDTR].ar = VMX_AR_UNUSABLE;
    g->seg[HV_SEG_TR].ar = 0x8b;
    g->seg[HV_SEG_TR].limit = 0x67;
    g->seg[HV_SEG_TR].sel = 0x28;
    g->gdtr_limit = 0x37;
    g->idtr_limit = 0xfff;
    g->link_ptr = ~0ull;
    g->pin_ctls = VMX_PIN_VIRT_NMI;
    g->proc2_ctls = VMX_PROC2_EPT | VMX_PROC2_UG;
    g->entry_ctls =
        VMX_ENTRY_IA32E | VMX_ENTRY_LOAD_EFER | VMX_ENTRY_LOAD_PAT | VMX_ENTRY_LOAD_DEBUG;
}

/* Real mode at reset, as vmx_reset_state writes it. */
static void real_mode_guest(struct vmx_guest_state *g)
{
    memset(g, 0, sizeof(*g));
    g->cr0 = X86_CR0_NE | X86_CR0_ET;
    g->cr4 = X86_CR4_VMXE;
    g->pat = 0x0007040600070406ull;
    g->rflags = 2;
    g->rip = 0xfff0;
    for (int i = 0; i < 8; i++) {
        g->seg[i].limit = 0xffff;
        g->seg[i].ar = 0x93;
    }
    g->seg[HV_SEG_CS].sel = 0xf000;
    g->seg[HV_SEG_CS].base = 0xffff0000;
    g->seg[HV_SEG_CS].ar = 0x9b;
    g->seg[HV_SEG_LDTR].ar = 0x82;
    g->seg[HV_SEG_TR].ar = 0x8b;
    g->gdtr_limit = g->idtr_limit = 0xffff;
    g->link_ptr = ~0ull;
    g->proc2_ctls = VMX_PROC2_EPT | VMX_PROC2_UG;
    g->entry_ctls = VMX_ENTRY_LOAD_EFER | VMX_ENTRY_LOAD_PAT | VMX_ENTRY_LOAD_DEBUG;
}

#define EXPECT_FAIL(mutation, needle)                                                              \
    do {                                                                                           \
        struct vmx_guest_state g;                                                                  \
        char why[96];                                                                              \
        long_mode_guest(&g);                                                                       \
        mutation;                                                                                  \
        CU_ASSERT_FALSE(vmx_check_guest(&g, &cfg, why, sizeof(why)));                              \
        if (!strstr(why, needle))                                                                  \
            printf("\n  expected '%s', got '%s'\n", needle, why);                                  \
        CU_ASSERT_PTR_NOT_NULL(strstr(why, needle));                                               \
    } while (0)

static void test_guest_checks(void)
{
    struct vmx_config cfg;
    struct vmx_guest_state g;
    char why[96];

    test_config(&cfg, true);
    long_mode_guest(&g);
    CU_ASSERT_TRUE(vmx_check_guest(&g, &cfg, why, sizeof(why)));
    CU_ASSERT_STRING_EQUAL(why, "");
    real_mode_guest(&g);
    CU_ASSERT_TRUE(vmx_check_guest(&g, &cfg, why, sizeof(why)));
    /* Without UG the same real-mode state violates the CR0 fixed bits. */
    struct vmx_config noug;
    test_config(&noug, false);
    g.proc2_ctls &= ~VMX_PROC2_UG;
    CU_ASSERT_FALSE(vmx_check_guest(&g, &noug, why, sizeof(why)));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "CR0"));

    EXPECT_FAIL(g.cr0 &= ~X86_CR0_NE, "CR0");
    EXPECT_FAIL(g.cr0 &= ~X86_CR0_PE, "PG set without PE");
    EXPECT_FAIL(g.cr4 &= ~X86_CR4_VMXE, "CR4");
    EXPECT_FAIL(g.cr4 |= 1ull << 22, "CR4");
    EXPECT_FAIL(g.cr3 = 1ull << 45, "CR3");
    EXPECT_FAIL(g.dr7 = 1ull << 40, "DR7");
    EXPECT_FAIL(g.cr4 &= ~X86_CR4_PAE, "IA-32e mode guest without");
    EXPECT_FAIL(g.efer &= ~X86_EFER_LMA, "LMA differs from the IA-32e");
    EXPECT_FAIL(g.efer |= 1ull << 3, "reserved bits");
    EXPECT_FAIL(g.pat = 0x0007040600070402ull, "IA32_PAT");
    EXPECT_FAIL(g.seg[HV_SEG_CS].ar = 0xe09b, "CS.L and CS.D");
    EXPECT_FAIL(g.seg[HV_SEG_CS].ar = 0xa091, "CS type");
    EXPECT_FAIL(g.seg[HV_SEG_CS].ar = 0xa01b, "present");
    EXPECT_FAIL(g.seg[HV_SEG_SS].ar = 0xc09b, "SS type");
    EXPECT_FAIL(g.seg[HV_SEG_DS].ar = 0xc092, "not accessed");
    EXPECT_FAIL(g.seg[HV_SEG_DS].limit = 0x10000, "limit inconsistent with G");
    EXPECT_FAIL(g.seg[HV_SEG_TR].ar = 0x89, "TR type");
    EXPECT_FAIL(g.seg[HV_SEG_TR].ar = 0x8b | VMX_AR_UNUSABLE, "TR must be");
    EXPECT_FAIL(g.seg[HV_SEG_TR].sel = 0x2c, "TR selector has TI");
    EXPECT_FAIL(g.seg[HV_SEG_LDTR].ar = 0x89, "LDTR");
    EXPECT_FAIL(g.seg[HV_SEG_FS].base = 0x0000800000000000ull, "not canonical");
    EXPECT_FAIL(g.gdtr_limit = 0x10000, "limit above 0xffff");
    EXPECT_FAIL(g.rip = 0x0000800000000000ull, "RIP not canonical");
    EXPECT_FAIL((g.seg[HV_SEG_CS].ar = 0xc09b, g.rip = 1ull << 33), "above 4 GiB");
    EXPECT_FAIL(g.rflags = 0, "RFLAGS");
    EXPECT_FAIL(g.rflags = 2 | (1ull << 3), "RFLAGS");
    EXPECT_FAIL(g.rflags = 2 | X86_RFLAGS_VM, "virtual-8086");
    EXPECT_FAIL(g.interruptibility = VMX_INTERRUPT_STI, "STI blocking with RFLAGS.IF clear");
    EXPECT_FAIL(
        (g.rflags |= X86_RFLAGS_IF, g.interruptibility = VMX_INTERRUPT_STI | VMX_INTERRUPT_MOVSS),
        "both STI and MOV SS");
    EXPECT_FAIL(g.entry_intr_info = VMX_INTR_VALID | 0x20, "RFLAGS.IF clear");
    EXPECT_FAIL((g.rflags |= X86_RFLAGS_IF, g.interruptibility = VMX_INTERRUPT_STI,
                 g.entry_intr_info = VMX_INTR_VALID | 0x20),
                "interrupt shadow");
    EXPECT_FAIL((g.interruptibility = VMX_INTERRUPT_NMI,
                 g.entry_intr_info = VMX_INTR_VALID | (VMX_INTR_TYPE_NMI << 8) | 2),
                "virtual NMIs are blocked");
    EXPECT_FAIL(g.activity = 4, "activity");
    EXPECT_FAIL(g.link_ptr = 0, "link pointer");
    EXPECT_FAIL((g.seg[HV_SEG_SS].sel = 3, g.proc2_ctls &= ~VMX_PROC2_UG), "RPL");
}

static void test_event_encode(void)
{
    struct vmx_config cfg;
    struct vmx_event e;
    test_config(&cfg, true);

    struct hv_event gp = {
        .type = HV_EVENT_EXCEPTION, .vector = 13, .has_error_code = 1, .error_code = 0x18};
    CU_ASSERT_TRUE(vmx_event_encode(&cfg, &gp, false, &e));
    CU_ASSERT_EQUAL(e.info, VMX_INTR_VALID | VMX_INTR_HAS_ERROR | (3u << 8) | 13);
    CU_ASSERT_EQUAL(e.error, 0x18);
    /* Real mode: no error code (SDM 26.2.1.3). */
    CU_ASSERT_TRUE(vmx_event_encode(&cfg, &gp, true, &e));
    CU_ASSERT_EQUAL(e.info, VMX_INTR_VALID | (3u << 8) | 13);

    struct hv_event pf = {.type = HV_EVENT_EXCEPTION,
                          .vector = 14,
                          .has_error_code = 1,
                          .error_code = 2,
                          .cr2 = 0xcafe000};
    CU_ASSERT_TRUE(vmx_event_encode(&cfg, &pf, false, &e));
    CU_ASSERT(e.set_cr2);
    CU_ASSERT_EQUAL(e.cr2, 0xcafe000);

    struct hv_event irq = {.type = HV_EVENT_EXTINT, .vector = 0x30};
    CU_ASSERT_TRUE(vmx_event_encode(&cfg, &irq, false, &e));
    CU_ASSERT_EQUAL(e.info, VMX_INTR_VALID | 0x30);

    struct hv_event nmi = {.type = HV_EVENT_NMI, .vector = 2};
    CU_ASSERT_TRUE(vmx_event_encode(&cfg, &nmi, false, &e));
    CU_ASSERT_EQUAL(e.info, VMX_INTR_VALID | (2u << 8) | 2);
    nmi.vector = 3;
    CU_ASSERT_FALSE(vmx_event_encode(&cfg, &nmi, false, &e));

    struct hv_event soft = {.type = HV_EVENT_SOFTINT, .vector = 0x80};
    cfg.zero_len_inject = true;
    CU_ASSERT_TRUE(vmx_event_encode(&cfg, &soft, false, &e));
    CU_ASSERT_EQUAL(e.info, VMX_INTR_VALID | (4u << 8) | 0x80);
    CU_ASSERT_EQUAL(e.len, 0);
    cfg.zero_len_inject = false;
    CU_ASSERT_TRUE(vmx_event_encode(&cfg, &soft, false, &e));
    CU_ASSERT_EQUAL(e.info, VMX_INTR_VALID | 0x80);

    struct hv_event none = {.type = HV_EVENT_NONE};
    CU_ASSERT_TRUE(vmx_event_encode(&cfg, &none, false, &e));
    CU_ASSERT_EQUAL(e.info, 0);
    struct hv_event bad = {.type = HV_EVENT_EXCEPTION, .vector = 40};
    CU_ASSERT_FALSE(vmx_event_encode(&cfg, &bad, false, &e));
}

/* MSR bitmap (SDM 24.6.9): read-low at byte 0, read-high at 1024, write-low
   at 2048, write-high at 3072; bit set = exit. */
static int bitmap_exits(const uint8_t *bm, uint32_t msr, int write)
{
    uint32_t base = write ? 2048 : 0;
    if (msr >= 0xc0000000u) {
        base += 1024;
        msr -= 0xc0000000u;
    }
    return (bm[base + msr / 8] >> (msr % 8)) & 1;
}

static void test_msr_bitmap(void)
{
    static uint8_t bm[4096];
    static const uint32_t pass[] = {0x174,      0x175,      0x176,      0x277,
                                    0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083,
                                    0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102};
    static const uint32_t trap[] = {0x10,  0x1b,  0x3a,  0x8b,  0xfe,   0x179,      0x1a0,
                                    0x2ff, 0x480, 0x48c, 0x6e0, 0x1fff, 0xc0000103, 0xc0001fff};
    vmx_msr_bitmap_init(bm);
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        CU_ASSERT_EQUAL(bitmap_exits(bm, pass[i], 0), 0);
        CU_ASSERT_EQUAL(bitmap_exits(bm, pass[i], 1), 0);
    }
    for (size_t i = 0; i < sizeof(trap) / sizeof(trap[0]); i++) {
        CU_ASSERT_EQUAL(bitmap_exits(bm, trap[i], 0), 1);
        CU_ASSERT_EQUAL(bitmap_exits(bm, trap[i], 1), 1);
    }
    /* Exactly the pass-through MSRs are clear: 12 read bits + 12 write bits. */
    unsigned clear = 0;
    for (size_t i = 0; i < sizeof(bm); i++)
        clear += 8 - (unsigned)__builtin_popcount(bm[i]);
    CU_ASSERT_EQUAL(clear, 2 * sizeof(pass) / sizeof(pass[0]));
}

int main(void)
{
    CU_pSuite s;
    unsigned failed;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("vmx_decode", NULL, NULL);
    CU_add_test(s, "segment access rights", test_ar_conversion);
    CU_add_test(s, "I/O exits", test_io_decode);
    CU_add_test(s, "EPT violations", test_ept_violation_decode);
    CU_add_test(s, "other exits", test_other_exits);
    CU_add_test(s, "names", test_names);
    CU_add_test(s, "guest-state checks", test_guest_checks);
    CU_add_test(s, "event encoding", test_event_encode);
    CU_add_test(s, "MSR bitmap", test_msr_bitmap);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

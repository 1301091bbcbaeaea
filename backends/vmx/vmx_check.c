/*
 * VM-entry guest-state checks, SDM Vol. 3C 26.3.1.1 to 26.3.1.5, in the
 * order the manual lists them. Checks of features libhv never enables
 * (SMM, dual-monitor, PKRS, CET, ...) are left out; the VMCS link pointer
 * and virtual-8086 cases are covered because a guest can reach them.
 */
#include "vmx/vmx_check.h"
#include "vmx/vmx_arch.h"
#include "core/util.h"
#include <hv/vcpu.h>

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        hv_snprintf(reason, size, __VA_ARGS__);                                                    \
        return false;                                                                              \
    } while (0)

static const char *const seg_names[8] = {"ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR"};

/* 48-bit canonical (SDM Vol. 1 3.3.7.1). */
static bool canonical(uint64_t a)
{
    return hv_canonical(a, 48);
}

/* Limit vs granularity (SDM 26.3.1.2): bits 11:0 not all ones -> G=0;
   any of bits 31:20 set -> G=1. */
static bool granularity_ok(const struct vmx_seg_state *s)
{
    if ((s->limit & 0xfffu) != 0xfffu && (s->ar & VMX_AR_G))
        return false;
    if ((s->limit & 0xfff00000u) && !(s->ar & VMX_AR_G))
        return false;
    return true;
}

static bool check_crs(const struct vmx_guest_state *g, const struct vmx_config *cfg, char *reason,
                      size_t size)
{
    bool ug = (g->proc2_ctls & VMX_PROC2_UG) != 0;
    bool ia32e = (g->entry_ctls & VMX_ENTRY_IA32E) != 0;
    uint64_t fixed0 = cfg->cr0_fixed0 & ~(ug ? (X86_CR0_PE | X86_CR0_PG) : 0);

    /* 26.3.1.1 */
    if (!vmx_fixed_ok(g->cr0, fixed0, cfg->cr0_fixed1 | 0xffffffff00000000ull) || (g->cr0 >> 32))
        FAIL("guest CR0 0x%llx violates the VMX fixed bits (fixed0 0x%llx)",
             (unsigned long long)g->cr0, (unsigned long long)fixed0);
    if ((g->cr0 & X86_CR0_PG) && !(g->cr0 & X86_CR0_PE))
        FAIL("guest CR0.PG set without PE");
    if (!vmx_fixed_ok(g->cr4, cfg->cr4_fixed0, cfg->cr4_fixed1))
        FAIL("guest CR4 0x%llx violates the VMX fixed bits (must have 0x%llx, may have 0x%llx)",
             (unsigned long long)g->cr4, (unsigned long long)cfg->cr4_fixed0,
             (unsigned long long)cfg->cr4_fixed1);
    if (cfg->hpa_bits < 64 && (g->cr3 >> cfg->hpa_bits))
        FAIL("guest CR3 0x%llx has bits beyond MAXPHYADDR", (unsigned long long)g->cr3);
    if ((g->entry_ctls & VMX_ENTRY_LOAD_DEBUG) && (g->dr7 >> 32))
        FAIL("guest DR7 bits 63:32 set");
    if (ia32e && (!(g->cr0 & X86_CR0_PG) || !(g->cr4 & X86_CR4_PAE)))
        FAIL("IA-32e mode guest without CR0.PG and CR4.PAE");
    if (!ia32e && (g->cr4 & X86_CR4_PCIDE))
        FAIL("guest CR4.PCIDE set outside IA-32e mode");
    if (g->entry_ctls & VMX_ENTRY_LOAD_PAT) {
        for (int i = 0; i < 8; i++) {
            uint8_t t = (uint8_t)(g->pat >> (8 * i));
            if (t == 2 || t == 3 || t > 7)
                FAIL("guest IA32_PAT entry %d has invalid type %u", i, t);
        }
    }
    if (g->entry_ctls & VMX_ENTRY_LOAD_EFER) {
        uint64_t known = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
        if (g->efer & ~known)
            FAIL("guest IA32_EFER 0x%llx has reserved bits", (unsigned long long)g->efer);
        if (!!(g->efer & X86_EFER_LMA) != ia32e)
            FAIL("guest EFER.LMA differs from the IA-32e mode guest control");
        if ((g->cr0 & X86_CR0_PG) && !!(g->efer & X86_EFER_LMA) != !!(g->efer & X86_EFER_LME))
            FAIL("guest EFER.LMA differs from EFER.LME with CR0.PG set");
    }
    return true;
}

static bool check_v86_seg(const struct vmx_seg_state *s, int i, char *reason, size_t size)
{
    if (s->base != (uint64_t)s->sel << 4)
        FAIL("virtual-8086 guest %s base is not selector*16", seg_names[i]);
    if (s->limit != 0xffff)
        FAIL("virtual-8086 guest %s limit is not 0xffff", seg_names[i]);
    if (s->ar != 0xf3)
        FAIL("virtual-8086 guest %s access rights are not 0xf3", seg_names[i]);
    return true;
}

static bool check_segs(const struct vmx_guest_state *g, char *reason, size_t size)
{
    const struct vmx_seg_state *cs = &g->seg[HV_SEG_CS], *ss = &g->seg[HV_SEG_SS];
    const struct vmx_seg_state *tr = &g->seg[HV_SEG_TR], *ldtr = &g->seg[HV_SEG_LDTR];
    bool ug = (g->proc2_ctls & VMX_PROC2_UG) != 0;
    bool ia32e = (g->entry_ctls & VMX_ENTRY_IA32E) != 0;
    bool v86 = (g->rflags & X86_RFLAGS_VM) != 0;

    /* 26.3.1.2: selectors. */
    if (tr->sel & 4)
        FAIL("guest TR selector has TI set");
    if (!(ldtr->ar & VMX_AR_UNUSABLE) && (ldtr->sel & 4))
        FAIL("guest LDTR selector has TI set");
    if (!v86 && !ug && (ss->sel & 3) != (cs->sel & 3))
        FAIL("guest SS.RPL differs from CS.RPL");

    /* Bases (64-bit capable CPU). */
    if (!canonical(tr->base) || !canonical(g->seg[HV_SEG_FS].base) ||
        !canonical(g->seg[HV_SEG_GS].base))
        FAIL("guest TR/FS/GS base not canonical");
    if (!(ldtr->ar & VMX_AR_UNUSABLE) && !canonical(ldtr->base))
        FAIL("guest LDTR base not canonical");
    if (cs->base >> 32)
        FAIL("guest CS base bits 63:32 set");
    for (int i = HV_SEG_ES; i <= HV_SEG_DS; i++)
        if (i != HV_SEG_CS && !(g->seg[i].ar & VMX_AR_UNUSABLE) && (g->seg[i].base >> 32))
            FAIL("guest %s base bits 63:32 set", seg_names[i]);

    if (v86) {
        for (int i = HV_SEG_ES; i <= HV_SEG_GS; i++)
            if (!check_v86_seg(&g->seg[i], i, reason, size))
                return false;
    } else {
        uint32_t ct = cs->ar & VMX_AR_TYPE_MASK;
        if (!(ct == 9 || ct == 11 || ct == 13 || ct == 15 || (ug && ct == 3)))
            FAIL("guest CS type %u is not an accessed code segment", ct);
        if (!(cs->ar & VMX_AR_S) || !(cs->ar & VMX_AR_P))
            FAIL("guest CS must be a present code/data segment (S=1, P=1)");
        if (cs->ar & VMX_AR_RESERVED)
            FAIL("guest CS access rights reserved bits set");
        if (ct == 3 && VMX_AR_DPL(cs->ar) != 0)
            FAIL("guest CS type 3 with DPL %u", VMX_AR_DPL(cs->ar));
        if ((ct == 9 || ct == 11) && VMX_AR_DPL(cs->ar) != VMX_AR_DPL(ss->ar))
            FAIL("guest CS.DPL %u differs from SS.DPL %u", VMX_AR_DPL(cs->ar), VMX_AR_DPL(ss->ar));
        if ((ct == 13 || ct == 15) && VMX_AR_DPL(cs->ar) > VMX_AR_DPL(ss->ar))
            FAIL("guest conforming CS.DPL above SS.DPL");
        if (ia32e && (cs->ar & VMX_AR_L) && (cs->ar & VMX_AR_DB))
            FAIL("guest CS.L and CS.D both set in IA-32e mode");
        if (!granularity_ok(cs))
            FAIL("guest CS limit inconsistent with G");

        if (!(ss->ar & VMX_AR_UNUSABLE)) {
            uint32_t t = ss->ar & VMX_AR_TYPE_MASK;
            if (t != 3 && t != 7)
                FAIL("guest SS type %u is not a writable data segment", t);
            if (!(ss->ar & VMX_AR_S) || !(ss->ar & VMX_AR_P) || (ss->ar & VMX_AR_RESERVED))
                FAIL("guest SS must be present with S=1 and no reserved bits");
            if (!granularity_ok(ss))
                FAIL("guest SS limit inconsistent with G");
        }
        if (!ug && VMX_AR_DPL(ss->ar) != (ss->sel & 3u))
            FAIL("guest SS.DPL differs from SS.RPL");
        if (!(g->cr0 & X86_CR0_PE) && VMX_AR_DPL(ss->ar) != 0)
            FAIL("guest SS.DPL must be 0 with CR0.PE clear");

        for (int i = HV_SEG_ES; i <= HV_SEG_GS; i++) {
            const struct vmx_seg_state *s = &g->seg[i];
            uint32_t t = s->ar & VMX_AR_TYPE_MASK;
            if (i == HV_SEG_CS || i == HV_SEG_SS || (s->ar & VMX_AR_UNUSABLE))
                continue;
            if (!(t & 1))
                FAIL("guest %s type %u is not accessed", seg_names[i], t);
            if ((t & 8) && !(t & 2))
                FAIL("guest %s is an execute-only code segment", seg_names[i]);
            if (!(s->ar & VMX_AR_S) || !(s->ar & VMX_AR_P) || (s->ar & VMX_AR_RESERVED))
                FAIL("guest %s must be present with S=1 and no reserved bits", seg_names[i]);
            if (!ug && t <= 11 && VMX_AR_DPL(s->ar) < (s->sel & 3u))
                FAIL("guest %s DPL below its RPL", seg_names[i]);
            if (!granularity_ok(s))
                FAIL("guest %s limit inconsistent with G", seg_names[i]);
        }
    }

    /* TR: a busy TSS, never unusable. */
    {
        uint32_t t = tr->ar & VMX_AR_TYPE_MASK;
        if (ia32e ? t != 11 : (t != 3 && t != 11))
            FAIL("guest TR type %u is not a busy TSS%s", t, ia32e ? " (64-bit)" : "");
        if ((tr->ar & VMX_AR_S) || !(tr->ar & VMX_AR_P) || (tr->ar & VMX_AR_UNUSABLE) ||
            (tr->ar & VMX_AR_RESERVED))
            FAIL("guest TR must be a present, usable system segment");
        if (!granularity_ok(tr))
            FAIL("guest TR limit inconsistent with G");
    }
    if (!(ldtr->ar & VMX_AR_UNUSABLE)) {
        if ((ldtr->ar & VMX_AR_TYPE_MASK) != 2 || (ldtr->ar & VMX_AR_S) || !(ldtr->ar & VMX_AR_P) ||
            (ldtr->ar & VMX_AR_RESERVED))
            FAIL("guest LDTR must be a present LDT descriptor (type 2, S=0)");
        if (!granularity_ok(ldtr))
            FAIL("guest LDTR limit inconsistent with G");
    }
    return true;
}

static bool check_rest(const struct vmx_guest_state *g, char *reason, size_t size)
{
    bool ia32e = (g->entry_ctls & VMX_ENTRY_IA32E) != 0;
    bool cs_l = (g->seg[HV_SEG_CS].ar & VMX_AR_L) != 0;
    uint32_t ii = g->entry_intr_info;
    bool inject = (ii & VMX_INTR_VALID) != 0;
    uint32_t itype = VMX_INTR_TYPE(ii);
    uint32_t intr = g->interruptibility;

    /* 26.3.1.3 */
    if (!canonical(g->gdtr_base) || !canonical(g->idtr_base))
        FAIL("guest GDTR/IDTR base not canonical");
    if ((g->gdtr_limit >> 16) || (g->idtr_limit >> 16))
        FAIL("guest GDTR/IDTR limit above 0xffff");

    /* 26.3.1.4 */
    if ((!ia32e || !cs_l) && (g->rip >> 32))
        FAIL("guest RIP 0x%llx above 4 GiB outside 64-bit code", (unsigned long long)g->rip);
    if (ia32e && cs_l && !canonical(g->rip))
        FAIL("guest RIP not canonical");
    if ((g->rflags & X86_RFLAGS_RESERVED) || !(g->rflags & X86_RFLAGS_FIXED))
        FAIL("guest RFLAGS 0x%llx reserved bits wrong", (unsigned long long)g->rflags);
    if ((ia32e || !(g->cr0 & X86_CR0_PE)) && (g->rflags & X86_RFLAGS_VM))
        FAIL("guest RFLAGS.VM set in IA-32e mode or with CR0.PE clear");
    if (inject && itype == VMX_INTR_TYPE_EXTINT && !(g->rflags & X86_RFLAGS_IF))
        FAIL("external interrupt injected with guest RFLAGS.IF clear");

    /* 26.3.1.5 */
    if (g->activity > 3)
        FAIL("guest activity state %u invalid", g->activity);
    if (intr >> 5)
        FAIL("guest interruptibility reserved bits set");
    if ((intr & VMX_INTERRUPT_STI) && (intr & VMX_INTERRUPT_MOVSS))
        FAIL("guest blocked by both STI and MOV SS");
    if (!(g->rflags & X86_RFLAGS_IF) && (intr & VMX_INTERRUPT_STI))
        FAIL("guest STI blocking with RFLAGS.IF clear");
    if (inject && itype == VMX_INTR_TYPE_EXTINT &&
        (intr & (VMX_INTERRUPT_STI | VMX_INTERRUPT_MOVSS)))
        FAIL("external interrupt injected inside an interrupt shadow");
    if (inject && itype == VMX_INTR_TYPE_NMI && (intr & VMX_INTERRUPT_MOVSS))
        FAIL("NMI injected with MOV SS blocking");
    if (inject && itype == VMX_INTR_TYPE_NMI && (g->pin_ctls & VMX_PIN_VIRT_NMI) &&
        (intr & VMX_INTERRUPT_NMI))
        FAIL("NMI injected while virtual NMIs are blocked");
    if (g->link_ptr != ~0ull)
        FAIL("VMCS link pointer is not all ones");
    return true;
}

bool vmx_check_guest(const struct vmx_guest_state *g, const struct vmx_config *cfg, char *reason,
                     size_t size)
{
    if (size)
        reason[0] = 0;
    return check_crs(g, cfg, reason, size) && check_segs(g, reason, size) &&
           check_rest(g, reason, size);
}

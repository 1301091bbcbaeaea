/*
 * Unit tests of the SVM backend's pure parts, in the hosted build: VMCB
 * layout (APM Vol. 2 Appendix B), segment conversion, the VMRUN consistency
 * checks and INVALID diagnosis, the ASID allocator and its flush rule, the
 * MSR permission map, instruction lengths, event encoding and re-injection,
 * and get/set_state on a VMCB built without hardware.
 */
#include <CUnit/Basic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assist.h"
#include "core/cpu.h"
#include "core/fast.h"
#include "core/pv.h"
#include "core/util.h"
#include "lapic/lapic.h"
#include "io_exit_check.h"
#include "mock_host.h"
#include "svm/svm.h"
#include "svm/svm_insn_fast.h"

static struct mock_host mh;

static void test_vmcb_layout(void)
{
    /* Offsets from APM Vol. 2 Tables B-1 and B-2 (the header also pins
       them at compile time). */
    CU_ASSERT_EQUAL(sizeof(struct vmcb), 4096);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.intercept_misc1), 0x00c);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.intercept_misc2), 0x010);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.iopm_base_pa), 0x040);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.msrpm_base_pa), 0x048);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.tsc_offset), 0x050);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.asid), 0x058);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.tlb_control), 0x05c);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.vintr), 0x060);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.int_state), 0x068);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.exitcode), 0x070);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.exitinfo1), 0x078);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.exitinfo2), 0x080);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.exitintinfo), 0x088);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.np_control), 0x090);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.eventinj), 0x0a8);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.n_cr3), 0x0b0);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.clean), 0x0c0);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.nrip), 0x0c8);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, ctl.insn_len), 0x0d0);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.es), 0x400);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.cs), 0x410);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.gdtr), 0x460);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.ldtr), 0x470);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.idtr), 0x480);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.tr), 0x490);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.cpl), 0x4cb);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.efer), 0x4d0);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.cr4), 0x548);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.cr3), 0x550);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.cr0), 0x558);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.dr7), 0x560);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.dr6), 0x568);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.rflags), 0x570);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.rip), 0x578);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.rsp), 0x5d8);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.rax), 0x5f8);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.star), 0x600);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.kernel_gs_base), 0x620);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.sysenter_cs), 0x628);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.cr2), 0x640);
    CU_ASSERT_EQUAL(offsetof(struct vmcb, save.g_pat), 0x668);
    CU_ASSERT_EQUAL(sizeof(struct vmcb_seg), 16);
}

static void test_segments(void)
{
    struct vmcb_seg v = {.selector = 0x10, .attrib = 0x0a9b, .limit = 0xffffffff, .base = 0x1000};
    struct hv_segment h;
    svm_seg_to_hv(&v, &h);
    CU_ASSERT_EQUAL(h.selector, 0x10);
    CU_ASSERT_EQUAL(h.attr, 0x0a9b); /* same layout: P, S, type B, L, G */
    CU_ASSERT_EQUAL(h.limit, 0xffffffffu);
    CU_ASSERT_EQUAL(h.base, 0x1000);

    /* P=0 reads as unusable; unusable writes P=0 and keeps the rest. */
    v.attrib = 0x0013;
    svm_seg_to_hv(&v, &h);
    CU_ASSERT_EQUAL(h.attr, 0x0013 | HV_SEG_UNUSABLE);
    h.attr = HV_SEG_UNUSABLE | 0x0093;
    svm_seg_from_hv(&h, &v);
    CU_ASSERT_EQUAL(v.attrib, 0x0013);
    h.attr = 0x0093;
    svm_seg_from_hv(&h, &v);
    CU_ASSERT_EQUAL(v.attrib, 0x0093);
}

static const struct svm_limits lim = {
    .cr4_allowed = 0x7ff | (1ull << 16) | (1ull << 18) | (1ull << 20),
    .efer_allowed = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME,
    .hpa_bits = 40,
};

/* A VMCB VMRUN accepts: reset state, VMRUN intercept, ASID 1. */
static void good_vmcb(struct vmcb *v)
{
    memset(v, 0, sizeof(*v));
    svm_vmcb_reset(v);
    v->ctl.intercept_misc2 = SVM_I2_VMRUN;
    v->ctl.asid = 1;
    v->ctl.np_control = SVM_NP_ENABLE;
    v->ctl.iopm_base_pa = 0x100000;
    v->ctl.msrpm_base_pa = 0x200000;
}

static void long_mode(struct vmcb *v)
{
    v->save.cr0 = 0x80000011;
    v->save.cr4 = 0x20;
    v->save.efer = EFER_SVME | EFER_LME | EFER_LMA;
    v->save.cs.attrib = 0x0a9b;
}

/* One broken field per case, starting from a valid long-mode VMCB. */
static const char *const check_reasons[] = {
    "EFER.SVME is clear",
    "CR0.NW set with CR0.CD clear",
    "CR0[63:32] not zero",
    "CR0.PG set without CR0.PE",
    "CR4 reserved bit set",
    "CR3 reserved bit set",
    "DR6[63:32] not zero",
    "DR7[63:32] not zero",
    "EFER reserved bit set",
    "EFER.LME and CR0.PG set with CR4.PAE clear",
    "long mode with both CS.L and CS.D set",
    "EFER.LMA differs from EFER.LME && CR0.PG",
    "VMRUN intercept clear",
    "guest ASID is 0",
    "IOPM beyond the physical address width",
    "MSRPM beyond the physical address width",
    "G_PAT holds a reserved memory type",
    "EVENTINJ type is reserved",
    "EVENTINJ exception vector is 2 or above 31",
};

static void check_mutate(unsigned i, struct vmcb *x)
{
    switch (i) {
    case 0:
        x->save.efer &= ~EFER_SVME;
        break;
    case 1:
        x->save.cr0 = 0x20000011;
        break;
    case 2:
        x->save.cr0 |= 1ull << 32;
        break;
    case 3:
        x->save.cr0 = 0x80000010;
        x->save.efer = EFER_SVME;
        break;
    case 4:
        x->save.cr4 |= 1ull << 13;
        break; /* VMXE: reserved on AMD */
    case 5:
        x->save.cr3 = 1ull << 52;
        break;
    case 6:
        x->save.dr6 = 1ull << 32;
        break;
    case 7:
        x->save.dr7 = 1ull << 40;
        break;
    case 8:
        x->save.efer |= EFER_FFXSR;
        break; /* not in this CPU's limits */
    case 9:
        x->save.cr4 = 0;
        break;
    case 10:
        x->save.cs.attrib = 0x0e9b;
        break;
    case 11:
        x->save.efer &= ~EFER_LMA;
        break;
    case 12:
        x->ctl.intercept_misc2 = 0;
        break;
    case 13:
        x->ctl.asid = 0;
        break;
    case 14:
        x->ctl.iopm_base_pa = 1ull << 40;
        break;
    case 15:
        x->ctl.msrpm_base_pa = (1ull << 40) - 4096;
        break;
    case 16:
        x->save.g_pat = 0x0007040600070402ull;
        break;
    case 17:
        x->ctl.eventinj = SVM_EVT_V | (1ull << 8);
        break;
    default:
        x->ctl.eventinj = SVM_EVT_V | (3ull << 8) | 2;
        break;
    }
}

static void test_check(void)
{
    static struct vmcb v;
    good_vmcb(&v);
    struct svm_check_in in;
    svm_check_in_from_vmcb(&v, &in);
    CU_ASSERT_PTR_NULL(svm_check_state(&in, &lim));
    long_mode(&v);
    svm_check_in_from_vmcb(&v, &in);
    CU_ASSERT_PTR_NULL(svm_check_state(&in, &lim));

    for (unsigned i = 0; i < HV_ARRAY_SIZE(check_reasons); i++) {
        good_vmcb(&v);
        long_mode(&v);
        check_mutate(i, &v);
        const char *why = svm_diagnose_vmcb(&v, &lim);
        if (strcmp(why, check_reasons[i]) != 0)
            printf("\ncase %u: got \"%s\", expected \"%s\"\n", i, why, check_reasons[i]);
        CU_ASSERT_STRING_EQUAL(why, check_reasons[i]);
    }
    /* A VMCB no check explains still gets a reason. */
    good_vmcb(&v);
    CU_ASSERT(strlen(svm_diagnose_vmcb(&v, &lim)) > 0);
    CU_ASSERT(strlen(svm_diagnose_vmcb(&v, &lim)) < 64);
}

static void test_asid(void)
{
    struct hv_host host;
    struct svm_asid_pool p;
    mock_host_init(&mh);
    CU_ASSERT_EQUAL(hv_host_init(&host, &mh.ops), HV_OK);

    CU_ASSERT_EQUAL(svm_asid_pool_init(&p, &host, 1), HV_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(svm_asid_pool_init(&p, &host, 16), HV_OK);
    /* ASIDs 1..15, never 0, then exhaustion. */
    uint32_t got[15];
    for (unsigned i = 0; i < 15; i++) {
        got[i] = svm_asid_alloc(&p, &host);
        CU_ASSERT_EQUAL(got[i], i + 1);
    }
    CU_ASSERT_EQUAL(svm_asid_alloc(&p, &host), 0);
    svm_asid_free(&p, &host, 7);
    svm_asid_free(&p, &host, 0);  /* ignored */
    svm_asid_free(&p, &host, 99); /* ignored */
    CU_ASSERT_EQUAL(svm_asid_alloc(&p, &host), 7);
    CU_ASSERT_EQUAL(svm_asid_alloc(&p, &host), 0);
    svm_asid_pool_fini(&p, &host);

    /* The flush rule on 2 CPUs. A new VM (slots 0) flushes on each CPU. */
    uint64_t last_on[2] = {0, 0};
    CU_ASSERT_EQUAL(svm_asid_tlb_control(&last_on[0], 11, false), SVM_TLB_ALL);
    CU_ASSERT_EQUAL(svm_asid_tlb_control(&last_on[0], 11, false), SVM_TLB_NONE);
    CU_ASSERT_EQUAL(svm_asid_tlb_control(&last_on[1], 11, true), SVM_TLB_ASID);
    CU_ASSERT_EQUAL(svm_asid_tlb_control(&last_on[1], 11, true), SVM_TLB_NONE);
    /* Another vCPU of the VM on CPU 0: its guest page tables differ. */
    CU_ASSERT_EQUAL(svm_asid_tlb_control(&last_on[0], 12, true), SVM_TLB_ASID);
    CU_ASSERT_EQUAL(svm_asid_tlb_control(&last_on[0], 11, true), SVM_TLB_ASID);
    /* A SLAT change: everyone flushes once more. */
    svm_asid_forget_all(last_on, 2);
    CU_ASSERT_EQUAL(svm_asid_tlb_control(&last_on[0], 11, true), SVM_TLB_ASID);
    CU_ASSERT_EQUAL(svm_asid_tlb_control(&last_on[1], 11, true), SVM_TLB_ASID);
    CU_ASSERT_EQUAL(svm_asid_tlb_control(&last_on[1], 11, true), SVM_TLB_NONE);
    CU_ASSERT(mock_host_clean(&mh));
    mock_host_fini(&mh);
}

static void test_msrpm(void)
{
    static uint8_t map[8192];
    memset(map, 0xff, sizeof(map));
    svm_msrpm_set(map, 0xc0000100u, false, false); /* FS_BASE */
    /* APM 15.11: C000_0000h range at 0x800, 4 MSRs a byte, read bit even. */
    CU_ASSERT_EQUAL(map[0x800 + 0x100 / 4], 0xfc);
    svm_msrpm_set(map, 0x175, false, true); /* SYSENTER_ESP: write only */
    CU_ASSERT_EQUAL(map[0x175 / 4], (uint8_t) ~(1u << 2));
    CU_ASSERT(!svm_msrpm_get(map, 0x175, false));
    CU_ASSERT(svm_msrpm_get(map, 0x175, true));
    svm_msrpm_set(map, 0xc0010117u, false, false); /* C001_0000h range at 0x1000 */
    CU_ASSERT_EQUAL(map[0x1000 + 0x117 / 4], (uint8_t) ~(3u << 6));
    /* Outside the three ranges: always intercepted, nothing written. */
    svm_msrpm_set(map, 0xdead0001u, false, false);
    CU_ASSERT(svm_msrpm_get(map, 0xdead0001u, false));
    CU_ASSERT(svm_msrpm_get(map, 0xc0000080u, false)); /* EFER stays intercepted */
}

static void test_insn_length(void)
{
    static const uint8_t cpuid[] = {0x0f, 0xa2}, hlt[] = {0xf4};
    const uint8_t plain[] = {0x0f, 0xa2, 0x90};
    const uint8_t prefixed[] = {0x2e, 0x3e, 0x66, 0x0f, 0xa2};
    const uint8_t rex[] = {0x48, 0x0f, 0xa2};
    const uint8_t other[] = {0x0f, 0x0b};
    uint8_t long15[16];

    CU_ASSERT_EQUAL(svm_insn_length(plain, 3, 16, cpuid, 2), 2);
    CU_ASSERT_EQUAL(svm_insn_length(prefixed, 5, 32, cpuid, 2), 5);
    CU_ASSERT_EQUAL(svm_insn_length(rex, 3, 64, cpuid, 2), 3);
    CU_ASSERT_EQUAL(svm_insn_length(rex, 3, 32, cpuid, 2), 0); /* 48 is DEC outside 64-bit */
    CU_ASSERT_EQUAL(svm_insn_length(other, 2, 64, cpuid, 2), 0);
    CU_ASSERT_EQUAL(svm_insn_length(plain, 1, 64, cpuid, 2), 0); /* truncated fetch */
    memset(long15, 0x66, sizeof(long15));
    long15[13] = 0xf4;
    CU_ASSERT_EQUAL(svm_insn_length(long15, 16, 16, hlt, 1), 14);
    long15[13] = 0x66;
    long15[14] = 0xf4;
    CU_ASSERT_EQUAL(svm_insn_length(long15, 16, 16, hlt, 1), 15);
    long15[14] = 0x66;
    long15[15] = 0xf4;
    CU_ASSERT_EQUAL(svm_insn_length(long15, 16, 16, hlt, 1), 0); /* over 15 bytes */
}

static void test_events(void)
{
    struct hv_event ev = {
        .type = HV_EVENT_EXCEPTION, .vector = 14, .has_error_code = 1, .error_code = 0x1234};
    uint64_t e = svm_event_encode(&ev);
    /* APM 15.20: vector 7:0, type 10:8 (3 = exception), EV 11, V 31, error 63:32. */
    CU_ASSERT_EQUAL(e, 0x000012340000080eull | (3ull << 8) | (1ull << 31));
    struct hv_event back;
    CU_ASSERT(svm_event_decode(e, &back));
    CU_ASSERT_EQUAL(back.type, HV_EVENT_EXCEPTION);
    CU_ASSERT_EQUAL(back.vector, 14);
    CU_ASSERT_EQUAL(back.error_code, 0x1234);
    struct hv_event nmi = {.type = HV_EVENT_NMI, .vector = 2};
    CU_ASSERT_EQUAL(svm_event_encode(&nmi), (1ull << 31) | (2ull << 8) | 2);
    struct hv_event irq = {.type = HV_EVENT_EXTINT, .vector = 0x40};
    CU_ASSERT_EQUAL(svm_event_encode(&irq), (1ull << 31) | 0x40);
    CU_ASSERT(!svm_event_decode(0, &back));
    CU_ASSERT_EQUAL(back.type, HV_EVENT_NONE);
    CU_ASSERT(!svm_event_decode((1ull << 31) | (5ull << 8), &back));

    CU_ASSERT(svm_event_valid(&ev));
    ev.vector = 2;
    CU_ASSERT(!svm_event_valid(&ev));
    ev.vector = 32;
    CU_ASSERT(!svm_event_valid(&ev));
    nmi.vector = 3;
    CU_ASSERT(!svm_event_valid(&nmi));
}

/* A context, VM and vCPU built without hardware around the backend. */
/* The core's MMIO fast path (core/fast.h hv_fast_npf), linked wrapped:
   the real one unless npf_fake is set, which answers it with a resume
   address two bytes on. */
int __real_hv_fast_npf(struct hv_vcpu *vcpu, const struct hv_vexit *vx,
                       const struct mmio_region *rg, const struct hv_fetch_regs *fr,
                       uint64_t *resume);
int __wrap_hv_fast_npf(struct hv_vcpu *vcpu, const struct hv_vexit *vx,
                       const struct mmio_region *rg, const struct hv_fetch_regs *fr,
                       uint64_t *resume);
static int npf_fake = -1;
int __wrap_hv_fast_npf(struct hv_vcpu *vcpu, const struct hv_vexit *vx,
                       const struct mmio_region *rg, const struct hv_fetch_regs *fr,
                       uint64_t *resume)
{
    if (npf_fake < 0)
        return __real_hv_fast_npf(vcpu, vx, rg, fr, resume);
    CU_ASSERT_EQUAL(fr->rip, vx->rip);
    *resume = vx->rip + 2;
    return npf_fake;
}

struct fake {
    struct hv_ctx ctx;
    struct svm_ctx sc;
    struct hv_vm vm;
    struct hv_vcpu *slots[1];
    struct hv_vcpu vcpu;
};

static hv_status_t fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    if (hv_host_init(&f->ctx.host, &mh.ops) != HV_OK)
        return HV_ERR_HOST;
    f->ctx.caps.asid_count = 16;
    f->ctx.caps.hpa_bits = 40;
    f->sc.limits = lim;
    f->sc.limits.hpa_bits = 52; /* the mock's fake addresses start at 2^40 */
    f->sc.ncpus = 1;
    f->sc.next_serial = 1;
    if (svm_asid_pool_init(&f->sc.asids, &f->ctx.host, 16) != HV_OK)
        return HV_ERR_NO_MEMORY;
    f->ctx.arch = &f->sc;
    f->vm.ctx = &f->ctx;
    f->vm.max_vcpus = 1;
    f->vm.vcpus = f->slots;
    f->vcpu.vm = &f->vm;
    return HV_OK;
}

static void fake_fini(struct fake *f)
{
    svm_asid_pool_fini(&f->sc.asids, &f->ctx.host);
}

/* The mock host, the fake context and VM, and a vCPU with its VMCB. */
static struct svm_vcpu *fake_vcpu_up(struct fake *f)
{
    mock_host_init(&mh);
    CU_ASSERT_EQUAL_FATAL(fake_init(f), HV_OK);
    CU_ASSERT_EQUAL_FATAL(svm_vm_init(&f->vm), HV_OK);
    CU_ASSERT_EQUAL_FATAL(svm_vcpu_init(&f->vcpu), HV_OK);
    f->vcpu.quiet_as = HV_QUIET; /* as hv_vcpu_create sets it */
    return svm_vcpu_of(&f->vcpu);
}

/*
 * The exit's length from the code memo (svm_insn_len_memo, the fast path
 * without NRIP save): the opcode at CS:RIP in the page the memo holds,
 * read only inside that page and the CS limit. The memo is filled by
 * hand (no paging-structure entries to re-read): a walk at CPL 0 of
 * 64-bit code, then of 32-bit code, over two host pages whose bytes would
 * make CPUID cross the first one's end.
 */
static void test_insn_len_memo(void)
{
    static struct fake f;
    static uint8_t pages[2 * 4096] __attribute__((aligned(4096)));
    struct svm_vcpu *s = fake_vcpu_up(&f);
    struct vmcb *v = s->vmcb;
    struct hv_vcpu *vcpu = &f.vcpu;
    const uint32_t op = SVM_OP_CPUID & 0xffffff;
    const unsigned oplen = SVM_OP_CPUID >> 24;
    const uint64_t la = 0x7f0000000000ull;
    uint64_t next = 0;

    v->save.efer = EFER_LME | EFER_LMA | EFER_SVME;
    v->save.cs.attrib = HV_SEG_L | 0x9b;
    v->save.cr0 = HV_EMU_CR0_PG | HV_EMU_CR0_PE;
    v->save.cr4 = HV_EMU_CR4_PAE;
    v->save.cr3 = 0x5000;
    v->save.cpl = 0;
    struct hv_walk_memo *m = &vcpu->fetch;
    m->key = hv_memo_key(v->save.cr0, v->save.cr4, v->save.efer, 0, HV_WALK_EXEC, false);
    m->la_page = la >> 12;
    m->cr3 = v->save.cr3;
    m->slat_gen = hv_slat_gen(&f.vm.slat);
    m->host = pages;
    m->n = 0;

    /* CPUID at offset 0xffe: 2 bytes, within the page. */
    pages[0xffe] = 0x0f, pages[0xfff] = 0xa2;
    v->save.rip = la + 0xffe;
    CU_ASSERT_EQUAL(svm_insn_len_memo(vcpu, v, op, oplen, &next), 2);
    CU_ASSERT_EQUAL(next, la + 0x1000);
    /* At 0xfff its second byte is in the next page, which the memo does
       not hold (the host page after it is not the guest's next page). */
    pages[0xfff] = 0x0f, pages[0x1000] = 0xa2;
    v->save.rip = la + 0xfff;
    CU_ASSERT_EQUAL(svm_insn_len_memo(vcpu, v, op, oplen, &next), 0);
    /* Another page, CR3 or SLAT generation: not this memo. */
    v->save.rip = la + 0x1ffe;
    CU_ASSERT_EQUAL(svm_insn_len_memo(vcpu, v, op, oplen, &next), 0);
    v->save.rip = la + 0xffe;
    pages[0xfff] = 0xa2;
    v->save.cr3 = 0x6000;
    CU_ASSERT_EQUAL(svm_insn_len_memo(vcpu, v, op, oplen, &next), 0);
    v->save.cr3 = 0x5000;
    m->slat_gen++;
    CU_ASSERT_EQUAL(svm_insn_len_memo(vcpu, v, op, oplen, &next), 0);
    m->slat_gen--;
    CU_ASSERT_EQUAL(svm_insn_len_memo(vcpu, v, op, oplen, &next), 2);

    /* 32-bit code (CS.D, base 0x10000): the linear address is CS.base +
       EIP; an instruction that ends beyond the CS limit is not measured
       here (the CPU would have faulted: a stale view). */
    v->save.efer = EFER_SVME;
    v->save.cr4 = 0;
    v->save.cs.attrib = HV_SEG_DB | 0x9b;
    v->save.cs.base = 0x10000;
    v->save.cs.limit = 0xffff;
    m->key = hv_memo_key(v->save.cr0, v->save.cr4, v->save.efer, 0, HV_WALK_EXEC, false);
    m->la_page = 0x10;
    v->save.rip = 0x7fe;
    pages[0x7fe] = 0x0f, pages[0x7ff] = 0xa2;
    CU_ASSERT_EQUAL(svm_insn_len_memo(vcpu, v, op, oplen, &next), 2);
    CU_ASSERT_EQUAL(next, 0x800);
    v->save.cs.limit = 0x7fe; /* the second byte beyond the limit */
    CU_ASSERT_EQUAL(svm_insn_len_memo(vcpu, v, op, oplen, &next), 0);
    v->save.cs.limit = 0x7fd; /* the first one too */
    CU_ASSERT_EQUAL(svm_insn_len_memo(vcpu, v, op, oplen, &next), 0);
    v->save.cs.limit = 0xffff;
    v->save.cs.attrib = 0x9b; /* 16-bit code: not measured here */
    CU_ASSERT_EQUAL(svm_insn_len_memo(vcpu, v, op, oplen, &next), 0);

    svm_vcpu_fini(&f.vcpu);
    svm_vm_fini(&f.vm);
    fake_fini(&f);
    CU_ASSERT(mock_host_clean(&mh));
    mock_host_fini(&mh);
}

static void test_alloc_failures(void)
{
    static struct fake f;
    mock_host_init(&mh);
    unsigned sites = 0;
    for (uint64_t k = 0;; k++) {
        CU_ASSERT_EQUAL_FATAL(fake_init(&f), HV_OK);
        uint64_t base = mh.alloc_index;
        mock_fail_in(&mh, k);
        hv_status_t st = svm_vm_init(&f.vm);
        if (st == HV_OK)
            st = svm_vcpu_init(&f.vcpu);
        mock_fail_none(&mh);
        if (st == HV_OK) {
            svm_vcpu_fini(&f.vcpu);
            svm_vm_fini(&f.vm);
            fake_fini(&f);
            CU_ASSERT(mock_host_clean(&mh));
            break;
        }
        CU_ASSERT_EQUAL(st, HV_ERR_NO_MEMORY);
        (void)base;
        if (f.vm.arch)
            svm_vm_fini(&f.vm);
        fake_fini(&f);
        CU_ASSERT(mock_host_clean(&mh));
        sites++;
    }
    CU_ASSERT(sites >= 4); /* last_on, IOPM, MSRPM, vCPU object, VMCB */
    printf("\n    svm: %u allocation sites failed one by one, no leak\n", sites);
    mock_host_fini(&mh);
}

/* The bytes of MOV to CRn without decode assists (svm_insn.c). */
static void test_mov_cr_parse(void)
{
    static const struct {
        uint8_t b[8];
        unsigned n;
        bool l64, ok;
        unsigned cr, gpr, len;
    } c[] = {
        {{0x0f, 0x22, 0xe0}, 3, true, true, 4, 0, 3},             /* mov cr4, rax */
        {{0x41, 0x0f, 0x22, 0xe7}, 4, true, true, 4, 15, 4},      /* mov cr4, r15 */
        {{0x66, 0x0f, 0x22, 0xe3}, 4, false, true, 4, 3, 4},      /* a redundant prefix */
        {{0x41, 0x66, 0x0f, 0x22, 0xe1}, 5, true, true, 4, 1, 5}, /* REX not last: ignored */
        {{0x44, 0x0f, 0x22, 0xe0}, 4, true, true, 12, 0, 4},      /* REX.R: CR12 */
        {{0xf0, 0x0f, 0x22, 0xc0}, 4, false, true, 8, 0, 4},      /* LOCK: CR8 */
        {{0x0f, 0x22, 0x20}, 3, true, true, 4, 0, 3},             /* mod ignored */
        {{0x41, 0x0f, 0x22, 0xe0}, 4, false, false, 0, 0, 0},     /* 32-bit: 41 is INC ECX */
        {{0x0f, 0x20, 0xe0}, 3, true, false, 0, 0, 0},            /* MOV from CR4 */
        {{0x0f, 0x22}, 2, true, false, 0, 0, 0},                  /* cut short */
    };
    for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        unsigned cr = 99, gpr = 99, len = 99;
        bool ok = svm_parse_mov_to_cr(c[i].b, c[i].n, c[i].l64, &cr, &gpr, &len);
        CU_ASSERT_EQUAL(ok, c[i].ok);
        if (ok && c[i].ok) {
            CU_ASSERT_EQUAL(cr, c[i].cr);
            CU_ASSERT_EQUAL(gpr, c[i].gpr);
            CU_ASSERT_EQUAL(len, c[i].len);
        }
    }
    /* Fifteen prefixes leave no room for the opcode. */
    uint8_t longest[18];
    memset(longest, 0x66, 15);
    longest[15] = 0x0f, longest[16] = 0x22, longest[17] = 0xe0;
    unsigned cr, gpr, len;
    CU_ASSERT(!svm_parse_mov_to_cr(longest, 18, true, &cr, &gpr, &len));
    CU_ASSERT(svm_parse_mov_to_cr(longest + 3, 15, true, &cr, &gpr, &len) && len == 15);
}

/* MOV to CR4 as svm_cr4_write carries it out, with decode assists (the
   GPR in EXITINFO1) and NRIP save (the next RIP): the checks, the value,
   the TLB flush, RIP, the single-step trap. */
static void test_cr4_write(void)
{
    static struct fake f;
    struct svm_vcpu *s = fake_vcpu_up(&f);
    struct vmcb *v = s->vmcb;
    s->decode_assists = true;
    s->nrip_save = true;
    const uint64_t pae = 1ull << 5, pge = 1ull << 7, pcide = 1ull << 17, pke = 1ull << 22;
    /* 64-bit code, paging on (CS.L, EFER.LMA). */
    v->save.efer = EFER_LME | EFER_LMA | EFER_SVME;
    v->save.cs.attrib = HV_SEG_L | 0x9b;
    v->save.cr4 = pae;
    v->save.cr3 = 0x1000;
    struct {
        uint64_t old, val, cr3;
        unsigned gpr;
        bool fault, flush;
    } cases[] = {
        {pae, pae | pge, 0x1000, HV_GPR_RBX, false, true},           /* PGE: TLB flushed */
        {pae, pae | 0x200, 0x1000, HV_GPR_R12, false, false},        /* OSFXSR: no flush */
        {pae, pae | pke, 0x1000, HV_GPR_RCX, true, false},           /* PKE: never offered */
        {pae, 0, 0x1000, HV_GPR_RDX, true, false},                   /* PAE off in long mode */
        {pae, pae | (1ull << 13), 0x1000, HV_GPR_RSI, true, false},  /* VMXE: the CPU lacks it */
        {pae, pae | pcide, 0x1001, HV_GPR_RDI, true, false},         /* PCIDE with CR3[11:0] */
        {pae, pae | (1ull << 32), 0x1000, HV_GPR_R15, true, false},  /* reserved high bit */
        {pae, pae | (1ull << 20), 0x1000, HV_GPR_RSP, false, true},  /* SMEP from RSP */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        v->save.cr4 = cases[i].old;
        v->save.cr3 = cases[i].cr3;
        v->save.rip = 0x4000;
        v->ctl.nrip = 0x4003;
        v->ctl.eventinj = 0;
        v->ctl.tlb_control = SVM_TLB_NONE;
        v->ctl.exitinfo1 = SVM_CR_INFO_MOV | cases[i].gpr;
        memset(f.vcpu.gpr, 0xee, sizeof(f.vcpu.gpr));
        f.vcpu.gpr[cases[i].gpr] = cases[i].val;
        CU_ASSERT(svm_cr4_write(&f.vcpu));
        if (cases[i].fault) {
            CU_ASSERT_EQUAL(v->save.cr4, cases[i].old);
            CU_ASSERT_EQUAL(v->save.rip, 0x4000);
            CU_ASSERT_EQUAL(v->ctl.eventinj & 0xff, SVM_VEC_GP);
            CU_ASSERT(v->ctl.eventinj & SVM_EVT_V);
        } else {
            CU_ASSERT_EQUAL(v->save.cr4, cases[i].val);
            CU_ASSERT_EQUAL(v->save.rip, 0x4003);
            CU_ASSERT_EQUAL(v->ctl.eventinj, 0);
        }
        CU_ASSERT_EQUAL(v->ctl.tlb_control != SVM_TLB_NONE, cases[i].flush);
    }
    /* 32-bit code takes the register's low half. */
    v->save.efer = EFER_SVME;
    v->save.cs.attrib = HV_SEG_DB | 0x9b;
    v->save.cr4 = 0;
    v->save.rip = 0x4000;
    v->ctl.nrip = 0x4003;
    v->ctl.exitinfo1 = SVM_CR_INFO_MOV | HV_GPR_RAX;
    f.vcpu.gpr[HV_GPR_RAX] = 0xffffffff00000000ull | pae;
    v->ctl.eventinj = 0;
    CU_ASSERT(svm_cr4_write(&f.vcpu));
    CU_ASSERT_EQUAL(v->save.cr4, pae);
    /* Finished with RFLAGS.TF set: the single-step #DB is due. */
    v->save.rflags = 0x102;
    v->ctl.eventinj = 0;
    v->ctl.int_state = SVM_INT_SHADOW;
    v->save.rip = 0x4000;
    f.vcpu.gpr[HV_GPR_RAX] = pae | pge;
    CU_ASSERT(svm_cr4_write(&f.vcpu));
    CU_ASSERT_EQUAL(v->save.cr4, pae | pge);
    CU_ASSERT_EQUAL(v->ctl.int_state & SVM_INT_SHADOW, 0);
    CU_ASSERT(v->ctl.eventinj & SVM_EVT_V);
    CU_ASSERT_EQUAL(v->ctl.eventinj & 0xff, 1);
    svm_vcpu_fini(&f.vcpu);
    svm_vm_fini(&f.vm);
    fake_fini(&f);
    CU_ASSERT(mock_host_clean(&mh));
    mock_host_fini(&mh);
}

static void test_state(void)
{
    static struct fake f;
    static struct vmcb before;
    struct hv_vcpu_state st, st2;
    mock_host_init(&mh);
    CU_ASSERT_EQUAL_FATAL(fake_init(&f), HV_OK);
    CU_ASSERT_EQUAL_FATAL(svm_vm_init(&f.vm), HV_OK);
    CU_ASSERT_EQUAL_FATAL(svm_vcpu_init(&f.vcpu), HV_OK);
    struct svm_vm *sv = svm_vm_of(&f.vm);
    struct vmcb *v = svm_vmcb(&f.vcpu);
    CU_ASSERT_EQUAL(sv->asid, 1);
    CU_ASSERT_EQUAL(v->ctl.asid, 1);
    CU_ASSERT(v->ctl.intercept_misc2 & SVM_I2_VMRUN);
    /* XSETBV never reaches the CPU: the guest may set CR4.OSXSAVE. */
    CU_ASSERT(v->ctl.intercept_misc2 & SVM_I2_XSETBV);
    CU_ASSERT_EQUAL(SVM_I2_XSETBV, 1u << 13); /* APM Vol. 2 Table B-1, vector 4 */
    /* MOV to CR4 exits (CR write intercept 4: bit 20, APM Vol. 2 Table
       B-1), so that no guest sets CR4.PKE (svm_cr4.c); reads do not. */
    CU_ASSERT_EQUAL(v->ctl.intercept_cr, SVM_CR4_WRITE_INTERCEPT);
    CU_ASSERT_EQUAL(SVM_CR4_WRITE_INTERCEPT, 1u << 20);
    CU_ASSERT(v->ctl.vintr & SVM_VINTR_MASKING);
    CU_ASSERT_EQUAL(v->ctl.iopm_base_pa, sv->iopm_pa);
    /* Every port intercepted; EFER intercepted, FS_BASE not. */
    CU_ASSERT_EQUAL(((uint8_t *)sv->iopm)[0x3f8 / 8], 0xff);
    CU_ASSERT(svm_msrpm_get(sv->msrpm, MSR_EFER, true));
    CU_ASSERT(!svm_msrpm_get(sv->msrpm, 0xc0000100u, true));

    memset(&st, 0x5a, sizeof(st));
    svm_get_state(&f.vcpu, HV_STATE_ALL, &st);
    CU_ASSERT_EQUAL(st.efer, 0); /* SVME hidden */
    CU_ASSERT(v->save.efer & EFER_SVME);
    CU_ASSERT_EQUAL(st.seg[HV_SEG_CS].base, 0xffff0000ull);
    CU_ASSERT_EQUAL(st.rip, 0xfff0);
    CU_ASSERT_EQUAL(st.pending.type, HV_EVENT_NONE);

    /* A valid long-mode state goes in and comes back. */
    st.cr0 = 0x80000011;
    st.cr4 = 0x20;
    st.cr3 = 0x5000;
    st.efer = EFER_LME | EFER_LMA;
    st.seg[HV_SEG_CS].attr = 0x0a9b;
    st.seg[HV_SEG_SS].attr = 0x0c93;
    st.seg[HV_SEG_FS].attr = HV_SEG_UNUSABLE;
    st.rip = 0x400000;
    st.gpr[HV_GPR_RAX] = 0x1111;
    st.gpr[HV_GPR_RSP] = 0x2222;
    st.tsc_offset = 0x1234;
    CU_ASSERT_EQUAL(svm_set_state(&f.vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(v->save.efer, EFER_LME | EFER_LMA | EFER_SVME);
    CU_ASSERT_EQUAL(v->save.rax, 0x1111);
    CU_ASSERT_EQUAL(v->save.rsp, 0x2222);
    CU_ASSERT_EQUAL(v->save.fs.attrib & HV_SEG_P, 0);
    CU_ASSERT_EQUAL(v->ctl.tsc_offset, 0x1234);
    svm_get_state(&f.vcpu, HV_STATE_ALL, &st2);
    CU_ASSERT_EQUAL(st2.efer, EFER_LME | EFER_LMA);
    CU_ASSERT_EQUAL(st2.rip, 0x400000);
    CU_ASSERT_EQUAL(st2.seg[HV_SEG_CS].attr, 0x0a9b);
    CU_ASSERT(st2.seg[HV_SEG_FS].attr & HV_SEG_UNUSABLE);

    /* Refused states write nothing. */
    memcpy(&before, v, sizeof(before));
    struct hv_vcpu_state bad;
    memcpy(&bad, &st, sizeof(bad));
    bad.seg[HV_SEG_CS].attr = 0x0e9b; /* L and D */
    CU_ASSERT_EQUAL(svm_set_state(&f.vcpu, HV_STATE_ALL, &bad), HV_ERR_INVALID_ARG);
    memcpy(&bad, &st, sizeof(bad));
    bad.efer = EFER_LME; /* LMA missing */
    CU_ASSERT_EQUAL(svm_set_state(&f.vcpu, HV_STATE_CR, &bad), HV_ERR_INVALID_ARG);
    memcpy(&bad, &st, sizeof(bad));
    bad.efer |= EFER_SVME;
    CU_ASSERT_EQUAL(svm_set_state(&f.vcpu, HV_STATE_CR, &bad), HV_ERR_INVALID_ARG);
    memcpy(&bad, &st, sizeof(bad));
    bad.seg[HV_SEG_GS].base = 0x0000800000000000ull; /* non-canonical */
    CU_ASSERT_EQUAL(svm_set_state(&f.vcpu, HV_STATE_SEG, &bad), HV_ERR_INVALID_ARG);
    memcpy(&bad, &st, sizeof(bad));
    bad.pat = 0x0202020202020202ull;
    CU_ASSERT_EQUAL(svm_set_state(&f.vcpu, HV_STATE_MSR, &bad), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(memcmp(&before, v, sizeof(before)), 0);

    /* Events: an NMI blocks NMIs and arms the IRET intercept; a pending
       event occupies the injection field. */
    struct hv_event nmi = {.type = HV_EVENT_NMI, .vector = 2};
    v->save.rflags = 0x202;
    CU_ASSERT(svm_can_inject(&f.vcpu, HV_EVENT_NMI));
    svm_inject(&f.vcpu, &nmi);
    CU_ASSERT(v->ctl.intercept_misc1 & SVM_I1_IRET);
    CU_ASSERT(!svm_can_inject(&f.vcpu, HV_EVENT_EXCEPTION)); /* field busy */
    /* The NMI was delivered (no EXITINTINFO): field free, NMIs blocked. */
    v->ctl.exitintinfo = 0;
    svm_after_exit_events(&f.vcpu);
    CU_ASSERT(svm_can_inject(&f.vcpu, HV_EVENT_EXTINT));
    CU_ASSERT(!svm_can_inject(&f.vcpu, HV_EVENT_NMI));
    v->ctl.int_state = SVM_INT_SHADOW;
    CU_ASSERT(!svm_can_inject(&f.vcpu, HV_EVENT_EXTINT));
    v->ctl.int_state = 0;
    v->save.rflags = 0x2;
    CU_ASSERT(!svm_can_inject(&f.vcpu, HV_EVENT_EXTINT));
    svm_set_window(&f.vcpu, HV_EVENT_EXTINT, true);
    CU_ASSERT(v->ctl.vintr & SVM_VINTR_IRQ);
    CU_ASSERT(v->ctl.intercept_misc1 & SVM_I1_VINTR);
    svm_set_window(&f.vcpu, HV_EVENT_EXTINT, false);
    CU_ASSERT(!(v->ctl.vintr & SVM_VINTR_IRQ));
    CU_ASSERT(!(v->ctl.intercept_misc1 & SVM_I1_VINTR));
    CU_ASSERT(v->ctl.vintr & SVM_VINTR_MASKING);

    /* inject_irq: the window while the guest cannot take it (RFLAGS.IF=0,
       then a shadow, then the field busy), the interrupt and no window
       once it can. */
    CU_ASSERT(!svm_inject_irq(&f.vcpu, 0x40));
    CU_ASSERT_EQUAL(v->ctl.eventinj, 0);
    CU_ASSERT(v->ctl.intercept_misc1 & SVM_I1_VINTR);
    v->save.rflags = 0x202;
    v->ctl.int_state = SVM_INT_SHADOW;
    CU_ASSERT(!svm_inject_irq(&f.vcpu, 0x40));
    v->ctl.int_state = 0;
    v->ctl.eventinj = SVM_EVT_V | 14 | (3ull << 8);
    CU_ASSERT(!svm_inject_irq(&f.vcpu, 0x40));
    CU_ASSERT_EQUAL(v->ctl.eventinj, SVM_EVT_V | 14 | (3ull << 8));
    v->ctl.eventinj = 0;
    CU_ASSERT(svm_inject_irq(&f.vcpu, 0x40));
    CU_ASSERT_EQUAL(v->ctl.eventinj, SVM_EVT_V | 0x40); /* type 0: INTR */
    CU_ASSERT(!(v->ctl.vintr & SVM_VINTR_IRQ));
    CU_ASSERT(!(v->ctl.intercept_misc1 & SVM_I1_VINTR));
    v->ctl.eventinj = 0;
    v->save.rflags = 0x2;

    /* Re-injection: a #PF interrupted by an exit goes back into EVENTINJ;
       INTn and INT3 are not re-injected (the instruction runs again). */
    v->ctl.exitintinfo = (1ull << 31) | (3ull << 8) | (1ull << 11) | 14 | (6ull << 32);
    svm_after_exit_events(&f.vcpu);
    CU_ASSERT_EQUAL(v->ctl.eventinj, v->ctl.exitintinfo);
    v->ctl.exitintinfo = (1ull << 31) | (4ull << 8) | 0x80;
    svm_after_exit_events(&f.vcpu);
    CU_ASSERT_EQUAL(v->ctl.eventinj, 0);
    v->ctl.exitintinfo = (1ull << 31) | (3ull << 8) | 3;
    svm_after_exit_events(&f.vcpu);
    CU_ASSERT_EQUAL(v->ctl.eventinj, 0);

    /* Real mode pushes no error code (APM 8.2): injection drops it. */
    struct hv_event gp = {.type = HV_EVENT_EXCEPTION, .vector = 13, .has_error_code = 1};
    v->save.cr0 = 0x10;
    v->ctl.eventinj = 0;
    svm_inject(&f.vcpu, &gp);
    CU_ASSERT_EQUAL(v->ctl.eventinj, (1ull << 31) | (3ull << 8) | 13);

    svm_vcpu_fini(&f.vcpu);
    svm_vm_fini(&f.vm);
    fake_fini(&f);
    CU_ASSERT(mock_host_clean(&mh));
    mock_host_fini(&mh);
}

/* A PV layer whose fast hook (hv_pv_ops::hypercall_fast) answers RAX=0x1234
   calls with 0x5678 and refuses the rest; RDI bit 0 queues an interrupt
   (vector 0x30) as a hook would that cannot inject it itself, and says
   an event may be due. */
static unsigned pv_fast_calls;
static enum hv_pv_result pv_fast(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr, bool *events)
{
    const struct vmcb *v = svm_vmcb(vcpu);
    CU_ASSERT_EQUAL(fr->rip, v->save.rip); /* the exit's registers */
    CU_ASSERT_EQUAL(fr->cr3, v->save.cr3);
    CU_ASSERT_EQUAL(fr->cpl, v->save.cpl);
    pv_fast_calls++;
    uint64_t *g = vcpu->gpr;
    if (g[HV_GPR_RAX] != 0x1234)
        return HV_PV_UNHANDLED;
    if (g[HV_GPR_RDI] & 1) {
        vcpu->queued_irq = (struct hv_event){.type = HV_EVENT_EXTINT, .vector = 0x30};
        *events = true;
    }
    g[HV_GPR_RAX] = 0x5678;
    return HV_PV_DONE;
}
static const struct hv_pv_ops pv_fast_ops = {.hypercall_fast = pv_fast};

/*
 * The exit fast path (svm_fast.c) finishes a CPUID exit in the VMCB, and
 * fills a port I/O exit for the embedder, only while the vCPU is quiet and
 * the exit left nothing behind; otherwise it changes nothing and the full
 * path runs.
 */
static void test_fast_exit(void)
{
    static struct fake f;
    struct svm_vcpu *s = fake_vcpu_up(&f);
    struct vmcb *v = s->vmcb;
    s->nrip_save = true; /* the length from the VMCB: no guest memory here */

#define ARM(code)                                                                                  \
    do {                                                                                           \
        v->ctl.exitcode = (code);                                                                  \
        v->ctl.exitintinfo = 0;                                                                    \
        v->ctl.int_state = SVM_INT_SHADOW;                                                         \
        v->ctl.tlb_control = 1;                                                                    \
        v->save.rip = 0x1000;                                                                      \
        v->ctl.nrip = 0x1003; /* e.g. a prefixed CPUID */                                          \
        v->save.rax = 0x40000000u;                                                                 \
        f.vcpu.gpr[HV_GPR_RCX] = 0;                                                                \
        f.vcpu.gpr[HV_GPR_RBX] = 0x77;                                                             \
    } while (0)

    /* Not quiet (events to deliver first), a kick, an interrupted event
       delivery, an exit the path does not take: nothing changes. */
    ARM(SVM_EXIT_CPUID);
    f.vcpu.quiet = false;
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    f.vcpu.quiet = true;
    f.vcpu.kick_pending = 1;
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    f.vcpu.kick_pending = 0;
    v->ctl.exitintinfo = SVM_EVT_V | 0x20;
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    ARM(SVM_EXIT_VMMCALL); /* no PV interface: the embedder's */
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(v->save.rip, 0x1000);
    CU_ASSERT_EQUAL(v->save.rax, 0x40000000u);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RBX], 0x77);
    CU_ASSERT_EQUAL(v->ctl.int_state, SVM_INT_SHADOW);

    /* Quiet: the library's leaf 0x40000000 ("libhv"), RIP at NRIP, the
       interrupt shadow over, the entry's TLB flush not repeated. */
    ARM(SVM_EXIT_CPUID);
    CU_ASSERT(svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(v->save.rax, 0x40000000u);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RBX], 0x6862696cu);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RCX], 0x76u);
    CU_ASSERT_EQUAL(v->save.rip, 0x1003);
    CU_ASSERT_EQUAL(v->ctl.int_state & SVM_INT_SHADOW, 0);
    CU_ASSERT_EQUAL(v->ctl.tlb_control, SVM_TLB_NONE);

    /* Port I/O: the embedder's exit record filled here, whole (it is not
       cleared before), the OUT's completion deferred to the next run; the
       world switch leaves (false). */
    struct hv_exit rec;
    hv_memset(&rec, 0xaa, sizeof(rec));
    f.vcpu.run_exit = &rec;
    ARM(SVM_EXIT_IOIO);
    v->ctl.exitinfo1 = (0x1234ull << SVM_IO_PORT_SHIFT) | SVM_IO_SZ16; /* OUT DX, AX */
    v->ctl.exitinfo2 = 0x1002;
    v->save.rax = 0xdeadbeef;
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    check_out_exit(&f.vcpu, &rec, SVM_EXIT_IOIO, v->ctl.exitinfo1, 0x1002, 0x1000, 0x1002, 0x1234,
                   2, 0xbeef);
    CU_ASSERT_EQUAL(v->save.rip, 0x1000); /* RIP moves at the next run */
    f.vcpu.exit_ready = false;
    /* IN AL: the value comes back from the embedder. */
    ARM(SVM_EXIT_IOIO);
    v->ctl.exitinfo1 = (0x60ull << SVM_IO_PORT_SHIFT) | SVM_IO_SZ8 | SVM_IO_IN;
    v->ctl.exitinfo2 = 0x1002;
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    CU_ASSERT(f.vcpu.exit_ready);
    CU_ASSERT_EQUAL(rec.io.port, 0x60);
    CU_ASSERT_EQUAL(rec.io.size, 1);
    CU_ASSERT_EQUAL(rec.io.write, 0);
    CU_ASSERT_EQUAL(rec.io.data, 0);
    CU_ASSERT_EQUAL(f.vcpu.completion, HV_COMPLETE_IO_IN);
    CU_ASSERT_EQUAL(f.vcpu.completion_size, 1);
    f.vcpu.exit_ready = false;
    f.vcpu.completion = HV_COMPLETE_NONE;
    /* String I/O is the assist's (full path); so is any I/O while events
       are due. */
    ARM(SVM_EXIT_IOIO);
    v->ctl.exitinfo1 = (0x60ull << SVM_IO_PORT_SHIFT) | SVM_IO_SZ8 | SVM_IO_STR;
    rec.reason = HV_EXIT_NONE;
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    CU_ASSERT(!f.vcpu.exit_ready);
    CU_ASSERT_EQUAL(rec.reason, HV_EXIT_NONE);
    ARM(SVM_EXIT_IOIO);
    v->ctl.exitinfo1 = (0x60ull << SVM_IO_PORT_SHIFT) | SVM_IO_SZ8;
    f.vcpu.quiet = false;
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    CU_ASSERT(!f.vcpu.exit_ready);
    CU_ASSERT_EQUAL(rec.reason, HV_EXIT_NONE);
    CU_ASSERT_EQUAL(f.vcpu.completion, HV_COMPLETE_NONE);
    f.vcpu.quiet = true;
    /* A VMMCALL the PV layer's fast hook finishes: RAX through the hook,
       RIP at NRIP; an event it makes due is delivered before the re-entry
       (the guest can take the interrupt: EVENTINJ), as the run loop would. */
    f.ctx.be = &hv_svm_backend;
    f.vm.pv = &pv_fast_ops;
    v->save.cr3 = 0x7000;
    v->save.rflags = RFLAGS_IF | 2;
    ARM(SVM_EXIT_VMMCALL);
    v->save.rax = 0x4321; /* refused: the full path's */
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(v->save.rip, 0x1000);
    CU_ASSERT_EQUAL(v->save.rax, 0x4321);
    ARM(SVM_EXIT_VMMCALL);
    v->save.rax = 0x1234;
    f.vcpu.gpr[HV_GPR_RDI] = 0;
    v->ctl.eventinj = 0;
    CU_ASSERT(svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(v->save.rax, 0x5678);
    CU_ASSERT_EQUAL(v->save.rip, 0x1003);
    CU_ASSERT_EQUAL(v->ctl.eventinj, 0);
    ARM(SVM_EXIT_VMMCALL);
    v->save.rax = 0x1234;
    f.vcpu.gpr[HV_GPR_RDI] = 1;
    CU_ASSERT(svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(v->save.rax, 0x5678);
    CU_ASSERT_EQUAL(v->save.rip, 0x1003);
    CU_ASSERT_EQUAL(v->ctl.eventinj, SVM_EVT_V | 0x30);
    CU_ASSERT_EQUAL(f.vcpu.queued_irq.type, HV_EVENT_NONE);
    CU_ASSERT_EQUAL(pv_fast_calls, 3);
    v->ctl.eventinj = 0;
    f.vm.pv = NULL;

    /* WRMSR to the local APIC's hot MSRs (x2APIC mode, software-enabled):
       done here, RIP at NRIP, and the run loop's delivery before the
       re-entry: the self IPI's interrupt is injected at once. */
    static struct hv_lapic apic;
    lapic_reset(&apic, 0, true);
    apic.x2apic_ok = apic.tscdl_ok = 1;
    CU_ASSERT(lapic_set_base(&apic, LAPIC_BASE_ADDR | LAPIC_BASE_EN | LAPIC_BASE_EXTD, 36));
    apic.svr = 0x1ff;
    f.vcpu.lapic = &apic;
    f.vcpu.lapic_on = true;
#define ARM_WRMSR(msr, value)                                                                      \
    do {                                                                                           \
        ARM(SVM_EXIT_MSR);                                                                         \
        v->ctl.exitinfo1 = 1;                                                                      \
        f.vcpu.gpr[HV_GPR_RCX] = (msr);                                                            \
        v->save.rax = (uint32_t)(value);                                                           \
        f.vcpu.gpr[HV_GPR_RDX] = (uint64_t)(value) >> 32;                                          \
        v->ctl.eventinj = 0;                                                                       \
    } while (0)
    ARM_WRMSR(0x83f, 0x45); /* SELF IPI, vector 0x45 */
    CU_ASSERT(svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(v->save.rip, 0x1003);
    CU_ASSERT_EQUAL(v->ctl.eventinj, SVM_EVT_V | 0x45);
    CU_ASSERT_EQUAL(apic.isr[2], 1u << 5);
    /* Nothing else waits: quiet, so the handler's EOI comes here too. */
    CU_ASSERT_EQUAL(f.vcpu.quiet, HV_QUIET);
    ARM_WRMSR(0x80b, 0); /* EOI */
    CU_ASSERT(svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(apic.isr[2], 0);
    CU_ASSERT_EQUAL(v->ctl.eventinj, 0);
    CU_ASSERT_EQUAL(f.vcpu.quiet, HV_QUIET);
    /* Left to the full path, nothing changed: a non-zero EOI (#GP), a
       vector beyond 8 bits, RDMSR, an MSR the path does not take (TPR,
       ICR: the latter may wake another vCPU), an alias of the EOI's
       number, the xAPIC mode. */
    static const struct {
        uint32_t msr, info1;
        uint64_t value;
    } refused[] = {
        {0x80b, 1, 1},    {0x83f, 1, 0x145},  {0x80b, 0, 0},
        {0x808, 1, 0x10}, {0x830, 1, 0x4045}, {0x1000080bu, 1, 0},
    };
    for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        apic.isr[2] = 1u << 5;
        ARM_WRMSR(refused[i].msr, refused[i].value);
        v->ctl.exitinfo1 = refused[i].info1;
        CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
        CU_ASSERT_EQUAL(v->save.rip, 0x1000);
        CU_ASSERT_EQUAL(apic.isr[2], 1u << 5);
        CU_ASSERT_EQUAL(apic.irr[2] | apic.irr[4], 0);
    }
    apic.base &= ~LAPIC_BASE_EXTD;
    ARM_WRMSR(0x80b, 0);
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(apic.isr[2], 1u << 5);
    apic.base |= LAPIC_BASE_EXTD;
    apic.isr[2] = 0;
    /* IA32_TSC_DEADLINE in the TSC-deadline mode: armed far ahead, the
       vCPU stays quiet until its expiry (core/fast.h hv_quiet_now): the
       exit fast path still takes a CPUID. Past the expiry it does not:
       the full path fires the timer. */
    apic.lvt[LAPIC_LVT_T] = (LAPIC_TIMER_TSCDL << LAPIC_TIMER_MODE_SHIFT) | 0x41;
    ARM_WRMSR(0x6e0, hv_rdtsc() + v->ctl.tsc_offset + (1ull << 40));
    CU_ASSERT(svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_NOT_EQUAL(apic.t_next, 0);
    CU_ASSERT_EQUAL(f.vcpu.quiet, HV_QUIET_UNTIL);
    CU_ASSERT((int64_t)(f.vcpu.quiet_until - hv_rdtsc()) > (int64_t)(1ull << 39));
    ARM(SVM_EXIT_CPUID);
    CU_ASSERT(svm_fast_exit(&f.vcpu, v));
    f.vcpu.quiet_until = hv_rdtsc() - 1;
    ARM(SVM_EXIT_CPUID);
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(v->save.rip, 0x1000);
    hv_deliver_events(&f.vcpu); /* the full path's: the expiry read again */
    CU_ASSERT_EQUAL(f.vcpu.quiet, HV_QUIET_UNTIL);
    /* The latest deadline: clamped, still quiet (signed compares hold). */
    ARM_WRMSR(0x6e0, ~0ull);
    CU_ASSERT(svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(f.vcpu.quiet, HV_QUIET_UNTIL);
    CU_ASSERT((int64_t)(f.vcpu.quiet_until - hv_rdtsc()) > 0);
    CU_ASSERT(f.vcpu.quiet_until - hv_rdtsc() <= (1ull << 62));
    /* Disarmed: plainly quiet. */
    ARM_WRMSR(0x6e0, 0);
    CU_ASSERT(svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(f.vcpu.quiet, HV_QUIET);
    CU_ASSERT_EQUAL(f.vcpu.quiet_until, 0);
#undef ARM_WRMSR
    /* A store to the xAPIC page the core's fast path finished through
       the per-vCPU region's handler (HV_FAST_DONE_EVENTS, faked): RIP
       where the core said, then the run loop's delivery before the
       re-entry, as after fast_wrmsr: the interrupt waiting behind the
       EOI goes in. A plain region's access (HV_FAST_DONE) is not followed
       by the delivery. */
    static struct hv_assist_vm av;
    av.count = 1;
    av.regions[0] = (struct mmio_region){0xfee00000, 0x1000, NULL, NULL};
    f.vm.assist = &av;
    npf_fake = HV_FAST_DONE_EVENTS;
    ARM(SVM_EXIT_NPF);
    v->ctl.exitinfo1 = SVM_NPF_RW;
    v->ctl.exitinfo2 = 0xfee000b0;
    v->ctl.eventinj = 0;
    f.vcpu.quiet = HV_QUIET;
    apic.irr[2] = 1u << 5; /* 0x45 */
    CU_ASSERT(svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(v->save.rip, 0x1002);
    CU_ASSERT_EQUAL(v->ctl.int_state & SVM_INT_SHADOW, 0);
    CU_ASSERT_EQUAL(v->ctl.eventinj, SVM_EVT_V | 0x45);
    apic.isr[2] = 0;
    npf_fake = HV_FAST_DONE;
    ARM(SVM_EXIT_NPF);
    v->ctl.exitinfo1 = SVM_NPF_RW;
    v->ctl.exitinfo2 = 0xfee000b0;
    v->ctl.eventinj = 0;
    apic.irr[2] = 1u << 5;
    CU_ASSERT(svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(v->save.rip, 0x1002);
    CU_ASSERT_EQUAL(v->ctl.eventinj, 0);
    apic.irr[2] = 0;
    npf_fake = -1;
    f.vm.assist = NULL;
    f.vcpu.lapic = NULL;
    f.vcpu.lapic_on = false;
    v->save.rflags = 2;
    f.ctx.be = NULL;

    /* A guest single-stepping (RFLAGS.TF): every exit the path takes is
       left to the full path, which raises the #DB after the instruction
       or notes it for the completion (core/objects.h hv_step_trap). */
    ARM(SVM_EXIT_CPUID);
    v->save.rflags = RFLAGS_TF | 2;
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(v->save.rip, 0x1000);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RBX], 0x77);
    ARM(SVM_EXIT_IOIO);
    v->ctl.exitinfo1 = (0x60ull << SVM_IO_PORT_SHIFT) | SVM_IO_SZ8;
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    CU_ASSERT(!f.vcpu.exit_ready);
    CU_ASSERT_EQUAL(f.vcpu.completion, HV_COMPLETE_NONE);
    v->save.rflags = 2;
    f.vcpu.run_exit = NULL;

    /* The single-step trap the core asks for: DR6.BS in the VMCB (kept
       with the other bits), #DB injected as a hardware exception. */
    v->save.dr6 = 0xffff0ff1ull;
    v->ctl.eventinj = 0;
    CU_ASSERT(svm_can_inject(&f.vcpu, HV_EVENT_EXCEPTION));
    svm_inject_step(&f.vcpu);
    CU_ASSERT_EQUAL(v->save.dr6, 0xffff4ff1ull);
    CU_ASSERT_EQUAL(v->ctl.eventinj,
                    SVM_EVT_V | (SVM_EVT_TYPE_EXC << SVM_EVT_TYPE_SHIFT) | SVM_VEC_DB);
    v->ctl.eventinj = 0;

    /* A SLAT flush takes the quiet state away: the next exit goes to
       svm_run, which flushes before the entry. */
    f.slots[0] = &f.vcpu;
    CU_ASSERT(f.vcpu.quiet);
    svm_slat_flush(&f.vm);
    CU_ASSERT(!f.vcpu.quiet);
    ARM(SVM_EXIT_CPUID);
    CU_ASSERT(!svm_fast_exit(&f.vcpu, v));
    CU_ASSERT_EQUAL(v->save.rip, 0x1000);
    f.slots[0] = NULL;
#undef ARM

    svm_vcpu_fini(&f.vcpu);
    svm_vm_fini(&f.vm);
    fake_fini(&f);
    CU_ASSERT(mock_host_clean(&mh));
    mock_host_fini(&mh);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("svm", NULL, NULL);
    CU_add_test(s, "vmcb layout", test_vmcb_layout);
    CU_add_test(s, "segments", test_segments);
    CU_add_test(s, "consistency checks", test_check);
    CU_add_test(s, "asid allocator and flush rule", test_asid);
    CU_add_test(s, "msr permission map", test_msrpm);
    CU_add_test(s, "instruction length", test_insn_length);
    CU_add_test(s, "instruction length from the code memo", test_insn_len_memo);
    CU_add_test(s, "event encoding", test_events);
    CU_add_test(s, "allocation failures", test_alloc_failures);
    CU_add_test(s, "state and events", test_state);
    CU_add_test(s, "MOV to CR4", test_cr4_write);
    CU_add_test(s, "MOV to CRn bytes", test_mov_cr_parse);
    CU_add_test(s, "exit fast path", test_fast_exit);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

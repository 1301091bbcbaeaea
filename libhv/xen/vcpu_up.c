/*
 * Secondary vCPUs: VCPUOP_initialise with a struct vcpu_hvm_context (the
 * HVM/PVH form, public/hvm/hvm_vcpu.h), VCPUOP_up and VCPUOP_down.
 *
 * The context is checked as Xen's arch_set_info_hvm_guest() checks it
 * (xen/arch/x86/hvm/domain.c: segment types and presence, EIP inside CS,
 * DPLs, the 64-bit mode's CR0.PG/CR4.PAE/EFER.LME, then CR4, EFER and CR3
 * against what the domain may use), every failure being -EINVAL, and then
 * applied through hv_vcpu_set_state(), so that the backend's own entry
 * checks apply too. A down vCPU does not run: hv_vcpu_run() returns
 * HV_EXIT_HLT with hlt.source HV_HLT_DOWN at once (hooks.c), and
 * VCPUOP_up calls the wake callback.
 */
#include "backend.h"
#include "core/guest_mem.h"
#include "core/policy.h"
#include "xen/internal.h"

/* Architectural bits (SDM Vol. 3A 2.5, 2.2.1). */
#define CR0_PE   HV_BIT(0)
#define CR0_NW   HV_BIT(29)
#define CR0_CD   HV_BIT(30)
#define CR0_PG   HV_BIT(31)
#define CR4_PAE  HV_BIT(5)
#define EFER_SCE HV_BIT(0)
#define EFER_LME HV_BIT(8)
#define EFER_LMA HV_BIT(10)
#define EFER_NXE HV_BIT(11)
#define RFLAGS_1 HV_BIT(1)

/* Segment attribute fields (hv_segment::attr, the VMCB format). */
#define AR_TYPE(a) ((a)&0xfu)
#define AR_S(a)    (((a) >> 4) & 1u)
#define AR_DPL(a)  (((a) >> 5) & 3u)
#define AR_P(a)    (((a) >> 7) & 1u)
#define AR_G(a)    (((a) >> 11) & 1u)
#define TSS32_BUSY 0xbu

enum seg_kind { SEG_CS, SEG_DS, SEG_SS, SEG_ES, SEG_TR };

/* Xen's check_segment() on a 32-bit-mode segment whose accessed (busy for
   TR) bit was already set: true if acceptable. */
static bool segment_ok(uint16_t ar, enum seg_kind k)
{
    if (ar & 0xf000u)
        return false; /* attribute bits 12-15 */
    if (!ar)
        return k == SEG_DS || k == SEG_ES; /* null only for data segments */
    if (k == SEG_TR) {
        if (AR_S(ar) || AR_TYPE(ar) != TSS32_BUSY)
            return false;
    } else if (!AR_S(ar)) {
        return false; /* a system segment where code/data is needed */
    }
    if (!AR_P(ar))
        return false;
    switch (k) {
    case SEG_CS:
        return AR_TYPE(ar) & 8u; /* code */
    case SEG_SS:
        return !(AR_TYPE(ar) & 8u) && (AR_TYPE(ar) & 2u); /* writable data */
    case SEG_DS:
    case SEG_ES:
        return !((AR_TYPE(ar) & 8u) && !(AR_TYPE(ar) & 2u)); /* readable */
    default:
        return true;
    }
}

/* A segment of the 32-bit context as the vCPU state holds it. */
static void set_seg(struct hv_segment *s, uint32_t base, uint32_t limit, uint16_t ar,
                    enum seg_kind k)
{
    if (AR_P(ar))
        ar |= k == SEG_TR ? 2u : 1u; /* accessed / busy, as Xen sets them */
    s->base = base;
    s->limit = AR_G(ar) ? (limit << 12) | 0xfffu : limit;
    s->selector = 0;
    s->attr = ar ? ar : HV_SEG_UNUSABLE;
}

static long load_32(const struct xen_vcpu_hvm_x86_32 *r, struct hv_vcpu_state *st)
{
    if (r->pad1 || r->pad2[0] || r->pad2[1] || r->pad2[2])
        return -XEN_EINVAL;
    struct hv_segment *sg = st->seg;
    set_seg(&sg[HV_SEG_CS], r->cs_base, r->cs_limit, r->cs_ar, SEG_CS);
    set_seg(&sg[HV_SEG_DS], r->ds_base, r->ds_limit, r->ds_ar, SEG_DS);
    set_seg(&sg[HV_SEG_SS], r->ss_base, r->ss_limit, r->ss_ar, SEG_SS);
    set_seg(&sg[HV_SEG_ES], r->es_base, r->es_limit, r->es_ar, SEG_ES);
    set_seg(&sg[HV_SEG_TR], r->tr_base, r->tr_limit, r->tr_ar, SEG_TR);
    static const uint8_t idx[5] = {HV_SEG_CS, HV_SEG_DS, HV_SEG_SS, HV_SEG_ES, HV_SEG_TR};
    for (unsigned k = 0; k < 5; k++) {
        uint16_t a = sg[idx[k]].attr == HV_SEG_UNUSABLE ? 0 : sg[idx[k]].attr;
        if (!segment_ok(a, (enum seg_kind)k))
            return -XEN_EINVAL;
    }
    uint16_t cs = sg[HV_SEG_CS].attr, ss = sg[HV_SEG_SS].attr;
    uint16_t ds = sg[HV_SEG_DS].attr, es = sg[HV_SEG_ES].attr;
    if (r->eip > sg[HV_SEG_CS].limit || AR_DPL(ss) != AR_DPL(cs))
        return -XEN_EINVAL;
    if ((ds != HV_SEG_UNUSABLE && AR_DPL(ds) > AR_DPL(cs)) ||
        (es != HV_SEG_UNUSABLE && AR_DPL(es) > AR_DPL(cs)))
        return -XEN_EINVAL;
    if ((r->efer & EFER_LMA) && !(r->efer & EFER_LME))
        return -XEN_EINVAL;
    for (int i = 0; i < 8; i++)
        st->gpr[i] = r->gpr[i];
    st->rip = r->eip;
    st->rflags = r->eflags;
    st->cr0 = r->cr0;
    st->cr3 = r->cr3;
    st->cr4 = r->cr4;
    st->efer = r->efer;
    return 0;
}

/* 48-bit canonical (SDM Vol. 1 3.3.7.1). */
static bool canonical(uint64_t a)
{
    return hv_canonical(a, 48);
}

static long load_64(const struct xen_vcpu_hvm_x86_64 *r, struct hv_vcpu_state *st)
{
    if (!canonical(r->rip) || !(r->cr0 & CR0_PG) || !(r->cr4 & CR4_PAE) || !(r->efer & EFER_LME))
        return -XEN_EINVAL;
    for (int i = 0; i < 8; i++)
        st->gpr[i] = r->gpr[i];
    st->rip = r->rip;
    st->rflags = r->rflags;
    st->cr0 = r->cr0;
    st->cr3 = r->cr3;
    st->cr4 = r->cr4;
    st->efer = r->efer;
    /* Flat segments, selectors 0: 64-bit code, data, a busy 64-bit TSS. */
    struct hv_segment code = {.limit = 0xffffffffu, .attr = 0xa9b};
    struct hv_segment data = {.limit = 0xffffffffu, .attr = 0xc93};
    struct hv_segment tss = {.limit = 0x67, .attr = 0x8b};
    st->seg[HV_SEG_CS] = code;
    st->seg[HV_SEG_DS] = st->seg[HV_SEG_SS] = st->seg[HV_SEG_ES] = data;
    st->seg[HV_SEG_TR] = tss;
    return 0;
}

/* CR4 bits the vCPU may set: the base set plus what its CPUID view offers
   (Xen's hvm_cr4_guest_valid_bits against the domain's policy). */
static uint64_t cr4_valid(struct hv_vcpu *vcpu)
{
    uint32_t l1[4], l7[4];
    hv_cpuid_policy(vcpu, 1, 0, l1);
    hv_cpuid_policy(vcpu, 7, 0, l7);
    uint64_t v = 0x7ff; /* VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT */
    v |= (l7[2] >> 2) & 1 ? HV_BIT(11) : 0;  /* UMIP */
    v |= l7[1] & 1 ? HV_BIT(16) : 0;         /* FSGSBASE */
    v |= (l1[2] >> 17) & 1 ? HV_BIT(17) : 0; /* PCIDE */
    v |= (l1[2] >> 26) & 1 ? HV_BIT(18) : 0; /* OSXSAVE */
    v |= (l7[1] >> 7) & 1 ? HV_BIT(20) : 0;  /* SMEP */
    v |= (l7[1] >> 20) & 1 ? HV_BIT(21) : 0; /* SMAP */
    return v;
}

/* The checks both modes share: Xen's CR4 and EFER validity, CR0 as MOV CR0
   accepts it, and CR3 naming guest RAM when paging is on. */
static long check_common(struct hv_xen_vm *x, struct hv_vcpu *vcpu, struct hv_vcpu_state *st)
{
    uint32_t e[4];
    hv_cpuid_policy(vcpu, 0x80000001u, 0, e);
    if (st->efer & EFER_LME)
        st->efer |= EFER_LMA; /* as Xen does, before its checks */
    uint64_t efer_ok =
        EFER_SCE | ((e[3] >> 29) & 1 ? EFER_LME | EFER_LMA : 0) | ((e[3] >> 20) & 1 ? EFER_NXE : 0);
    bool pg = st->cr0 & CR0_PG;
    if (st->cr4 & ~cr4_valid(vcpu))
        return -XEN_EINVAL;
    if ((st->efer & ~efer_ok) || ((st->efer & EFER_LMA) && (!pg || !(st->cr4 & CR4_PAE))))
        return -XEN_EINVAL;
    if ((st->cr0 >> 32) || (pg && !(st->cr0 & CR0_PE)) ||
        ((st->cr0 & CR0_NW) && !(st->cr0 & CR0_CD)))
        return -XEN_EINVAL;
    if (pg) {
        uint8_t maxphyaddr;
        bool gbpages;
        hv_vm_paging_view(x->vm, &maxphyaddr, &gbpages);
        uint64_t top = (st->efer & EFER_LMA) ? HV_BIT(maxphyaddr) : HV_BIT(32);
        if (st->cr3 >= top ||
            !hv_gpa_ptr_foreign(x->vm, st->cr3 & ~(uint64_t)(HV_PAGE_SIZE - 1), HV_MEM_READ))
            return -XEN_EINVAL;
    }
    st->rflags |= RFLAGS_1;
    st->dr7 = 0x400; /* reset value (SDM Vol. 3B 17.2.4) */
    return 0;
}

long xen_vcpu_initialise(struct xen_call *c, struct hv_xen_vcpu *xv)
{
    struct hv_xen_vm *x = c->x;
    struct hv_vcpu *target = xen_vcpu_obj(x, xv->id);
    if (!target)
        return -XEN_ENOENT; /* the embedder never created it */
    struct xen_vcpu_hvm_context ctx;
    if (xen_copy_from_guest(c, c->arg[2], &ctx, sizeof(ctx)))
        return -XEN_EFAULT;

    uint64_t t = xen_lock(x);
    bool busy = xv->init_busy, exists = xv->initialised;
    if (!busy && !exists)
        xv->init_busy = true;
    xen_unlock(x, t);
    if (exists)
        return -XEN_EEXIST;
    if (busy) {
        c->restart = true; /* another vCPU is initialising it: retry */
        return 0;
    }

    struct hv_vcpu_state st;
    hv_memset(&st, 0, sizeof(st));
    long rc = -XEN_EINVAL;
    if (ctx.pad == 0 && ctx.mode == XEN_VCPU_HVM_MODE_32B)
        rc = load_32(&ctx.regs.x86_32, &st);
    else if (ctx.pad == 0 && ctx.mode == XEN_VCPU_HVM_MODE_64B)
        rc = load_64(&ctx.regs.x86_64, &st);
    if (!rc)
        rc = check_common(x, target, &st);
    bool applied = false;
    if (!rc) {
        /* Other state as at reset: no LDT, empty descriptor tables (the
           guest loads its own), FS/GS flat data. Xen aligns the new vCPU's
           TSC with the boot vCPU's; here with the caller's. */
        st.seg[HV_SEG_FS] = st.seg[HV_SEG_GS] = (struct hv_segment){.limit = 0xffff, .attr = 0x93};
        st.seg[HV_SEG_LDTR].attr = HV_SEG_UNUSABLE;
        struct hv_vcpu_state tsc;
        c->vcpu->vm->ctx->be->get_state(c->vcpu, HV_STATE_TSC, &tsc);
        st.tsc_offset = tsc.tsc_offset;
        hv_status_t s = hv_vcpu_set_state(target,
                                          HV_STATE_GPR | HV_STATE_SEG | HV_STATE_DTABLE |
                                              HV_STATE_CR | HV_STATE_EVENTS | HV_STATE_TSC,
                                          &st);
        if (s == HV_ERR_BUSY)
            c->restart = true; /* its hv_vcpu_run is returning HV_HLT_DOWN */
        else if (s != HV_OK)
            rc = -XEN_EINVAL;
        else
            applied = true;
    }

    t = xen_lock(x);
    xv->init_busy = false;
    if (applied) {
        xv->initialised = true;
        xv->down = true; /* stays down until VCPUOP_up */
    }
    xen_unlock(x, t);
    return rc;
}

long xen_vcpu_up(struct xen_call *c, struct hv_xen_vcpu *xv)
{
    struct hv_xen_vm *x = c->x;
    struct hv_vcpu *v = xen_vcpu_obj(x, xv->id);
    if (!v)
        return -XEN_ENOENT;
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    long rc = 0;
    bool wake = false;
    if (!xv->initialised) {
        rc = -XEN_EINVAL;
    } else if (xv->down) {
        /* Its area is written when it runs (its own paging). */
        xen_vcpu_come_up(x, xv, true, now);
        wake = true;
    }
    xen_unlock(x, t);
    if (wake && x->wake)
        x->wake(x->opaque, v);
    return rc;
}

long xen_vcpu_down(struct xen_call *c, struct hv_xen_vcpu *xv)
{
    struct hv_xen_vm *x = c->x;
    struct hv_vcpu *v = xen_vcpu_obj(x, xv->id);
    if (!v)
        return -XEN_ENOENT;
    uint64_t now = xen_now(x);
    uint64_t t = xen_lock(x);
    bool others = false;
    for (uint32_t i = 0; i < x->nvcpus && !others; i++)
        others = i != xv->id && !x->vcpus[i].down;
    if (!others) {
        /* The last vCPU going down powers the domain off, as in Xen. */
        if (x->shutdown_code == XEN_SHUTDOWN_CODE_NONE)
            x->shutdown_code = XEN_SHUTDOWN_POWEROFF;
        c->exit->reason = HV_EXIT_GUEST_SHUTDOWN;
        c->exit->guest_shutdown.reason = x->shutdown_code;
        c->exit_to_host = true;
        xen_unlock(x, t);
        return 0;
    }
    bool was_down = xv->down;
    __atomic_store_n(&xv->down, true, __ATOMIC_SEQ_CST);
    /* Offline from now. The caller's own area is written now; another
       vCPU's at its next transition (its own paging). */
    xen_runstate_set(x, xv, XEN_RUNSTATE_offline, now);
    if (xv == c->xv)
        xen_runstate_publish(c, x, xv);
    xen_unlock(x, t);
    if (xv == c->xv) {
        /* The caller stops here; VCPUOP_up resumes it after the call. */
        c->exit->reason = HV_EXIT_HLT;
        c->exit->hlt.source = HV_HLT_DOWN;
        c->exit_to_host = true;
    } else if (!was_down && __atomic_load_n(&v->running, __ATOMIC_SEQ_CST)) {
        /* Running elsewhere: make that hv_vcpu_run return; the next one
           sees it down. One that starts meanwhile sees the flag itself. */
        hv_vcpu_kick(v);
    }
    return 0;
}

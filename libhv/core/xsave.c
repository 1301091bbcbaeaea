/* The guest's XCR0 and extended state (core/xsave.h). */
#include "core/xsave.h"
#include "backend.h"
#include "core/assist.h"
#include "core/cpu.h"
#include "core/policy.h"
#include "core/util.h"

#define VEC_UD 6
#define VEC_GP 13

void hv_xs_host_layout(struct hv_xs_layout *l)
{
    uint32_t r[4];
    hv_memset(l, 0, sizeof(*l));
    hv_cpuid(0, 0, r);
    if (r[0] < 0xd)
        return;
    hv_cpuid(1, 0, r);
    if (!((r[2] >> 26) & 1)) /* XSAVE */
        return;
    hv_cpuid(0xd, 0, r);
    uint64_t sup = ((uint64_t)r[3] << 32 | r[0]) & HV_XCR0_MANAGED;
    if ((sup & HV_XCR0_LEGACY) != HV_XCR0_LEGACY)
        return;
    /* A component whose host layout does not fit the area, or an AVX-512
       trio not complete, is not offered (XSETBV would refuse it anyway). */
    for (unsigned i = 2; i < 8; i++) {
        if (!((sup >> i) & 1))
            continue;
        hv_cpuid(0xd, i, r);
        if (r[1] < HV_XS_LEGACY_END || r[0] > HV_XS_AREA || r[1] > HV_XS_AREA - r[0])
            sup &= ~(1ull << i);
        l->size[i] = r[0];
        l->off[i] = r[1];
    }
    if ((sup & HV_XCR0_AVX512) != HV_XCR0_AVX512 || !(sup & HV_XCR0_AVX))
        sup &= ~HV_XCR0_AVX512;
    l->supported = sup;
}

uint32_t hv_xs_size(const struct hv_xs_layout *l, uint64_t xcr0)
{
    uint32_t end = HV_XS_LEGACY_END;
    for (unsigned i = 2; i < 8; i++)
        if (((xcr0 & l->supported) >> i) & 1 && l->off[i] + l->size[i] > end)
            end = l->off[i] + l->size[i];
    return end;
}

uint64_t hv_xcr0_allowed(struct hv_vcpu *vcpu)
{
    /* What leaves 1 and 7 offer, less what an override of leaf 0DH.0
       leaves out (its own bits cannot add to the host's). */
    uint32_t r[4];
    uint64_t a = hv_cpuid_xs_offered(vcpu);
    if (!a)
        return 0;
    hv_cpuid_policy(vcpu, 0xd, 0, r);
    a &= ((uint64_t)r[3] << 32) | r[0];
    /* The areas exist when the host has components beyond x87/SSE
       (hv_xs_alloc at the vCPU's creation); without them, none is
       offered. */
    if (!vcpu->xs_raw)
        a &= ~HV_XCR0_EXT;
    return (a & HV_XCR0_LEGACY) == HV_XCR0_LEGACY ? a : 0;
}

bool hv_xcr0_valid(uint64_t v, uint64_t allowed)
{
    if (!(v & HV_XCR0_X87) || (v & ~allowed))
        return false;
    if ((v & HV_XCR0_AVX) && !(v & HV_XCR0_SSE))
        return false;
    uint64_t z = v & HV_XCR0_AVX512;
    if (z && (z != HV_XCR0_AVX512 || !(v & HV_XCR0_AVX)))
        return false;
    return true;
}

void hv_xcr0_store(struct hv_vcpu *vcpu, uint64_t value)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    vcpu->xcr0 = value;
    if (be->xcr0_changed)
        be->xcr0_changed(vcpu);
}

int hv_xsetbv(struct hv_vcpu *vcpu, uint32_t ecx, uint64_t value, bool osxsave, unsigned cpl)
{
    /* SDM Vol. 2B XSETBV: #UD without CPUID XSAVE or CR4.OSXSAVE, #GP(0)
       at CPL > 0, for ECX != 0 (XCR0 is the only XCR XSETBV writes) and
       for an invalid value. The CPU checks CR4 and CPL before the exit
       (SDM Vol. 3C 25.1.1, APM Vol. 2 15.7.1); checked again for CPUs and
       emulators that do not. */
    uint64_t allowed = hv_xcr0_allowed(vcpu);
    if (!allowed || !osxsave)
        return VEC_UD;
    if (cpl != 0 || ecx != 0 || !hv_xcr0_valid(value, allowed))
        return VEC_GP;
    uint64_t add = value & HV_XCR0_EXT & ~vcpu->xs_used;
    if (add) {
        if (vcpu->running)
            hv_xs_grow(vcpu, add);
        else
            hv_xs_note(vcpu, add);
    }
    hv_xcr0_store(vcpu, value);
    return 0;
}

void hv_xcr0_untrapped(struct hv_vcpu *vcpu, uint64_t value)
{
    if (!hv_xcr0_valid(value, hv_xcr0_allowed(vcpu))) {
        /* Once per vCPU: a guest can repeat it at every exit, and this
           runs with interrupts (GIF) off. */
        if (!vcpu->xs_warned)
            hv_log(&vcpu->vm->ctx->host, HV_LOG_WARN,
                   "vCPU %u: XCR0 0x%llx set without the XSETBV intercept: not valid here, "
                   "undone",
                   vcpu->id, (unsigned long long)value);
        vcpu->xs_warned = true;
        return;
    }
    uint64_t add = value & HV_XCR0_EXT & ~vcpu->xs_used;
    if (add)
        hv_xs_grow(vcpu, add);
    hv_xcr0_store(vcpu, value);
}

hv_status_t hv_xs_alloc(struct hv_vcpu *vcpu, const struct hv_xs_layout *l)
{
    if (!(l->supported & HV_XCR0_EXT))
        return HV_OK;
    /* Both areas and room to align them to 64 bytes (XSAVE #GPs
       otherwise, SDM Vol. 2B); zeroed: XSTATE_BV 0, every component in
       its initial state. */
    uint32_t area = (hv_xs_size(l, l->supported) + 63) & ~63u;
    uint32_t size = 2 * area + 48; /* obj_alloc aligns to 16 */
    uint8_t *raw = hv_host_obj_alloc(&vcpu->vm->ctx->host, size);
    if (!raw)
        return HV_ERR_NO_MEMORY;
    hv_memset(raw, 0, size);
    uint8_t *a = (uint8_t *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    vcpu->xs_raw = raw;
    vcpu->xs_alloc = size;
    vcpu->xs_guest = a;
    vcpu->xs_host = a + area;
    return HV_OK;
}

void hv_xs_free(struct hv_vcpu *vcpu)
{
    if (vcpu->xs_raw)
        hv_host_obj_free(&vcpu->vm->ctx->host, vcpu->xs_raw, vcpu->xs_alloc);
    vcpu->xs_raw = vcpu->xs_guest = vcpu->xs_host = NULL;
    vcpu->xs_used = 0;
    vcpu->xs_on = false;
}

#if !HV_HOSTED
static inline void xs_save(uint8_t *area, uint64_t rfbm)
{
    __asm__ volatile("xsave64 (%0)" ::"r"(area), "a"((uint32_t)rfbm), "d"((uint32_t)(rfbm >> 32))
                     : "memory");
}

static inline void xs_restore(const uint8_t *area, uint64_t rfbm)
{
    __asm__ volatile("xrstor64 (%0)" ::"r"(area), "a"((uint32_t)rfbm), "d"((uint32_t)(rfbm >> 32))
                     : "memory");
}

/* XSAVE stores and XRSTOR loads MXCSR with AVX in RFBM (SDM Vol. 1
   13.7, 13.8.1): after each XSAVE, the MXCSR it stored (the CPU's) goes
   into the image XRSTOR loads next, so that the switch of extended state
   leaves MXCSR to the FXSAVE switch (and no SSE instruction is needed). */
static inline void xs_keep_mxcsr(uint8_t *to, const uint8_t *from)
{
    hv_memcpy(to + 24, from + 24, 4);
}

/*
 * With interrupts off: XCR0 widened to the host's plus the components
 * switched (XSAVE and XRSTOR act only on enabled components, SDM Vol. 1
 * 13.7, 13.8), CR4.OSXSAVE set for it if the host runs without. Returns
 * the host's XCR0; the saved RFLAGS and CR4 in *flags, *cr4.
 */
static uint64_t widen(uint64_t comps, uint64_t *flags, uint64_t *cr4)
{
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(*flags)::"memory");
    *cr4 = hv_read_cr4();
    if (!(*cr4 & HV_CR4_OSXSAVE))
        hv_write_cr4(*cr4 | HV_CR4_OSXSAVE);
    uint64_t h = hv_xgetbv0();
    /* SSE too: AVX without it is not a valid XCR0 (a host may run with
       x87 alone). The union of two valid values is valid otherwise. */
    uint64_t w = h | comps | HV_XCR0_SSE;
    if (w != h)
        hv_xsetbv0(w);
    return h;
}

static void narrow(uint64_t h, uint64_t comps, uint64_t flags, uint64_t cr4)
{
    if ((h | comps | HV_XCR0_SSE) != h)
        hv_xsetbv0(h);
    if (!(cr4 & HV_CR4_OSXSAVE))
        hv_write_cr4(cr4);
    if (flags & (1ull << 9))
        __asm__ volatile("sti" ::: "memory");
}

/* Components @p comps: the CPU's into @p save, @p load's into the CPU
   (MXCSR left as it is), with XCR0 widened for both. */
static void xs_swap(uint8_t *save, uint8_t *load, uint64_t comps)
{
    uint64_t flags, cr4;
    uint64_t h = widen(comps, &flags, &cr4);
    xs_save(save, comps);
    xs_keep_mxcsr(load, save);
    xs_restore(load, comps);
    narrow(h, comps, flags, cr4);
}

void hv_xs_grow(struct hv_vcpu *vcpu, uint64_t add)
{
    /* The guest's image has these components' XSTATE_BV bits clear (never
       saved, or reset by the API): XRSTOR puts them in their initial
       state, so the guest never sees the host's values. */
    xs_swap(vcpu->xs_host, vcpu->xs_guest, add);
    hv_xs_note(vcpu, add);
}

void hv_xs_enter(struct hv_vcpu *vcpu)
{
    xs_swap(vcpu->xs_host, vcpu->xs_guest, vcpu->xs_used);
}

void hv_xs_leave(struct hv_vcpu *vcpu)
{
    xs_swap(vcpu->xs_guest, vcpu->xs_host, vcpu->xs_used);
}
#else
/* The unit tests' hosted build cannot change XCR0: the areas are left as
   they are (nothing runs a guest there). */
void hv_xs_grow(struct hv_vcpu *vcpu, uint64_t add)
{
    hv_xs_note(vcpu, add);
}

void hv_xs_enter(struct hv_vcpu *vcpu)
{
    (void)vcpu;
}

void hv_xs_leave(struct hv_vcpu *vcpu)
{
    (void)vcpu;
}
#endif

/*
 * Hypercall buffers: PVH/HVM guests pass linear (guest-virtual) addresses.
 * With paging off they are guest-physical (32-bit); with paging on they
 * are translated through the guest's own page tables by the emulator's
 * walker, as a supervisor data access at the caller's CPL, page by page,
 * and then accessed only through the checked guest-physical accessors.
 * Any failure is -EFAULT for the guest, never an exception: that is how
 * Xen's copy_from_guest()/copy_to_guest() report a bad pointer.
 */
#include "backend.h"
#include "core/guest_mem.h"
#include "emu/walk.h"
#include "xen/internal.h"

#define XEN_CR0_PG HV_BIT(31)

static hv_status_t cb_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    return hv_gpa_read(opaque, gpa, buf, len);
}

static hv_status_t cb_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    return hv_gpa_write(opaque, gpa, buf, len);
}

static bool cb_is_ram(void *opaque, uint64_t gpa)
{
    return hv_gpa_ptr(opaque, gpa, 0) != NULL;
}

static const struct hv_emu_ops walk_ops = {
    .gpa_read = cb_read,
    .gpa_write = cb_write,
    .is_ram = cb_is_ram,
};

static void load_regs(struct xen_call *c)
{
    struct hv_vcpu_state st;
    struct hv_emu_regs *r = &c->regs;

    c->vcpu->vm->ctx->be->get_state(c->vcpu, HV_STATE_GPR | HV_STATE_SEG | HV_STATE_CR, &st);
    hv_memset(r, 0, sizeof(*r));
    hv_memcpy(r->gpr, st.gpr, sizeof(r->gpr));
    r->rip = st.rip;
    r->rflags = st.rflags;
    r->cr0 = st.cr0;
    r->cr3 = st.cr3;
    r->cr4 = st.cr4;
    r->efer = st.efer;
    /* hv_seg and hv_emu_sreg share the order ES CS SS DS FS GS and the
       attribute layout; an unusable segment is a not-present one. */
    for (int i = 0; i < HV_EMU_NSEG; i++) {
        r->seg[i].base = st.seg[i].base;
        r->seg[i].limit = st.seg[i].limit;
        r->seg[i].sel = st.seg[i].selector;
        r->seg[i].attr = st.seg[i].attr & 0xfffu;
        if (st.seg[i].attr & HV_SEG_UNUSABLE)
            r->seg[i].attr &= (uint16_t)~HV_SEG_P;
    }
    r->cpl = (st.seg[HV_SEG_SS].attr >> HV_SEG_DPL_SHIFT) & 3;
    c->paging = (st.cr0 & XEN_CR0_PG) != 0;
    c->regs_loaded = true;
}

/* Guest-physical address of linear @p la for a read or write, or false. */
static bool translate(struct xen_call *c, uint64_t la, bool write, uint64_t *gpa)
{
    if (!c->regs_loaded)
        load_regs(c);
    if (!c->paging) {
        /* Paging off: linear addresses are 32 bits wide (SDM Vol. 3A 3.1). */
        if (la > 0xffffffffull)
            return false;
        *gpa = la;
        return true;
    }
    struct hv_emu_env env = {
        .ops = &walk_ops,
        .opaque = c->vcpu->vm,
        .maxphyaddr = c->x->maxphyaddr,
        .gbpages = c->x->gbpages,
    };
    struct hv_walk_result res;
    if (hv_walk(&env, &c->regs, la, write ? HV_WALK_WRITE : HV_WALK_READ, &res) != HV_OK ||
        res.outcome != HV_WALK_OK)
        return false;
    *gpa = res.gpa;
    return true;
}

/* Bytes from @p la to the end of its 4 KiB page, at most @p len. */
static size_t chunk(uint64_t la, size_t len)
{
    size_t room = HV_PAGE_SIZE - (size_t)(la & (HV_PAGE_SIZE - 1));
    return len < room ? len : room;
}

int xen_copy_from_guest(struct xen_call *c, uint64_t gva, void *buf, size_t len)
{
    uint8_t *out = buf;
    uint64_t end;
    if (len && hv_add_overflows(gva, len - 1, &end))
        return -XEN_EFAULT;
    while (len) {
        size_t n = chunk(gva, len);
        uint64_t gpa;
        if (!translate(c, gva, false, &gpa) || hv_gpa_read(c->vcpu->vm, gpa, out, n) != HV_OK)
            return -XEN_EFAULT;
        out += n;
        gva += n;
        len -= n;
    }
    return 0;
}

int xen_copy_to_guest(struct xen_call *c, uint64_t gva, const void *buf, size_t len)
{
    uint64_t end;
    if (len && hv_add_overflows(gva, len - 1, &end))
        return -XEN_EFAULT;
    /* Check every page first so that a bad buffer gets nothing written. */
    for (uint64_t la = gva, left = len; left;) {
        size_t n = chunk(la, left);
        uint64_t gpa;
        if (!translate(c, la, true, &gpa) || !hv_gpa_ptr(c->vcpu->vm, gpa, HV_MEM_WRITE))
            return -XEN_EFAULT;
        la += n;
        left -= n;
    }
    const uint8_t *in = buf;
    while (len) {
        size_t n = chunk(gva, len);
        uint64_t gpa;
        if (!translate(c, gva, true, &gpa) || hv_gpa_write(c->vcpu->vm, gpa, in, n) != HV_OK)
            return -XEN_EFAULT;
        in += n;
        gva += n;
        len -= n;
    }
    return 0;
}

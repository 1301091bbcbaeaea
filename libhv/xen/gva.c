/*
 * Hypercall buffers: PVH/HVM guests pass linear (guest-virtual) addresses.
 * With paging off they are guest-physical (32-bit); with paging on they
 * are translated through the guest's own page tables by the emulator's
 * walker (memoized per vCPU), as a data access at the caller's CPL, page by page,
 * and then accessed only through the checked guest-physical accessors, or,
 * within one page the vCPU's data memo still holds for, through the host
 * pointer the memo keeps of that page (the same bytes, checked the same).
 * Any failure is -EFAULT for the guest, never an exception: that is how
 * Xen's copy_from_guest()/copy_to_guest() report a bad pointer.
 */
#include "backend.h"
#include "core/assist.h"
#include "core/guest_mem.h"
#include "emu/walk.h"
#include "xen/gva.h"

#define XEN_CR0_PG HV_BIT(31)

/*
 * Guest-physical accesses that never cross a page (the walker's, and the
 * per-page pieces below) need one SLAT translation: hv_gpa_read/write
 * check the range first and translate again to copy.
 */
static hv_status_t cb_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    const void *p = hv_gpa_ptr(opaque, gpa, HV_MEM_READ);
    if (!p)
        return HV_ERR_GUEST_FAULT;
    hv_memcpy(buf, p, len);
    return HV_OK;
}

static hv_status_t cb_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    void *p = hv_gpa_ptr(opaque, gpa, HV_MEM_WRITE);
    if (!p)
        return HV_ERR_GUEST_FAULT;
    hv_memcpy(p, buf, len);
    return HV_OK;
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

/* What the walk of a linear address reads: the paging controls, CPL and
   RFLAGS.AC (SMAP), from the registers read at entry (c->fr). Segments
   and GPRs are not involved (the address is already linear). */
static void load_regs(struct xen_call *c)
{
    const struct hv_fetch_regs *f = c->fr;
    struct hv_emu_regs *r = &c->regs;

    r->rflags = f->rflags;
    r->cr0 = f->cr0;
    r->cr3 = f->cr3;
    r->cr4 = f->cr4;
    r->efer = f->efer;
    r->cpl = f->cpl;
    r->pdpte_valid = false; /* PAE: the walker reads the PDPTEs from memory */
    r->pkru = 0;
    r->pkrs = 0;
    c->regs_loaded = true;
}

/* Guest-physical address of linear @p la for a read or write, or false. */
static bool translate(struct xen_call *c, uint64_t la, bool write, uint64_t *gpa)
{
    if (!(c->fr->cr0 & XEN_CR0_PG)) {
        /* Paging off: linear addresses are 32 bits wide (SDM Vol. 3A 3.1). */
        if (la > 0xffffffffull)
            return false;
        *gpa = la;
        return true;
    }
    /* A linear address is canonical in IA-32e mode (SDM Vol. 3A 4.5: the
       walk takes bits 47:0 or 56:0 only, so another would alias a
       canonical one) and 32 bits wide otherwise (3.1): anything else
       faults, as the access would. */
    if (c->fr->efer & HV_EMU_EFER_LMA ? !hv_emu_canonical(la, c->fr->cr4) : la > 0xffffffffull)
        return false;
    if (!c->regs_loaded)
        load_regs(c);
    /* The walk is in the VM's paging view (hv_walk_memoized). */
    struct hv_emu_env env = {.ops = &walk_ops, .opaque = c->vcpu->vm};
    struct hv_walk_result res;
    /* Through the vCPU's memo of its last data walk (core/insn_fetch.c):
       exact, since it re-reads every entry of the cached walk. */
    if (hv_walk_memoized(c->vcpu, &env, &c->regs, la, write ? HV_WALK_WRITE : HV_WALK_READ, &res) !=
            HV_OK ||
        res.outcome != HV_WALK_OK)
        return false;
    *gpa = res.gpa;
    return true;
}

/* A copy within one page: the hypercall arguments read on hot paths are
   a port or a few words, where a byte loop would cost most of the call. */
static inline __attribute__((always_inline)) void copy_small(void *dst, const void *src, size_t len)
{
    typedef uint32_t __attribute__((may_alias, aligned(1))) u32_t;
    typedef uint64_t __attribute__((may_alias, aligned(1))) u64_t;
    if (len == 4)
        *(u32_t *)dst = *(const u32_t *)src;
    else if (len == 8)
        *(u64_t *)dst = *(const u64_t *)src;
    else
        hv_memcpy(dst, src, len);
}

/* Bytes from @p la to the end of its 4 KiB page, at most @p len. */
static size_t chunk(uint64_t la, size_t len)
{
    size_t room = HV_PAGE_SIZE - (size_t)(la & (HV_PAGE_SIZE - 1));
    return len < room ? len : room;
}

/* Page by page through translate(); out of line, so that the memo's path
   above it saves no registers for it. */
static __attribute__((noinline)) int copy_from_walked(struct xen_call *c, uint64_t gva, void *buf,
                                                      size_t len)
{
    uint8_t *out = buf;
    uint64_t end;
    if (len && hv_add_overflows(gva, len - 1, &end))
        return -XEN_EFAULT;
    while (len) {
        size_t n = chunk(gva, len);
        uint64_t gpa;
        if (!translate(c, gva, false, &gpa) || cb_read(c->vcpu->vm, gpa, out, n) != HV_OK)
            return -XEN_EFAULT;
        out += n;
        gva += n;
        len -= n;
    }
    return 0;
}

int xen_copy_from_guest(struct xen_call *c, uint64_t gva, void *buf, size_t len)
{
    if (len && chunk(gva, len) == len) {
        /* Within one page (so no wrap) the memo was filled for: a check
           and a copy. */
        const uint8_t *p = xen_memo_ptr(c->vcpu, c->fr, gva, HV_WALK_READ);
        if (p) {
            copy_small(buf, p, len);
            return 0;
        }
    }
    return copy_from_walked(c, gva, buf, len);
}

int xen_copy_to_guest(struct xen_call *c, uint64_t gva, const void *buf, size_t len)
{
    uint64_t end;
    if (len && hv_add_overflows(gva, len - 1, &end))
        return -XEN_EFAULT;
    if (len && chunk(gva, len) == len) {
        /* Within one page: the memo's page, else one walk, one translation. */
        uint8_t *p = xen_memo_ptr(c->vcpu, c->fr, gva, HV_WALK_WRITE);
        if (p) {
            copy_small(p, buf, len);
            return 0;
        }
        uint64_t gpa;
        if (!translate(c, gva, true, &gpa) || cb_write(c->vcpu->vm, gpa, buf, len) != HV_OK)
            return -XEN_EFAULT;
        return 0;
    }
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

bool xen_gva_span(struct xen_call *c, uint64_t gva, size_t len, struct xen_span *s)
{
    uint64_t end, gpa;
    if (!len || len > HV_PAGE_SIZE || hv_add_overflows(gva, len - 1, &end))
        return false;
    size_t n = chunk(gva, len);
    if (!translate(c, gva, true, &gpa) || !(s->p[0] = hv_gpa_ptr(c->vcpu->vm, gpa, HV_MEM_WRITE)))
        return false;
    s->p[1] = NULL;
    if (n < len && (!translate(c, gva + n, true, &gpa) ||
                    !(s->p[1] = hv_gpa_ptr(c->vcpu->vm, gpa, HV_MEM_WRITE))))
        return false;
    s->n0 = n;
    return true;
}

void xen_span_put(void *opaque, size_t off, const uint8_t *src, size_t len)
{
    const struct xen_span *s = opaque;
    for (size_t i = 0; i < len; i++) {
        size_t o = off + i;
        volatile uint8_t *d = o < s->n0 ? s->p[0] + o : s->p[1] + (o - s->n0);
        *d = src[i];
    }
}

long xen_area_arg(struct xen_call *c, struct hv_xen_vcpu *xv, uint64_t *gva)
{
    if (!xen_vcpu_obj(c->x, xv->id))
        return -XEN_ENOENT; /* the embedder never created it */
    /* An i386 caller's argument is its 4-byte handle, the union's low half
       (Xen's compat_vcpu_op reads only that). */
    struct xen_vcpu_register_runstate_memory_area a = {0}; /* the time area's too */
    if (xen_copy_from_guest(c, c->arg[2], &a, c->compat ? sizeof(uint32_t) : sizeof(a)))
        return -XEN_EFAULT;
    *gva = a.addr;
    return 0;
}

/*
 * Hypercall arguments in the caller's layout: a 32-bit guest passes Xen's
 * i386 ("compat") form of a structure whose native form holds a long or a
 * pointer (layout.h). The handlers work on the native form only; the
 * compat form is converted here, on the way in and the way out, so that
 * each handler has one code path after its copy.
 */
#include "xen/internal.h"

/* raw[] below is large enough: XEN_COMPAT_LAYOUT refuses, at compile time,
   a compat structure larger than XEN_COMPAT_SIZE_MAX. */

int xen_copy_in(struct xen_call *c, uint64_t gva, void *native, const struct xen_compat_layout *l)
{
    if (!c->compat)
        return xen_copy_from_guest(c, gva, native, l->size64);
    uint8_t raw[XEN_COMPAT_SIZE_MAX];
    if (xen_copy_from_guest(c, gva, raw, l->size32))
        return -XEN_EFAULT;
    uint8_t *out = native;
    hv_memset(out, 0, l->size64);
    for (uint8_t i = 0; i < l->nfields; i++) {
        const struct xen_compat_field *f = &l->f[i];
        hv_memcpy(out + f->off64, raw + f->off32, f->size32); /* little-endian */
    }
    return 0;
}

int xen_copy_out(struct xen_call *c, uint64_t gva, const void *native,
                 const struct xen_compat_layout *l)
{
    if (!c->compat)
        return xen_copy_to_guest(c, gva, native, l->size64);
    uint8_t raw[XEN_COMPAT_SIZE_MAX];
    const uint8_t *in = native;
    hv_memset(raw, 0, l->size32);
    for (uint8_t i = 0; i < l->nfields; i++) {
        const struct xen_compat_field *f = &l->f[i];
        hv_memcpy(raw + f->off32, in + f->off64, f->size32); /* the low bytes */
    }
    return xen_copy_to_guest(c, gva, raw, l->size32);
}

/*
 * xen_version, as Xen answers an unprivileged HVM/PVH domain: the
 * information sub-ops every guest may use, "<denied>" for the command line
 * and -EPERM for the build id. Fixed-size buffers are built zero-filled in
 * full before they are copied out, so no byte of host memory reaches the
 * guest.
 */
#include "xen/internal.h"

#define DENIED "<denied>"
/* XENVER_capabilities of a host that runs HVM/PVH guests only. */
#define CAPABILITIES "hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64"

/* Copy a NUL-terminated string into a zero-filled buffer of @p size bytes. */
static long put_string(struct xen_call *c, uint64_t gva, const char *s, size_t size)
{
    char buf[XEN_CAPABILITIES_LEN];
    hv_memset(buf, 0, size);
    hv_strlcpy(buf, s, size);
    return xen_copy_to_guest(c, gva, buf, size) ? -XEN_EFAULT : 0;
}

static uint32_t features(void)
{
    return (1u << XENFEAT_writable_page_tables) | (1u << XENFEAT_auto_translated_physmap) |
           (1u << XENFEAT_hvm_callback_vector) | (1u << XENFEAT_hvm_safe_pvclock) |
           (1u << XENFEAT_not_direct_mapped);
}

long xen_do_xen_version(struct xen_call *c)
{
    struct hv_xen_vm *x = c->x;
    uint64_t arg = c->arg[1];

    switch ((uint32_t)c->arg[0]) { /* int cmd */
    case XENVER_VERSION:
        return xen_version_value(x);
    case XENVER_EXTRAVERSION:
        return put_string(c, arg, x->extraversion, XEN_EXTRAVERSION_LEN);
    case XENVER_COMPILE_INFO: {
        char info[XEN_COMPILE_INFO_LEN];
        hv_memset(info, 0, sizeof(info));
        hv_strlcpy(info, "libhv", 64);      /* compiler */
        hv_strlcpy(info + 64, "libhv", 16); /* compile_by */
        hv_strlcpy(info + 80, "libhv", 32); /* compile_domain */
        return xen_copy_to_guest(c, arg, info, sizeof(info)) ? -XEN_EFAULT : 0;
    }
    case XENVER_CAPABILITIES:
        return put_string(c, arg, CAPABILITIES, XEN_CAPABILITIES_LEN);
    case XENVER_CHANGESET:
        return put_string(c, arg, "libhv", XEN_CHANGESET_LEN);
    case XENVER_PLATFORM_PARAMETERS: {
        /* virt_start: there is no hypervisor hole in an HVM guest. */
        uint64_t zero = 0;
        size_t len = c->compat ? XEN_PLATFORM_PARAMETERS_SIZE_32 : XEN_PLATFORM_PARAMETERS_SIZE_64;
        return xen_copy_to_guest(c, arg, &zero, len) ? -XEN_EFAULT : 0;
    }
    case XENVER_GET_FEATURES: {
        struct xen_feature_info fi;
        if (xen_copy_from_guest(c, arg, &fi, sizeof(fi)))
            return -XEN_EFAULT;
        if (fi.submap_idx != 0)
            return -XEN_EINVAL;
        fi.submap = features();
        return xen_copy_to_guest(c, arg, &fi, sizeof(fi)) ? -XEN_EFAULT : 0;
    }
    case XENVER_PAGESIZE:
        return arg ? -XEN_EINVAL : (long)HV_PAGE_SIZE;
    case XENVER_GUEST_HANDLE:
        return xen_copy_to_guest(c, arg, x->handle, sizeof(x->handle)) ? -XEN_EFAULT : 0;
    case XENVER_COMMANDLINE:
        /* Not for unprivileged domains: Xen copies "<denied>" and its NUL only. */
        return xen_copy_to_guest(c, arg, DENIED, sizeof(DENIED)) ? -XEN_EFAULT : 0;
    case XENVER_BUILD_ID:
        return -XEN_EPERM;
    default:
        return -XEN_ENOSYS;
    }
}

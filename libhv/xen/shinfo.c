/* The vCPU's vcpu_info (the event bits themselves: xen/shinfo.h). */
#include "core/guest_mem.h"
#include "xen/internal.h"

uint8_t *xen_vcpu_info(struct hv_xen_vm *x, struct hv_xen_vcpu *xv)
{
    if (xv->vi_registered) {
        /* Registration checked the page; translate again in case the
           guest remapped it (then events to it are lost, not misplaced). */
        return hv_gpa_ptr(x->vm, xv->vi_gpa, HV_MEM_READ | HV_MEM_WRITE);
    }
    if (xv->id < XEN_LEGACY_MAX_VCPUS)
        return (uint8_t *)x->shinfo + xv->id * sizeof(struct xen_vcpu_info_64);
    return xv->vi_dummy;
}

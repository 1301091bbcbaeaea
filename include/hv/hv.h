/**
 * @file hv.h
 * @brief libhv umbrella header: include this to get the whole API.
 *
 * libhv is a freestanding C11 library that gives a host kernel hardware
 * virtualization on x86-64 (Intel VMX with EPT, AMD SVM with NPT) behind
 * one API, with a Xen-compatible paravirtual interface for guests.
 *
 * Start with hv_ctx_create() (ctx.h), then hv_vm_create() and hv_vm_map()
 * (vm.h), hv_vcpu_create() and hv_vcpu_run() (vcpu.h). The host services
 * the embedder provides are described in host.h; a vCPU's x87/SSE state
 * in fpu.h; emulated MMIO in assist.h; the local APIC in lapic.h; guest images, PVH boot and the
 * Xen interface in image.h, pvh.h and xen.h.
 */
#ifndef HV_HV_H
#define HV_HV_H

#include <hv/status.h>
#include <hv/host.h>
#include <hv/ctx.h>
#include <hv/vm.h>
#include <hv/vcpu.h>
#include <hv/fpu.h>
#include <hv/xsave.h>
#include <hv/assist.h>
#include <hv/image.h>
#include <hv/pvh.h>
#include <hv/xen.h>
#include <hv/lapic.h>

#endif /* HV_HV_H */

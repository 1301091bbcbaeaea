/*
 * Port ranges the embedder handles inside the library
 * (hv_vm_pio_register, include/hv/assist.h): the table, its lookup and
 * the call of a handler for one IN or OUT, shared by the core's dispatcher
 * (core/run.c), the assist's INS/OUTS (core/assist.c) and both backends'
 * exit fast paths, which finish such an IN or OUT without leaving the
 * world switch.
 */
#ifndef HV_CORE_PIO_H
#define HV_CORE_PIO_H

#include <hv/assist.h>
#include <hv/vcpu.h>
#include "core/objects.h"

struct hv_pio_range {
    uint32_t port;  /* first port */
    uint32_t count; /* ports, 1..65536 - port */
    hv_pio_handler handler;
    void *opaque;
};

/* Allocated at the first registration; read without a lock by running
   vCPUs, so changed only while none runs (hv_vm_pio_register). */
struct hv_pio_vm {
    struct hv_pio_range ranges[HV_PIO_RANGES_MAX];
    uint32_t count;
};

/* Does r hold every byte of an access of size bytes at port? */
static inline bool hv_pio_holds(const struct hv_pio_range *r, uint32_t port, unsigned size)
{
    return port >= r->port && port - r->port + size <= r->count;
}

/* hv_pio_find past the hint: every range (pio.c). */
const struct hv_pio_range *hv_pio_lookup(struct hv_vcpu *vcpu, uint16_t port, unsigned size);

/*
 * The range whose handler takes an access of size bytes at port, or NULL
 * (the embedder's exit). A VM without ranges costs one load and test; a
 * guest driving one device hits the vCPU's hint.
 */
static inline __attribute__((always_inline)) const struct hv_pio_range *
hv_pio_find(struct hv_vcpu *vcpu, uint16_t port, unsigned size)
{
    const struct hv_pio_vm *pv = vcpu->vm->pio;
    if (__builtin_expect(pv == NULL, 1))
        return NULL;
    uint32_t hint = vcpu->pio_hint;
    if (hint < pv->count && hv_pio_holds(&pv->ranges[hint], port, size))
        return &pv->ranges[hint];
    return hv_pio_lookup(vcpu, port, size);
}

/* OUT's data: RAX masked to the access size (1, 2 or 4; 0 for anything
   else, which no CPU reports). */
static inline uint32_t hv_pio_out_data(uint64_t rax, unsigned size)
{
    static const uint32_t mask[8] = {0, 0xff, 0xffff, 0, 0xffffffffu, 0, 0, 0};
    return (uint32_t)rax & mask[size & 7];
}

/* RAX after an IN of size bytes read v: AL or AX replaced, the rest kept;
   a 32-bit IN zero-extends into RAX (SDM Vol. 1 3.4.1.1). */
static inline uint64_t hv_pio_in_merge(uint64_t rax, unsigned size, uint64_t v)
{
    switch (size) {
    case 1:
        return (rax & ~0xffull) | (v & 0xff);
    case 2:
        return (rax & ~0xffffull) | (v & 0xffff);
    default:
        return v & 0xffffffffull;
    }
}

/*
 * An IN or OUT (not a string one) carried out on r's handler: OUT's data
 * from *rax, IN's value merged into *rax. Returns the handler's status;
 * *rax changes only on success.
 */
static inline hv_status_t hv_pio_call(const struct hv_pio_range *r, uint16_t port, uint8_t size,
                                      bool write, uint64_t *rax)
{
    uint32_t v = write ? hv_pio_out_data(*rax, size) : 0;
    hv_status_t st = r->handler(r->opaque, port, size, write, &v);
    if (st == HV_OK && !write)
        *rax = hv_pio_in_merge(*rax, size, v);
    return st;
}

/*
 * The exit of a handler that failed (hv_pio_handler): HV_EXIT_UNHANDLED at
 * the instruction, with the status and the port. The header written whole
 * (the fast paths do not clear the record first); RIP stays.
 */
static inline void hv_pio_failed(struct hv_exit *exit, hv_status_t st, uint16_t port, uint64_t rip,
                                 uint64_t raw_code)
{
    exit->reason = HV_EXIT_UNHANDLED;
    exit->reserved = 0;
    exit->rip = rip;
    exit->raw_code = raw_code;
    exit->raw_info1 = (uint64_t)st;
    exit->raw_info2 = port;
}

/* Free the table (hv_vm_destroy). */
void hv_pio_vm_fini(struct hv_vm *vm);

#endif /* HV_CORE_PIO_H */

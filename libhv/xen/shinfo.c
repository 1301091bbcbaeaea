/*
 * The 2-level event bits in shared_info and the vcpu_info fields, in the
 * layout the guest latched (64-bit or i386). The guest changes the same
 * words concurrently (it clears pending bits, sets and clears masks), so
 * every read-modify-write is a locked atomic operation on the word, as
 * Xen's guest_test_and_set_bit() is.
 */
#include "core/guest_mem.h"
#include "xen/internal.h"

/* The pending (or mask) bitmap: an array of 64-bit or 32-bit words. */
static void *bitmap(struct hv_xen_vm *x, bool mask)
{
    if (x->compat) {
        struct xen_shared_info_32 *s = x->shinfo;
        return mask ? (void *)s->evtchn_mask : (void *)s->evtchn_pending;
    }
    struct xen_shared_info_64 *s = x->shinfo;
    return mask ? (void *)s->evtchn_mask : (void *)s->evtchn_pending;
}

/* Atomic bit operations on bit @p bit of a word array of the guest's width. */
static bool bit_test_and_set(bool compat, void *words, uint32_t bit)
{
    if (compat) {
        uint32_t m = 1u << (bit % 32);
        return __atomic_fetch_or((uint32_t *)words + bit / 32, m, __ATOMIC_SEQ_CST) & m;
    }
    uint64_t m = 1ull << (bit % 64);
    return __atomic_fetch_or((uint64_t *)words + bit / 64, m, __ATOMIC_SEQ_CST) & m;
}

static bool bit_test_and_clear(bool compat, void *words, uint32_t bit)
{
    if (compat) {
        uint32_t m = 1u << (bit % 32);
        return __atomic_fetch_and((uint32_t *)words + bit / 32, ~m, __ATOMIC_SEQ_CST) & m;
    }
    uint64_t m = 1ull << (bit % 64);
    return __atomic_fetch_and((uint64_t *)words + bit / 64, ~m, __ATOMIC_SEQ_CST) & m;
}

static bool bit_test(bool compat, const void *words, uint32_t bit)
{
    if (compat)
        return __atomic_load_n((const uint32_t *)words + bit / 32, __ATOMIC_SEQ_CST) &
               (1u << (bit % 32));
    return __atomic_load_n((const uint64_t *)words + bit / 64, __ATOMIC_SEQ_CST) &
           (1ull << (bit % 64));
}

/* Ports outside the 2-level space never have bits: pending reads as
   clear, masked as set (Xen's evtchn_2l_is_masked). */
bool xen_port_test_and_set_pending(struct hv_xen_vm *x, uint32_t port)
{
    if (port >= xen_2l_ports(x))
        return true;
    return bit_test_and_set(x->compat, bitmap(x, false), port);
}

bool xen_port_test_pending(struct hv_xen_vm *x, uint32_t port)
{
    return port < xen_2l_ports(x) && bit_test(x->compat, bitmap(x, false), port);
}

void xen_port_clear_pending(struct hv_xen_vm *x, uint32_t port)
{
    if (port < xen_2l_ports(x))
        bit_test_and_clear(x->compat, bitmap(x, false), port);
}

bool xen_port_test_masked(struct hv_xen_vm *x, uint32_t port)
{
    return port >= xen_2l_ports(x) || bit_test(x->compat, bitmap(x, true), port);
}

bool xen_port_test_and_clear_mask(struct hv_xen_vm *x, uint32_t port)
{
    if (port >= xen_2l_ports(x))
        return false;
    return bit_test_and_clear(x->compat, bitmap(x, true), port);
}

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

bool xen_vi_test_and_set_sel(struct hv_xen_vm *x, uint8_t *vi, uint32_t word)
{
    if (x->compat)
        return bit_test_and_set(true, vi + offsetof(struct xen_vcpu_info_32, evtchn_pending_sel),
                                word);
    return bit_test_and_set(false, vi + offsetof(struct xen_vcpu_info_64, evtchn_pending_sel),
                            word);
}

/* evtchn_upcall_pending and _mask are bytes at the same offsets in both layouts. */
bool xen_vi_test_and_set_upcall(uint8_t *vi)
{
    return __atomic_exchange_n(vi + offsetof(struct xen_vcpu_info_64, evtchn_upcall_pending), 1,
                               __ATOMIC_SEQ_CST) != 0;
}

bool xen_vi_upcall_pending(const uint8_t *vi)
{
    return __atomic_load_n(vi + offsetof(struct xen_vcpu_info_64, evtchn_upcall_pending),
                           __ATOMIC_SEQ_CST) != 0;
}

void xen_vi_clear_upcall_mask(uint8_t *vi)
{
    __atomic_store_n(vi + offsetof(struct xen_vcpu_info_64, evtchn_upcall_mask), 0,
                     __ATOMIC_SEQ_CST);
}

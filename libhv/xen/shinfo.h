/*
 * The 2-level event bits in shared_info and the vcpu_info fields, in the
 * layout the guest latched (64-bit or i386). The guest changes the same
 * words concurrently (it clears pending bits, sets and clears masks), so
 * every read-modify-write is a locked atomic operation on the word, as
 * Xen's guest_test_and_set_bit() is. Inline: a send runs through four of
 * them. Included by xen/internal.h, after the structures; lock held.
 */
#ifndef HV_XEN_SHINFO_H
#define HV_XEN_SHINFO_H

/* The pending (or mask) bitmap of shared_info @p shinfo in the layout
   @p compat names: an array of 64-bit or 32-bit words. */
static inline void *xen_bitmap_of(void *shinfo, bool compat, bool mask)
{
    if (compat) {
        struct xen_shared_info_32 *s = shinfo;
        return mask ? (void *)s->evtchn_mask : (void *)s->evtchn_pending;
    }
    struct xen_shared_info_64 *s = shinfo;
    return mask ? (void *)s->evtchn_mask : (void *)s->evtchn_pending;
}

/* The same in the domain's latched layout. */
static inline void *xen_bitmap(struct hv_xen_vm *x, bool mask)
{
    return xen_bitmap_of(x->shinfo, x->compat, mask);
}

/* Atomic bit operations on bit @p bit of a word array of the guest's width. */
static inline bool xen_bit_test_and_set(bool compat, void *words, uint32_t bit)
{
    if (compat) {
        uint32_t m = 1u << (bit % 32);
        return __atomic_fetch_or((uint32_t *)words + bit / 32, m, __ATOMIC_SEQ_CST) & m;
    }
    uint64_t m = 1ull << (bit % 64);
    return __atomic_fetch_or((uint64_t *)words + bit / 64, m, __ATOMIC_SEQ_CST) & m;
}

static inline bool xen_bit_test_and_clear(bool compat, void *words, uint32_t bit)
{
    if (compat) {
        uint32_t m = 1u << (bit % 32);
        return __atomic_fetch_and((uint32_t *)words + bit / 32, ~m, __ATOMIC_SEQ_CST) & m;
    }
    uint64_t m = 1ull << (bit % 64);
    return __atomic_fetch_and((uint64_t *)words + bit / 64, ~m, __ATOMIC_SEQ_CST) & m;
}

static inline bool xen_bit_test(bool compat, const void *words, uint32_t bit)
{
    if (compat)
        return __atomic_load_n((const uint32_t *)words + bit / 32, __ATOMIC_SEQ_CST) &
               (1u << (bit % 32));
    return __atomic_load_n((const uint64_t *)words + bit / 64, __ATOMIC_SEQ_CST) &
           (1ull << (bit % 64));
}

/* Ports outside the 2-level space never have bits: pending reads as
   clear, masked as set (Xen's evtchn_2l_is_masked). */
static inline bool xen_port_test_and_set_pending(struct hv_xen_vm *x, uint32_t port)
{
    if (port >= xen_2l_ports(x))
        return true;
    return xen_bit_test_and_set(x->compat, xen_bitmap(x, false), port);
}

static inline bool xen_port_test_pending(struct hv_xen_vm *x, uint32_t port)
{
    return port < xen_2l_ports(x) && xen_bit_test(x->compat, xen_bitmap(x, false), port);
}

static inline void xen_port_clear_pending(struct hv_xen_vm *x, uint32_t port)
{
    if (port < xen_2l_ports(x))
        xen_bit_test_and_clear(x->compat, xen_bitmap(x, false), port);
}

static inline bool xen_port_test_masked(struct hv_xen_vm *x, uint32_t port)
{
    return port >= xen_2l_ports(x) || xen_bit_test(x->compat, xen_bitmap(x, true), port);
}

static inline bool xen_port_test_and_clear_mask(struct hv_xen_vm *x, uint32_t port)
{
    if (port >= xen_2l_ports(x))
        return false;
    return xen_bit_test_and_clear(x->compat, xen_bitmap(x, true), port);
}

/* Bit @p word of evtchn_pending_sel in vcpu_info @p vi of the layout @p compat names. */
static inline bool xen_vi_test_and_set_sel(bool compat, uint8_t *vi, uint32_t word)
{
    if (compat)
        return xen_bit_test_and_set(
            true, vi + offsetof(struct xen_vcpu_info_32, evtchn_pending_sel), word);
    return xen_bit_test_and_set(false, vi + offsetof(struct xen_vcpu_info_64, evtchn_pending_sel),
                                word);
}

/* evtchn_upcall_pending and _mask are bytes at the same offsets in both layouts. */
static inline bool xen_vi_test_and_set_upcall(uint8_t *vi)
{
    return __atomic_exchange_n(vi + offsetof(struct xen_vcpu_info_64, evtchn_upcall_pending), 1,
                               __ATOMIC_SEQ_CST) != 0;
}

static inline bool xen_vi_upcall_pending(const uint8_t *vi)
{
    return __atomic_load_n(vi + offsetof(struct xen_vcpu_info_64, evtchn_upcall_pending),
                           __ATOMIC_SEQ_CST) != 0;
}

static inline void xen_vi_clear_upcall_mask(uint8_t *vi)
{
    __atomic_store_n(vi + offsetof(struct xen_vcpu_info_64, evtchn_upcall_mask), 0,
                     __ATOMIC_SEQ_CST);
}

#endif /* HV_XEN_SHINFO_H */

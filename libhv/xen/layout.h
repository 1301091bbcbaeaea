/*
 * Layouts of the structures a Xen guest shares with the hypervisor, as
 * Xen's public headers define them (xen.h, arch-x86/xen.h,
 * arch-x86/xen-x86_64.h, arch-x86/xen-x86_32.h, vcpu.h, sched.h, memory.h,
 * event_channel.h, grant_table.h, version.h, hvm/hvm_op.h, io/console.h,
 * arch-x86/hvm/start_info.h), re-stated with fixed-width types.
 *
 * Where a structure holds a C long or a pointer its layout depends on the
 * guest: a 64-bit guest uses the native layout (suffix _64) and a 32-bit
 * guest the i386 one (suffix _32, Xen's "compat" layout: longs and
 * pointers are 4 bytes and a uint64_t is only 4-byte aligned). Every offset
 * and size the code relies on is pinned by a static assert below, so a
 * layout can only change together with its pin.
 */
#ifndef HV_XEN_LAYOUT_H
#define HV_XEN_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "loader/start_info.h" /* struct hvm_start_info & co, pinned there */

#define XEN_PIN(type, field, off) _Static_assert(offsetof(type, field) == (off), #type "." #field)
#define XEN_SIZE(type, size)      _Static_assert(sizeof(type) == (size), "sizeof " #type)

/* An i386 structure: 8-byte members are only 4-byte aligned there. */
#define XEN_I386 __attribute__((packed, aligned(4)))

/* ---- time (xen.h): identical for both guest widths ---- */

struct xen_vcpu_time_info {
    uint32_t version; /* odd while an update is in progress */
    uint32_t pad0;
    uint64_t tsc_timestamp; /* guest TSC at the last update */
    uint64_t system_time;   /* ns since the domain's time base at that TSC */
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags; /* XEN_PVCLOCK_* */
    uint8_t pad1[2];
};
XEN_SIZE(struct xen_vcpu_time_info, 32);
XEN_PIN(struct xen_vcpu_time_info, version, 0);
XEN_PIN(struct xen_vcpu_time_info, tsc_timestamp, 8);
XEN_PIN(struct xen_vcpu_time_info, system_time, 16);
XEN_PIN(struct xen_vcpu_time_info, tsc_to_system_mul, 24);
XEN_PIN(struct xen_vcpu_time_info, tsc_shift, 28);
XEN_PIN(struct xen_vcpu_time_info, flags, 29);

/* ---- vcpu_info (xen.h + arch_vcpu_info of xen-x86_{64,32}.h): 64 bytes ---- */

struct xen_vcpu_info_64 {
    uint8_t evtchn_upcall_pending;
    uint8_t evtchn_upcall_mask;
    uint8_t pad[6];
    uint64_t evtchn_pending_sel;
    uint64_t arch_cr2;
    uint64_t arch_pad;
    struct xen_vcpu_time_info time;
};
XEN_SIZE(struct xen_vcpu_info_64, 64);
XEN_PIN(struct xen_vcpu_info_64, evtchn_upcall_pending, 0);
XEN_PIN(struct xen_vcpu_info_64, evtchn_upcall_mask, 1);
XEN_PIN(struct xen_vcpu_info_64, evtchn_pending_sel, 8);
XEN_PIN(struct xen_vcpu_info_64, arch_cr2, 16);
XEN_PIN(struct xen_vcpu_info_64, time, 32);

struct xen_vcpu_info_32 {
    uint8_t evtchn_upcall_pending;
    uint8_t evtchn_upcall_mask;
    uint8_t pad[2];
    uint32_t evtchn_pending_sel;
    uint32_t arch_cr2;
    uint32_t arch_pad[5];
    struct xen_vcpu_time_info time;
};
XEN_SIZE(struct xen_vcpu_info_32, 64);
XEN_PIN(struct xen_vcpu_info_32, evtchn_upcall_pending, 0);
XEN_PIN(struct xen_vcpu_info_32, evtchn_upcall_mask, 1);
XEN_PIN(struct xen_vcpu_info_32, evtchn_pending_sel, 4);
XEN_PIN(struct xen_vcpu_info_32, arch_cr2, 8);
XEN_PIN(struct xen_vcpu_info_32, time, 32);

/* Alignment Xen requires of a registered vcpu_info (alignof the structure). */
#define XEN_VCPU_INFO_ALIGN_64 8u
#define XEN_VCPU_INFO_ALIGN_32 4u

/* ---- shared_info (xen.h + arch_shared_info of arch-x86/xen.h) ---- */

#define XEN_LEGACY_MAX_VCPUS 32u

struct xen_arch_shared_info_64 {
    uint64_t max_pfn;
    uint64_t pfn_to_mfn_frame_list_list;
    uint64_t nmi_reason;
    uint64_t p2m_cr3;
    uint64_t p2m_vaddr;
    uint64_t p2m_generation;
};
XEN_SIZE(struct xen_arch_shared_info_64, 48);

struct xen_arch_shared_info_32 {
    uint32_t max_pfn;
    uint32_t pfn_to_mfn_frame_list_list;
    uint32_t nmi_reason;
    uint32_t p2m_cr3;
    uint32_t p2m_vaddr;
    uint32_t p2m_generation;
    uint32_t wc_sec_hi; /* i386 keeps it here: no room in the generic part */
};
XEN_SIZE(struct xen_arch_shared_info_32, 28);

struct xen_shared_info_64 {
    struct xen_vcpu_info_64 vcpu_info[XEN_LEGACY_MAX_VCPUS];
    uint64_t evtchn_pending[64]; /* sizeof(xen_ulong_t) * 8 words */
    uint64_t evtchn_mask[64];
    uint32_t wc_version;
    uint32_t wc_sec;
    uint32_t wc_nsec;
    uint32_t wc_sec_hi;
    struct xen_arch_shared_info_64 arch;
};
XEN_SIZE(struct xen_shared_info_64, 3136);
XEN_PIN(struct xen_shared_info_64, evtchn_pending, 2048);
XEN_PIN(struct xen_shared_info_64, evtchn_mask, 2560);
XEN_PIN(struct xen_shared_info_64, wc_version, 3072);
XEN_PIN(struct xen_shared_info_64, wc_sec, 3076);
XEN_PIN(struct xen_shared_info_64, wc_nsec, 3080);
XEN_PIN(struct xen_shared_info_64, wc_sec_hi, 3084);
XEN_PIN(struct xen_shared_info_64, arch, 3088);

struct xen_shared_info_32 {
    struct xen_vcpu_info_32 vcpu_info[XEN_LEGACY_MAX_VCPUS];
    uint32_t evtchn_pending[32];
    uint32_t evtchn_mask[32];
    uint32_t wc_version;
    uint32_t wc_sec;
    uint32_t wc_nsec;
    struct xen_arch_shared_info_32 arch;
};
XEN_SIZE(struct xen_shared_info_32, 2344);
XEN_PIN(struct xen_shared_info_32, evtchn_pending, 2048);
XEN_PIN(struct xen_shared_info_32, evtchn_mask, 2176);
XEN_PIN(struct xen_shared_info_32, wc_version, 2304);
XEN_PIN(struct xen_shared_info_32, wc_sec, 2308);
XEN_PIN(struct xen_shared_info_32, wc_nsec, 2312);
XEN_PIN(struct xen_shared_info_32, arch, 2316);

/* 2-level event channels: one bit per port in pending/mask (event_channel.h). */
#define XEN_EVTCHN_2L_PORTS_64 4096u /* 64 words of 64 bits */
#define XEN_EVTCHN_2L_PORTS_32 1024u /* 32 words of 32 bits */

/* ---- grant table v1 (grant_table.h): one entry, 8 bytes, both widths ---- */

struct xen_grant_entry_v1 {
    uint16_t flags; /* GTF_* */
    uint16_t domid; /* domain being granted access */
    uint32_t frame; /* GFN the grantee may access */
};
XEN_SIZE(struct xen_grant_entry_v1, 8);
XEN_PIN(struct xen_grant_entry_v1, flags, 0);
XEN_PIN(struct xen_grant_entry_v1, domid, 2);
XEN_PIN(struct xen_grant_entry_v1, frame, 4);

/* ---- PV console ring (io/console.h), at HVM_PARAM_CONSOLE_PFN ---- */

struct xen_cons_interface {
    char in[1024];  /* host -> guest */
    char out[2048]; /* guest -> host */
    uint32_t in_cons, in_prod;
    uint32_t out_cons, out_prod;
};
XEN_SIZE(struct xen_cons_interface, 3088);
XEN_PIN(struct xen_cons_interface, out, 1024);
XEN_PIN(struct xen_cons_interface, in_cons, 3072);
XEN_PIN(struct xen_cons_interface, in_prod, 3076);
XEN_PIN(struct xen_cons_interface, out_cons, 3080);
XEN_PIN(struct xen_cons_interface, out_prod, 3084);

/* ---- memory_op arguments (memory.h) ---- */

/* The BIOS E820 entry format XENMEM_memory_map returns: packed, 20 bytes. */
struct xen_e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} __attribute__((packed));
XEN_SIZE(struct xen_e820_entry, 20);
XEN_PIN(struct xen_e820_entry, size, 8);
XEN_PIN(struct xen_e820_entry, type, 16);

struct xen_memory_map_64 {
    uint32_t nr_entries; /* IN: buffer capacity; OUT: entries written */
    uint32_t pad;
    uint64_t buffer; /* guest pointer to xen_e820_entry[] */
};
XEN_SIZE(struct xen_memory_map_64, 16);
XEN_PIN(struct xen_memory_map_64, buffer, 8);

struct xen_memory_map_32 {
    uint32_t nr_entries;
    uint32_t buffer;
};
XEN_SIZE(struct xen_memory_map_32, 8);
XEN_PIN(struct xen_memory_map_32, buffer, 4);

/* XENMEM_set_memory_map's argument (public/memory.h, struct
   xen_foreign_memory_map): a domid_t, then a struct xen_memory_map at its
   natural alignment. */
struct xen_foreign_memory_map_64 {
    uint16_t domid;
    uint16_t pad[3];
    struct xen_memory_map_64 map;
};
XEN_SIZE(struct xen_foreign_memory_map_64, 24);
XEN_PIN(struct xen_foreign_memory_map_64, map, 8);

struct xen_foreign_memory_map_32 {
    uint16_t domid;
    uint16_t pad;
    struct xen_memory_map_32 map;
};
XEN_SIZE(struct xen_foreign_memory_map_32, 12);
XEN_PIN(struct xen_foreign_memory_map_32, map, 4);

struct xen_add_to_physmap_64 {
    uint16_t domid;
    uint16_t size; /* gmfn_range only */
    uint32_t space;
    uint64_t idx;
    uint64_t gpfn;
};
XEN_SIZE(struct xen_add_to_physmap_64, 24);
XEN_PIN(struct xen_add_to_physmap_64, space, 4);
XEN_PIN(struct xen_add_to_physmap_64, idx, 8);
XEN_PIN(struct xen_add_to_physmap_64, gpfn, 16);

struct xen_add_to_physmap_32 {
    uint16_t domid;
    uint16_t size;
    uint32_t space;
    uint32_t idx;
    uint32_t gpfn;
};
XEN_SIZE(struct xen_add_to_physmap_32, 16);
XEN_PIN(struct xen_add_to_physmap_32, idx, 8);
XEN_PIN(struct xen_add_to_physmap_32, gpfn, 12);

/* ---- sched_op arguments (sched.h) ---- */

struct xen_sched_shutdown {
    uint32_t reason;
};
XEN_SIZE(struct xen_sched_shutdown, 4);

struct xen_sched_poll_64 {
    uint64_t ports; /* guest pointer to evtchn_port_t[] */
    uint32_t nr_ports;
    uint32_t pad;
    uint64_t timeout; /* absolute system time, 0: none */
};
XEN_SIZE(struct xen_sched_poll_64, 24);
XEN_PIN(struct xen_sched_poll_64, nr_ports, 8);
XEN_PIN(struct xen_sched_poll_64, timeout, 16);

struct xen_sched_poll_32 {
    uint32_t ports;
    uint32_t nr_ports;
    uint64_t timeout;
} XEN_I386;
XEN_SIZE(struct xen_sched_poll_32, 16);
XEN_PIN(struct xen_sched_poll_32, nr_ports, 4);
XEN_PIN(struct xen_sched_poll_32, timeout, 8);

struct xen_sched_remote_shutdown {
    uint16_t domain_id;
    uint16_t pad;
    uint32_t reason;
};
XEN_SIZE(struct xen_sched_remote_shutdown, 8);
XEN_PIN(struct xen_sched_remote_shutdown, reason, 4);

/* ---- vcpu_op arguments (vcpu.h) ---- */

struct xen_vcpu_register_vcpu_info {
    uint64_t mfn;    /* GFN of the page holding the vcpu_info */
    uint32_t offset; /* offset in that page */
    uint32_t rsvd;
};
XEN_SIZE(struct xen_vcpu_register_vcpu_info, 16);
XEN_PIN(struct xen_vcpu_register_vcpu_info, offset, 8);

struct xen_vcpu_set_singleshot_timer_64 {
    uint64_t timeout_abs_ns;
    uint32_t flags;
    uint32_t pad;
};
XEN_SIZE(struct xen_vcpu_set_singleshot_timer_64, 16);

struct xen_vcpu_set_singleshot_timer_32 {
    uint64_t timeout_abs_ns;
    uint32_t flags;
} XEN_I386;
XEN_SIZE(struct xen_vcpu_set_singleshot_timer_32, 12);
XEN_PIN(struct xen_vcpu_set_singleshot_timer_32, flags, 8);

struct xen_vcpu_set_periodic_timer {
    uint64_t period_ns;
};
XEN_SIZE(struct xen_vcpu_set_periodic_timer, 8);

/* VCPUOP_initialise of an HVM/PVH vCPU (hvm/hvm_vcpu.h): one layout for
   both guest widths (every 8-byte member is 8-byte aligned). The register
   lists are in x86 encoding order, as enum hv_gpr. Segment attributes are
   the 12-bit VMCB format (hv_segment::attr); limits are raw descriptor
   limits, scaled by G. */
#define XEN_VCPU_HVM_MODE_32B 0u
#define XEN_VCPU_HVM_MODE_64B 1u

struct xen_vcpu_hvm_x86_32 {
    uint32_t gpr[8]; /* eax ecx edx ebx esp ebp esi edi */
    uint32_t eip, eflags;
    uint32_t cr0, cr3, cr4;
    uint32_t pad1;
    uint64_t efer;
    uint32_t cs_base, ds_base, ss_base, es_base, tr_base;
    uint32_t cs_limit, ds_limit, ss_limit, es_limit, tr_limit;
    uint16_t cs_ar, ds_ar, ss_ar, es_ar, tr_ar;
    uint16_t pad2[3];
};
XEN_SIZE(struct xen_vcpu_hvm_x86_32, 120);
XEN_PIN(struct xen_vcpu_hvm_x86_32, eip, 32);
XEN_PIN(struct xen_vcpu_hvm_x86_32, cr0, 40);
XEN_PIN(struct xen_vcpu_hvm_x86_32, pad1, 52);
XEN_PIN(struct xen_vcpu_hvm_x86_32, efer, 56);
XEN_PIN(struct xen_vcpu_hvm_x86_32, cs_base, 64);
XEN_PIN(struct xen_vcpu_hvm_x86_32, cs_limit, 84);
XEN_PIN(struct xen_vcpu_hvm_x86_32, cs_ar, 104);
XEN_PIN(struct xen_vcpu_hvm_x86_32, pad2, 114);

struct xen_vcpu_hvm_x86_64 {
    uint64_t gpr[8]; /* rax rcx rdx rbx rsp rbp rsi rdi */
    uint64_t rip, rflags;
    uint64_t cr0, cr3, cr4, efer;
};
XEN_SIZE(struct xen_vcpu_hvm_x86_64, 112);
XEN_PIN(struct xen_vcpu_hvm_x86_64, rip, 64);
XEN_PIN(struct xen_vcpu_hvm_x86_64, efer, 104);

struct xen_vcpu_hvm_context {
    uint32_t mode; /* XEN_VCPU_HVM_MODE_* */
    uint32_t pad;
    union {
        struct xen_vcpu_hvm_x86_32 x86_32;
        struct xen_vcpu_hvm_x86_64 x86_64;
    } regs;
};
XEN_SIZE(struct xen_vcpu_hvm_context, 128);
XEN_PIN(struct xen_vcpu_hvm_context, regs, 8);

/* ---- event_channel_op arguments (event_channel.h): same for both widths ---- */

struct xen_evtchn_alloc_unbound {
    uint16_t dom, remote_dom;
    uint32_t port; /* OUT */
};
XEN_SIZE(struct xen_evtchn_alloc_unbound, 8);
XEN_PIN(struct xen_evtchn_alloc_unbound, remote_dom, 2);
XEN_PIN(struct xen_evtchn_alloc_unbound, port, 4);

struct xen_evtchn_bind_interdomain {
    uint16_t remote_dom;
    uint16_t pad;
    uint32_t remote_port;
    uint32_t local_port; /* OUT */
};
XEN_SIZE(struct xen_evtchn_bind_interdomain, 12);
XEN_PIN(struct xen_evtchn_bind_interdomain, remote_port, 4);
XEN_PIN(struct xen_evtchn_bind_interdomain, local_port, 8);

struct xen_evtchn_bind_virq {
    uint32_t virq;
    uint32_t vcpu;
    uint32_t port; /* OUT */
};
XEN_SIZE(struct xen_evtchn_bind_virq, 12);
XEN_PIN(struct xen_evtchn_bind_virq, port, 8);

struct xen_evtchn_bind_ipi {
    uint32_t vcpu;
    uint32_t port; /* OUT */
};
XEN_SIZE(struct xen_evtchn_bind_ipi, 8);

/* close, send and unmask take just a port. */
struct xen_evtchn_port_arg {
    uint32_t port;
};
XEN_SIZE(struct xen_evtchn_port_arg, 4);

struct xen_evtchn_status {
    uint16_t dom;
    uint16_t pad;
    uint32_t port;
    uint32_t status; /* OUT: EVTCHNSTAT_* */
    uint32_t vcpu;   /* OUT */
    union {
        struct {
            uint16_t dom;
        } unbound;
        struct {
            uint16_t dom;
            uint16_t pad;
            uint32_t port;
        } interdomain;
        uint32_t pirq;
        uint32_t virq;
    } u;
};
XEN_SIZE(struct xen_evtchn_status, 24);
XEN_PIN(struct xen_evtchn_status, port, 4);
XEN_PIN(struct xen_evtchn_status, status, 8);
XEN_PIN(struct xen_evtchn_status, vcpu, 12);
XEN_PIN(struct xen_evtchn_status, u.interdomain.dom, 16);
XEN_PIN(struct xen_evtchn_status, u.interdomain.port, 20);

struct xen_evtchn_bind_vcpu {
    uint32_t port;
    uint32_t vcpu;
};
XEN_SIZE(struct xen_evtchn_bind_vcpu, 8);

struct xen_evtchn_init_control {
    uint64_t control_gfn;
    uint32_t offset;
    uint32_t vcpu;
    uint8_t link_bits; /* OUT */
    uint8_t pad[7];
};
XEN_SIZE(struct xen_evtchn_init_control, 24);
XEN_PIN(struct xen_evtchn_init_control, link_bits, 16);

/* ---- grant_table_op arguments (grant_table.h) ---- */

struct xen_gnttab_setup_table_64 {
    uint16_t dom;
    uint16_t pad;
    uint32_t nr_frames;
    int16_t status; /* OUT: GNTST_* */
    uint16_t pad2[3];
    uint64_t frame_list; /* guest pointer to xen_pfn_t (8 bytes each) */
};
XEN_SIZE(struct xen_gnttab_setup_table_64, 24);
XEN_PIN(struct xen_gnttab_setup_table_64, nr_frames, 4);
XEN_PIN(struct xen_gnttab_setup_table_64, status, 8);
XEN_PIN(struct xen_gnttab_setup_table_64, frame_list, 16);

struct xen_gnttab_setup_table_32 {
    uint16_t dom;
    uint16_t pad;
    uint32_t nr_frames;
    int16_t status;
    uint16_t pad2;
    uint32_t frame_list; /* guest pointer to 4-byte frame numbers */
};
XEN_SIZE(struct xen_gnttab_setup_table_32, 16);
XEN_PIN(struct xen_gnttab_setup_table_32, status, 8);
XEN_PIN(struct xen_gnttab_setup_table_32, frame_list, 12);

struct xen_gnttab_query_size {
    uint16_t dom;
    uint16_t pad;
    uint32_t nr_frames;     /* OUT */
    uint32_t max_nr_frames; /* OUT */
    int16_t status;         /* OUT */
    uint16_t pad2;
};
XEN_SIZE(struct xen_gnttab_query_size, 16);
XEN_PIN(struct xen_gnttab_query_size, nr_frames, 4);
XEN_PIN(struct xen_gnttab_query_size, max_nr_frames, 8);
XEN_PIN(struct xen_gnttab_query_size, status, 12);

struct xen_gnttab_set_version {
    uint32_t version; /* IN/OUT */
};
XEN_SIZE(struct xen_gnttab_set_version, 4);

struct xen_gnttab_get_version {
    uint16_t dom;
    uint16_t pad;
    uint32_t version; /* OUT */
};
XEN_SIZE(struct xen_gnttab_get_version, 8);
XEN_PIN(struct xen_gnttab_get_version, version, 4);

struct xen_gnttab_copy_ptr_64 {
    uint64_t u; /* grant_ref_t ref, or xen_pfn_t gmfn */
    uint16_t domid;
    uint16_t offset;
    uint32_t pad;
};
XEN_SIZE(struct xen_gnttab_copy_ptr_64, 16);

struct xen_gnttab_copy_64 {
    struct xen_gnttab_copy_ptr_64 source, dest;
    uint16_t len;
    uint16_t flags; /* GNTCOPY_* */
    int16_t status; /* OUT */
    uint16_t pad;
};
XEN_SIZE(struct xen_gnttab_copy_64, 40);
XEN_PIN(struct xen_gnttab_copy_64, dest, 16);
XEN_PIN(struct xen_gnttab_copy_64, len, 32);
XEN_PIN(struct xen_gnttab_copy_64, flags, 34);
XEN_PIN(struct xen_gnttab_copy_64, status, 36);

struct xen_gnttab_copy_ptr_32 {
    uint32_t u;
    uint16_t domid;
    uint16_t offset;
};
XEN_SIZE(struct xen_gnttab_copy_ptr_32, 8);

struct xen_gnttab_copy_32 {
    struct xen_gnttab_copy_ptr_32 source, dest;
    uint16_t len;
    uint16_t flags;
    int16_t status;
    uint16_t pad;
};
XEN_SIZE(struct xen_gnttab_copy_32, 24);
XEN_PIN(struct xen_gnttab_copy_32, dest, 8);
XEN_PIN(struct xen_gnttab_copy_32, len, 16);
XEN_PIN(struct xen_gnttab_copy_32, flags, 18);
XEN_PIN(struct xen_gnttab_copy_32, status, 20);

/* ---- hvm_op arguments (hvm/hvm_op.h): same for both widths ---- */

struct xen_hvm_param {
    uint16_t domid;
    uint16_t pad;
    uint32_t index;
    uint64_t value;
};
XEN_SIZE(struct xen_hvm_param, 16);
XEN_PIN(struct xen_hvm_param, index, 4);
XEN_PIN(struct xen_hvm_param, value, 8);

struct xen_hvm_evtchn_upcall_vector {
    uint32_t vcpu;
    uint8_t vector;
    uint8_t pad[3];
};
XEN_SIZE(struct xen_hvm_evtchn_upcall_vector, 8);
XEN_PIN(struct xen_hvm_evtchn_upcall_vector, vector, 4);

/* ---- xen_version arguments (version.h) ---- */

struct xen_feature_info {
    uint32_t submap_idx; /* IN */
    uint32_t submap;     /* OUT */
};
XEN_SIZE(struct xen_feature_info, 8);

/* xen_platform_parameters: one xen_ulong_t (8 bytes native, 4 compat). */
#define XEN_PLATFORM_PARAMETERS_SIZE_64 8u
#define XEN_PLATFORM_PARAMETERS_SIZE_32 4u

#endif /* HV_XEN_LAYOUT_H */

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

/*
 * A structure that differs between the widths only in these member types
 * is written once, as a macro of the width W (64 or 32) that defines
 * struct <name>_W, and instantiated for both; padding is left implicit,
 * as in Xen's headers, and the pins below hold both results:
 *   xen_ulong_W  a C long, xen_ulong_t or guest handle (8 or 4 bytes);
 *   xen_u64_W    a uint64_t, only 4-byte aligned on i386.
 */
typedef uint64_t xen_ulong_64;
typedef uint32_t xen_ulong_32;
typedef uint64_t xen_u64_64;
typedef uint64_t xen_u64_32 __attribute__((aligned(4))); /* a typedef may lower alignment */

/* Pins of one member (or the size) of struct <s>_64 and struct <s>_32. */
#define XEN_PIN2(s, field, off64, off32)                                                           \
    XEN_PIN(struct s##_64, field, off64);                                                          \
    XEN_PIN(struct s##_32, field, off32)
#define XEN_SIZE2(s, size64, size32)                                                               \
    XEN_SIZE(struct s##_64, size64);                                                               \
    XEN_SIZE(struct s##_32, size32)

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

/* arch_vcpu_info: cr2, then pad[1] (x86_64) or pad[5] (x86_32) longs. */
#define XEN_ARCH_VCPU_PAD_64 1
#define XEN_ARCH_VCPU_PAD_32 5
#define XEN_VCPU_INFO(W)                                                                           \
    struct xen_vcpu_info_##W {                                                                     \
        uint8_t evtchn_upcall_pending;                                                             \
        uint8_t evtchn_upcall_mask;                                                                \
        xen_ulong_##W evtchn_pending_sel;                                                          \
        xen_ulong_##W arch_cr2;                                                                    \
        xen_ulong_##W arch_pad[XEN_ARCH_VCPU_PAD_##W];                                             \
        struct xen_vcpu_time_info time;                                                            \
    }
XEN_VCPU_INFO(64);
XEN_VCPU_INFO(32);
XEN_SIZE2(xen_vcpu_info, 64, 64);
XEN_PIN2(xen_vcpu_info, evtchn_upcall_pending, 0, 0);
XEN_PIN2(xen_vcpu_info, evtchn_upcall_mask, 1, 1);
XEN_PIN2(xen_vcpu_info, evtchn_pending_sel, 8, 4);
XEN_PIN2(xen_vcpu_info, arch_cr2, 16, 8);
XEN_PIN2(xen_vcpu_info, arch_pad, 24, 12);
XEN_PIN2(xen_vcpu_info, time, 32, 32);

/* Alignment Xen requires of a registered vcpu_info (alignof the structure). */
#define XEN_VCPU_INFO_ALIGN_64 8u
#define XEN_VCPU_INFO_ALIGN_32 4u

/* ---- shared_info (xen.h + arch_shared_info of arch-x86/xen.h) ---- */

#define XEN_LEGACY_MAX_VCPUS 32u

/* The high word of the wall clock's seconds: in the generic part on
   x86_64, at the end of arch_shared_info on i386 (no room before it). */
#define XEN_WC_SEC_HI_64      uint32_t wc_sec_hi;
#define XEN_WC_SEC_HI_32      /* in arch */
#define XEN_ARCH_WC_SEC_HI_64 /* in the generic part */
#define XEN_ARCH_WC_SEC_HI_32 uint32_t wc_sec_hi;

#define XEN_ARCH_SHARED_INFO(W)                                                                    \
    struct xen_arch_shared_info_##W {                                                              \
        xen_ulong_##W max_pfn;                                                                     \
        xen_ulong_##W pfn_to_mfn_frame_list_list;                                                  \
        xen_ulong_##W nmi_reason;                                                                  \
        xen_ulong_##W p2m_cr3;                                                                     \
        xen_ulong_##W p2m_vaddr;                                                                   \
        xen_ulong_##W p2m_generation;                                                              \
        XEN_ARCH_WC_SEC_HI_##W                                                                     \
    }
XEN_ARCH_SHARED_INFO(64);
XEN_ARCH_SHARED_INFO(32);
XEN_SIZE2(xen_arch_shared_info, 48, 28);
XEN_PIN2(xen_arch_shared_info, p2m_generation, 40, 20);
XEN_PIN(struct xen_arch_shared_info_32, wc_sec_hi, 24);

/* (Unformatted: XEN_WC_SEC_HI_W is a member of its own.) */
/* clang-format off */
#define XEN_SHARED_INFO(W)                                                                         \
    struct xen_shared_info_##W {                                                                   \
        struct xen_vcpu_info_##W vcpu_info[XEN_LEGACY_MAX_VCPUS];                                  \
        xen_ulong_##W evtchn_pending[sizeof(xen_ulong_##W) * 8];                                   \
        xen_ulong_##W evtchn_mask[sizeof(xen_ulong_##W) * 8];                                      \
        uint32_t wc_version;                                                                       \
        uint32_t wc_sec;                                                                           \
        uint32_t wc_nsec;                                                                          \
        XEN_WC_SEC_HI_##W                                                                          \
        struct xen_arch_shared_info_##W arch;                                                      \
    }
/* clang-format on */
XEN_SHARED_INFO(64);
XEN_SHARED_INFO(32);
XEN_SIZE2(xen_shared_info, 3136, 2344);
XEN_PIN2(xen_shared_info, evtchn_pending, 2048, 2048);
XEN_PIN2(xen_shared_info, evtchn_mask, 2560, 2176);
XEN_PIN2(xen_shared_info, wc_version, 3072, 2304);
XEN_PIN2(xen_shared_info, wc_sec, 3076, 2308);
XEN_PIN2(xen_shared_info, wc_nsec, 3080, 2312);
XEN_PIN(struct xen_shared_info_64, wc_sec_hi, 3084);
XEN_PIN2(xen_shared_info, arch, 3088, 2316);

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

#define XEN_MEMORY_MAP(W)                                                                          \
    struct xen_memory_map_##W {                                                                    \
        uint32_t nr_entries;  /* IN: buffer capacity; OUT: entries written */                      \
        xen_ulong_##W buffer; /* guest pointer to xen_e820_entry[] */                              \
    }
XEN_MEMORY_MAP(64);
XEN_MEMORY_MAP(32);
XEN_SIZE2(xen_memory_map, 16, 8);
XEN_PIN2(xen_memory_map, nr_entries, 0, 0);
XEN_PIN2(xen_memory_map, buffer, 8, 4);

/* XENMEM_set_memory_map's argument (public/memory.h, struct
   xen_foreign_memory_map): a domid_t, then a struct xen_memory_map at its
   natural alignment. */
#define XEN_FOREIGN_MEMORY_MAP(W)                                                                  \
    struct xen_foreign_memory_map_##W {                                                            \
        uint16_t domid;                                                                            \
        struct xen_memory_map_##W map;                                                             \
    }
XEN_FOREIGN_MEMORY_MAP(64);
XEN_FOREIGN_MEMORY_MAP(32);
XEN_SIZE2(xen_foreign_memory_map, 24, 12);
XEN_PIN2(xen_foreign_memory_map, domid, 0, 0);
XEN_PIN2(xen_foreign_memory_map, map, 8, 4);
XEN_PIN2(xen_foreign_memory_map, map.nr_entries, 8, 4);
XEN_PIN2(xen_foreign_memory_map, map.buffer, 16, 8);

#define XEN_ADD_TO_PHYSMAP(W)                                                                      \
    struct xen_add_to_physmap_##W {                                                                \
        uint16_t domid;                                                                            \
        uint16_t size; /* gmfn_range only */                                                       \
        uint32_t space;                                                                            \
        xen_ulong_##W idx;                                                                         \
        xen_ulong_##W gpfn;                                                                        \
    }
XEN_ADD_TO_PHYSMAP(64);
XEN_ADD_TO_PHYSMAP(32);
XEN_SIZE2(xen_add_to_physmap, 24, 16);
XEN_PIN2(xen_add_to_physmap, domid, 0, 0);
XEN_PIN2(xen_add_to_physmap, size, 2, 2);
XEN_PIN2(xen_add_to_physmap, space, 4, 4);
XEN_PIN2(xen_add_to_physmap, idx, 8, 8);
XEN_PIN2(xen_add_to_physmap, gpfn, 16, 12);

/* ---- sched_op arguments (sched.h) ---- */

struct xen_sched_shutdown {
    uint32_t reason;
};
XEN_SIZE(struct xen_sched_shutdown, 4);

#define XEN_SCHED_POLL(W)                                                                          \
    struct xen_sched_poll_##W {                                                                    \
        xen_ulong_##W ports; /* guest pointer to evtchn_port_t[] */                                \
        uint32_t nr_ports;                                                                         \
        xen_u64_##W timeout; /* absolute system time, 0: none */                                   \
    }
XEN_SCHED_POLL(64);
XEN_SCHED_POLL(32);
XEN_SIZE2(xen_sched_poll, 24, 16);
XEN_PIN2(xen_sched_poll, ports, 0, 0);
XEN_PIN2(xen_sched_poll, nr_ports, 8, 4);
XEN_PIN2(xen_sched_poll, timeout, 16, 8);

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

#define XEN_VCPU_SET_SINGLESHOT_TIMER(W)                                                           \
    struct xen_vcpu_set_singleshot_timer_##W {                                                     \
        xen_u64_##W timeout_abs_ns;                                                                \
        uint32_t flags;                                                                            \
    }
XEN_VCPU_SET_SINGLESHOT_TIMER(64);
XEN_VCPU_SET_SINGLESHOT_TIMER(32);
XEN_SIZE2(xen_vcpu_set_singleshot_timer, 16, 12);
XEN_PIN2(xen_vcpu_set_singleshot_timer, timeout_abs_ns, 0, 0);
XEN_PIN2(xen_vcpu_set_singleshot_timer, flags, 8, 8);

struct xen_vcpu_set_periodic_timer {
    uint64_t period_ns;
};
XEN_SIZE(struct xen_vcpu_set_periodic_timer, 8);

/* vcpu_runstate_info (vcpu.h): the vCPU's state (RUNSTATE_*), the guest
   system time it entered it (bit 63: XEN_RUNSTATE_UPDATE) and the time
   spent in each state; on i386 the uint64_t members are 4-byte aligned. */
#define XEN_VCPU_RUNSTATE_INFO(W)                                                                  \
    struct xen_vcpu_runstate_info_##W {                                                            \
        int32_t state;                                                                             \
        xen_u64_##W state_entry_time;                                                              \
        xen_u64_##W time[4];                                                                       \
    }
XEN_VCPU_RUNSTATE_INFO(64);
XEN_VCPU_RUNSTATE_INFO(32);
XEN_SIZE2(xen_vcpu_runstate_info, 48, 44);
XEN_PIN2(xen_vcpu_runstate_info, state, 0, 0);
XEN_PIN2(xen_vcpu_runstate_info, state_entry_time, 8, 4);
XEN_PIN2(xen_vcpu_runstate_info, time, 16, 12);

/* vcpu_register_runstate_memory_area (vcpu.h): a union of a guest handle,
   a pointer and a uint64_t p, 8 bytes for both widths; an i386 caller's
   pointer is the low half. vcpu_register_time_memory_area is the same
   union, of a struct vcpu_time_info (32 bytes, one layout for both). */
struct xen_vcpu_register_runstate_memory_area {
    uint64_t addr;
};
XEN_SIZE(struct xen_vcpu_register_runstate_memory_area, 8);

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

#define XEN_GNTTAB_SETUP_TABLE(W)                                                                  \
    struct xen_gnttab_setup_table_##W {                                                            \
        uint16_t dom;                                                                              \
        uint32_t nr_frames;                                                                        \
        int16_t status;           /* OUT: GNTST_* */                                               \
        xen_ulong_##W frame_list; /* guest pointer to xen_pfn_t (8 or 4 bytes each) */             \
    }
XEN_GNTTAB_SETUP_TABLE(64);
XEN_GNTTAB_SETUP_TABLE(32);
XEN_SIZE2(xen_gnttab_setup_table, 24, 16);
XEN_PIN2(xen_gnttab_setup_table, dom, 0, 0);
XEN_PIN2(xen_gnttab_setup_table, nr_frames, 4, 4);
XEN_PIN2(xen_gnttab_setup_table, status, 8, 8);
XEN_PIN2(xen_gnttab_setup_table, frame_list, 16, 12);

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

#define XEN_GNTTAB_COPY_PTR(W)                                                                     \
    struct xen_gnttab_copy_ptr_##W {                                                               \
        xen_ulong_##W u; /* grant_ref_t ref, or xen_pfn_t gmfn */                                  \
        uint16_t domid;                                                                            \
        uint16_t offset;                                                                           \
    }
XEN_GNTTAB_COPY_PTR(64);
XEN_GNTTAB_COPY_PTR(32);
XEN_SIZE2(xen_gnttab_copy_ptr, 16, 8);
XEN_PIN2(xen_gnttab_copy_ptr, u, 0, 0);
XEN_PIN2(xen_gnttab_copy_ptr, domid, 8, 4);
XEN_PIN2(xen_gnttab_copy_ptr, offset, 10, 6);

#define XEN_GNTTAB_COPY(W)                                                                         \
    struct xen_gnttab_copy_##W {                                                                   \
        struct xen_gnttab_copy_ptr_##W source, dest;                                               \
        uint16_t len;                                                                              \
        uint16_t flags; /* GNTCOPY_* */                                                            \
        int16_t status; /* OUT */                                                                  \
    }
XEN_GNTTAB_COPY(64);
XEN_GNTTAB_COPY(32);
XEN_SIZE2(xen_gnttab_copy, 40, 24);
XEN_PIN2(xen_gnttab_copy, source, 0, 0);
XEN_PIN2(xen_gnttab_copy, dest, 16, 8);
XEN_PIN2(xen_gnttab_copy, len, 32, 16);
XEN_PIN2(xen_gnttab_copy, flags, 34, 18);
XEN_PIN2(xen_gnttab_copy, status, 36, 20);

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

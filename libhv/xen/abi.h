/*
 * The numbers of Xen's guest ABI that libhv implements: hypercall and
 * sub-operation numbers, flags, error values, CPUID leaves and MSRs.
 * Re-stated from Xen's public headers (xen/include/public: xen.h,
 * errno.h, version.h, features.h, sched.h, memory.h, vcpu.h,
 * event_channel.h, grant_table.h, hvm/hvm_op.h, hvm/params.h,
 * arch-x86/cpuid.h); the structure layouts are in layout.h.
 */
#ifndef HV_XEN_ABI_H
#define HV_XEN_ABI_H

/* Hypercall numbers (xen.h). */
#define XEN_HC_MEMORY_OP        12
#define XEN_HC_SET_TIMER_OP     15
#define XEN_HC_XEN_VERSION      17
#define XEN_HC_CONSOLE_IO       18
#define XEN_HC_GRANT_TABLE_OP   20
#define XEN_HC_VM_ASSIST        21
#define XEN_HC_IRET             23 /* PV only: its page slot holds UD2 */
#define XEN_HC_VCPU_OP          24
#define XEN_HC_SCHED_OP         29
#define XEN_HC_EVENT_CHANNEL_OP 32
#define XEN_HC_HVM_OP           34

/* Hypercall page: one 32-byte stub per hypercall number (xen-x86_64.h). */
#define XEN_HYPERCALL_STUB_SIZE 32u

/* Error values (errno.h); hypercalls return their negation. */
#define XEN_EPERM      1
#define XEN_ENOENT     2
#define XEN_ENOMEM     12
#define XEN_ESRCH      3
#define XEN_E2BIG      7
#define XEN_EFAULT     14
#define XEN_EBUSY      16
#define XEN_EEXIST     17
#define XEN_EINVAL     22
#define XEN_ENOSPC     28
#define XEN_ERANGE     34
#define XEN_ENOSYS     38
#define XEN_ETIME      62
#define XEN_EOPNOTSUPP 95

/* Domain ids (xen.h). */
#define XEN_DOMID_SELF           0x7ff0u
#define XEN_DOMID_FIRST_RESERVED 0x7ff0u

/* CPUID leaves 0x40000000.. (arch-x86/cpuid.h). */
#define XEN_CPUID_BASE           0x40000000u
#define XEN_CPUID_SIG_EBX        0x566e6558u /* "XenV" */
#define XEN_CPUID_SIG_ECX        0x65584d4du /* "MMXe" */
#define XEN_CPUID_SIG_EDX        0x4d4d566eu /* "nVMM" */
#define XEN_CPUID_LEAVES         5u          /* leaves base+1 .. base+5 */
#define XEN_HVM_CPUID_VCPU_ID    (1u << 3)   /* EBX holds the vCPU id */
#define XEN_HVM_CPUID_DOMID      (1u << 4)   /* ECX holds the domain id */
#define XEN_HVM_CPUID_UPCALL_VEC (1u << 6)   /* per-vCPU upcall vector works */
/* MSR whose write installs the hypercall page (CPUID base+2 EBX). */
#define XEN_MSR_HYPERCALL_PAGE 0x40000000u

/* console_io (xen.h). */
#define XEN_CONSOLEIO_WRITE 0
#define XEN_CONSOLEIO_READ  1

/* xen_version sub-ops (version.h). */
#define XENVER_VERSION             0
#define XENVER_EXTRAVERSION        1
#define XENVER_COMPILE_INFO        2
#define XENVER_CAPABILITIES        3
#define XENVER_CHANGESET           4
#define XENVER_PLATFORM_PARAMETERS 5
#define XENVER_GET_FEATURES        6
#define XENVER_PAGESIZE            7
#define XENVER_GUEST_HANDLE        8
#define XENVER_COMMANDLINE         9
#define XENVER_BUILD_ID            10
#define XEN_EXTRAVERSION_LEN       16u
#define XEN_CAPABILITIES_LEN       1024u
#define XEN_CHANGESET_LEN          64u
#define XEN_COMMANDLINE_LEN        1024u
#define XEN_COMPILE_INFO_LEN       144u /* compiler[64] by[16] domain[32] date[32] */

/* XENVER_get_features submap 0 bits (features.h). */
#define XENFEAT_writable_page_tables    0
#define XENFEAT_auto_translated_physmap 2
#define XENFEAT_hvm_callback_vector     8
#define XENFEAT_hvm_safe_pvclock        9
#define XENFEAT_not_direct_mapped       16

/* sched_op (sched.h). */
#define SCHEDOP_yield           0
#define SCHEDOP_block           1
#define SCHEDOP_shutdown        2
#define SCHEDOP_poll            3
#define SCHEDOP_remote_shutdown 4
#define SCHEDOP_shutdown_code   5
#define SCHEDOP_watchdog        6
#define SCHEDOP_pin_override    7
#define XEN_POLL_MAX_PORTS      128u /* do_poll's limit */
#define XEN_SHUTDOWN_CODE_NONE  0xffu
#define XEN_SHUTDOWN_POWEROFF   0u /* SHUTDOWN_poweroff */

/* memory_op (memory.h). The low 6 bits select the operation. */
#define XENMEM_CMD_MASK              0x3fu
#define XENMEM_add_to_physmap        7
#define XENMEM_memory_map            9
#define XENMEM_machphys_mapping      12
#define XENMEM_set_memory_map        13
#define XENMEM_machine_memory_map    10
#define XENMAPSPACE_shared_info      0
#define XENMAPSPACE_grant_table      1
#define XENMAPSPACE_gmfn_foreign     4
#define XENMAPIDX_grant_table_status 0x80000000u

/* vcpu_op (vcpu.h). */
#define VCPUOP_initialise                    0
#define VCPUOP_up                            1
#define VCPUOP_down                          2
#define VCPUOP_is_up                         3
#define VCPUOP_get_runstate_info             4
#define VCPUOP_register_runstate_memory_area 5
#define VCPUOP_set_periodic_timer            6
#define VCPUOP_stop_periodic_timer           7
#define VCPUOP_set_singleshot_timer          8
#define VCPUOP_stop_singleshot_timer         9
#define VCPUOP_register_vcpu_info            10
#define VCPUOP_register_vcpu_time_memory_area 13
/* vcpu_time_info::flags (xen.h): the pvclock is monotonic across vCPUs. */
#define XEN_PVCLOCK_TSC_STABLE_BIT           (1u << 0)
#define VCPU_SSHOTTMR_future                 (1u << 0)
/* vcpu_runstate_info::state and its update flag (vcpu.h). */
#define XEN_RUNSTATE_running  0
#define XEN_RUNSTATE_runnable 1
#define XEN_RUNSTATE_blocked  2
#define XEN_RUNSTATE_offline  3
#define XEN_RUNSTATE_UPDATE   (1ull << 63)

/* vm_assist (xen.h): the only type an HVM/PVH guest may use. */
#define XEN_VMASST_CMD_enable                0
#define XEN_VMASST_CMD_disable               1
#define XEN_VMASST_TYPE_runstate_update_flag 5

/* event_channel_op (event_channel.h). */
#define EVTCHNOP_bind_interdomain 0
#define EVTCHNOP_bind_virq        1
#define EVTCHNOP_bind_pirq        2
#define EVTCHNOP_close            3
#define EVTCHNOP_send             4
#define EVTCHNOP_status           5
#define EVTCHNOP_alloc_unbound    6
#define EVTCHNOP_bind_ipi         7
#define EVTCHNOP_bind_vcpu        8
#define EVTCHNOP_unmask           9
#define EVTCHNOP_reset            10
#define EVTCHNOP_init_control     11
#define EVTCHNOP_expand_array     12
#define EVTCHNOP_set_priority     13
#define EVTCHNSTAT_closed         0
#define EVTCHNSTAT_unbound        1
#define EVTCHNSTAT_interdomain    2
#define EVTCHNSTAT_pirq           3
#define EVTCHNSTAT_virq           4
#define EVTCHNSTAT_ipi            5

/* Virtual IRQs (xen.h); per-vCPU ones can be bound once on each vCPU. */
#define XEN_VIRQ_TIMER    0
#define XEN_VIRQ_DEBUG    1
#define XEN_VIRQ_XENOPROF 7
#define XEN_VIRQ_XENPMU   13
#define XEN_NR_VIRQS      24

/* grant_table_op (grant_table.h). */
#define GNTTABOP_map_grant_ref      0
#define GNTTABOP_unmap_grant_ref    1
#define GNTTABOP_setup_table        2
#define GNTTABOP_copy               5
#define GNTTABOP_query_size         6
#define GNTTABOP_set_version        8
#define GNTTABOP_get_version        10
#define GNTCOPY_source_gref         (1u << 0)
#define GNTCOPY_dest_gref           (1u << 1)
#define GTF_invalid                 0u
#define GTF_permit_access           1u
#define GTF_type_mask               3u
#define GTF_readonly                (1u << 2)
#define GTF_reading                 (1u << 3)
#define GTF_writing                 (1u << 4)
#define GNTST_okay                  0
#define GNTST_general_error         (-1)
#define GNTST_bad_domain            (-2)
#define GNTST_bad_gntref            (-3)
#define GNTST_permission_denied     (-8)
#define GNTST_bad_page              (-9)
#define GNTST_bad_copy_arg          (-10)
#define XEN_GRANT_ENTRIES_PER_FRAME 512u /* 4096 / sizeof(grant_entry_v1) */

/* hvm_op (hvm/hvm_op.h, hvm/params.h). The low 8 bits select the operation. */
#define HVMOP_OP_MASK                  0xffu
#define HVMOP_set_param                0
#define HVMOP_get_param                1
#define HVMOP_get_time                 10
#define HVMOP_set_evtchn_upcall_vector 23
#define HVM_PARAM_CALLBACK_IRQ         0
#define HVM_PARAM_STORE_PFN            1
#define HVM_PARAM_STORE_EVTCHN         2
#define HVM_PARAM_CONSOLE_PFN          17
#define HVM_PARAM_CONSOLE_EVTCHN       18
#define HVM_PARAM_X87_FIP_WIDTH        36
#define HVM_NR_PARAMS                  39
#define HVM_CALLBACK_TYPE_SHIFT        56
#define HVM_CALLBACK_TYPE_VECTOR       2u

#endif /* HV_XEN_ABI_H */

/*
 * xg: the Xen test guest of the system tests. One C program built twice,
 * as an i386 ELF32 and as an x86-64 ELF64 (whose 32-bit PVH entry switches
 * to long mode), the way a Xen PVH guest is built: an ELF note with
 * XEN_ELFNOTE_PHYS32_ENTRY, the hypercall page installed through the MSR
 * CPUID leaf 0x40000002 names, Xen's public structures in the guest's own
 * C layout (so the i386 build uses the 32-bit ABI without any special
 * casing, as a real 32-bit guest does).
 *
 * The numbers below are re-stated from Xen's public headers
 * (xen/include/public); the guest checks libhv against them.
 */
#ifndef XG_H
#define XG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xg_layout.h"

typedef unsigned long ureg; /* xen_ulong_t, a guest handle, a register */

/* ---- hypercall numbers (xen.h) ---- */
#define HC_set_trap_table   0
#define HC_memory_op        12
#define HC_set_timer_op     15
#define HC_xen_version      17
#define HC_console_io       18
#define HC_grant_table_op   20
#define HC_vm_assist        21
#define HC_iret             23
#define HC_vcpu_op          24
#define HC_sched_op         29
#define HC_event_channel_op 32
#define HC_physdev_op       33
#define HC_hvm_op           34

/* ---- errno.h ---- */
#define EPERM      1
#define ENOENT     2
#define ESRCH      3
#define E2BIG      7
#define EFAULT     14
#define EEXIST     17
#define EINVAL     22
#define ENOSPC     28
#define EDOM       33
#define ENOSYS     38
#define EOPNOTSUPP 95

#define DOMID_SELF 0x7ff0u

/* ---- CPUID / MSR (arch-x86/cpuid.h) ---- */
#define XEN_CPUID_FIRST          0x40000000u
#define XEN_HVM_CPUID_VCPU_ID    (1u << 3)
#define XEN_HVM_CPUID_DOMID      (1u << 4)
#define XEN_HVM_CPUID_UPCALL_VEC (1u << 6)

/* ---- version.h ---- */
#define XENVER_version                  0
#define XENVER_extraversion             1
#define XENVER_compile_info             2
#define XENVER_capabilities             3
#define XENVER_changeset                4
#define XENVER_platform_parameters      5
#define XENVER_get_features             6
#define XENVER_pagesize                 7
#define XENVER_guest_handle             8
#define XENVER_commandline              9
#define XENVER_build_id                 10
#define XENFEAT_writable_page_tables    0
#define XENFEAT_auto_translated_physmap 2
#define XENFEAT_hvm_callback_vector     8
#define XENFEAT_hvm_safe_pvclock        9
#define XENFEAT_not_direct_mapped       16

struct xen_feature_info {
    unsigned int submap_idx;
    uint32_t submap;
};
struct xen_platform_parameters {
    ureg virt_start;
};

/* ---- console_io ---- */
#define CONSOLEIO_write 0
#define CONSOLEIO_read  1

/* ---- sched.h ---- */
#define SCHEDOP_yield           0
#define SCHEDOP_block           1
#define SCHEDOP_shutdown        2
#define SCHEDOP_poll            3
#define SCHEDOP_remote_shutdown 4
#define SCHEDOP_shutdown_code   5
#define SCHEDOP_watchdog        6
#define SCHEDOP_pin_override    7
#define SHUTDOWN_poweroff       0
#define SHUTDOWN_reboot         1
#define SHUTDOWN_suspend        2
#define SHUTDOWN_crash          3

typedef uint32_t evtchn_port_t;
struct sched_shutdown {
    unsigned int reason;
};
struct sched_poll {
    evtchn_port_t *ports;
    unsigned int nr_ports;
    uint64_t timeout;
};
struct sched_remote_shutdown {
    uint16_t domain_id;
    unsigned int reason;
};

/* ---- memory.h ---- */
#define XENMEM_add_to_physmap        7
#define XENMEM_memory_map            9
#define XENMEM_machine_memory_map    10
#define XENMAPSPACE_shared_info      0
#define XENMAPSPACE_grant_table      1
#define XENMAPSPACE_gmfn             2
#define XENMAPSPACE_gmfn_foreign     4
#define XENMAPIDX_grant_table_status 0x80000000u

struct e820entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} __attribute__((packed));
struct xen_memory_map {
    unsigned int nr_entries;
    void *buffer;
};
struct xen_add_to_physmap {
    uint16_t domid;
    uint16_t size;
    unsigned int space;
    ureg idx;
    ureg gpfn;
};

/* ---- hvm_op.h / params.h ---- */
#define HVMOP_set_param                0
#define HVMOP_get_param                1
#define HVMOP_get_time                 10
#define HVMOP_set_evtchn_upcall_vector 23
#define HVM_PARAM_CALLBACK_IRQ         0
#define HVM_PARAM_STORE_PFN            1
#define HVM_PARAM_STORE_EVTCHN         2
#define HVM_PARAM_IOREQ_PFN            5
#define HVM_PARAM_CONSOLE_PFN          17
#define HVM_PARAM_CONSOLE_EVTCHN       18
#define HVM_NR_PARAMS                  39
#define HVM_PARAM_CALLBACK_TYPE_VECTOR 2ull

struct xen_hvm_param {
    uint16_t domid;
    uint32_t index;
    uint64_t value;
};
struct xen_hvm_get_time {
    uint64_t now;
};
struct xen_hvm_evtchn_upcall_vector {
    uint32_t vcpu;
    uint8_t vector;
};

/* ---- vcpu.h ---- */
#define VCPUOP_initialise                    0
#define VCPUOP_up                            1
#define VCPUOP_is_up                         3
#define VCPUOP_get_runstate_info             4
#define VCPUOP_register_runstate_memory_area 5
#define VCPUOP_set_periodic_timer            6
#define VCPUOP_stop_periodic_timer           7
#define VCPUOP_set_singleshot_timer          8
#define VCPUOP_stop_singleshot_timer         9
#define VCPUOP_register_vcpu_info            10
#define VCPUOP_register_vcpu_time_memory_area 13
#define XEN_PVCLOCK_TSC_STABLE_BIT            (1u << 0) /* vcpu_time_info.flags (xen.h) */

struct vcpu_register_vcpu_info {
    uint64_t mfn;
    uint32_t offset;
    uint32_t rsvd;
};
struct vcpu_set_singleshot_timer {
    uint64_t timeout_abs_ns;
    uint32_t flags;
};
struct vcpu_set_periodic_timer {
    uint64_t period_ns;
};
/* On i386 the uint64_t members are 4-byte aligned: 44 bytes, else 48. */
struct vcpu_runstate_info {
    int state;
    uint64_t state_entry_time;
    uint64_t time[4];
};
#define RUNSTATE_running    0
#define RUNSTATE_runnable   1
#define RUNSTATE_blocked    2
#define RUNSTATE_offline    3
#define XEN_RUNSTATE_UPDATE (1ull << 63)
struct vcpu_register_runstate_memory_area {
    union {
        struct vcpu_runstate_info *v;
        uint64_t p;
    } addr;
};

/* ---- vm_assist (xen.h) ---- */
#define VMASST_CMD_enable                0
#define VMASST_CMD_disable               1
#define VMASST_TYPE_runstate_update_flag 5

/* ---- event_channel.h ---- */
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
#define EVTCHNSTAT_virq           4
#define EVTCHNSTAT_ipi            5
#define VIRQ_TIMER                0
#define VIRQ_DEBUG                1

struct evtchn_alloc_unbound {
    uint16_t dom, remote_dom;
    evtchn_port_t port;
};
struct evtchn_bind_interdomain {
    uint16_t remote_dom;
    evtchn_port_t remote_port;
    evtchn_port_t local_port;
};
struct evtchn_bind_virq {
    uint32_t virq;
    uint32_t vcpu;
    evtchn_port_t port;
};
struct evtchn_bind_ipi {
    uint32_t vcpu;
    evtchn_port_t port;
};
struct evtchn_status {
    uint16_t dom;
    evtchn_port_t port;
    uint32_t status;
    uint32_t vcpu;
    union {
        struct {
            uint16_t dom;
        } unbound;
        struct {
            uint16_t dom;
            evtchn_port_t port;
        } interdomain;
        uint32_t pirq;
        uint32_t virq;
    } u;
};
struct evtchn_bind_vcpu {
    evtchn_port_t port;
    uint32_t vcpu;
};
struct evtchn_init_control {
    uint64_t control_gfn;
    uint32_t offset;
    uint32_t vcpu;
    uint8_t link_bits;
    uint8_t _pad[7];
};
struct evtchn_set_priority {
    evtchn_port_t port;
    uint32_t priority;
};

/* ---- grant_table.h (v1) ---- */
#define GNTTABOP_map_grant_ref  0
#define GNTTABOP_setup_table    2
#define GNTTABOP_copy           5
#define GNTTABOP_query_size     6
#define GNTTABOP_set_version    8
#define GNTTABOP_get_version    10
#define GTF_permit_access       1u
#define GTF_readonly            (1u << 2)
#define GTF_reading             (1u << 3)
#define GTF_writing             (1u << 4)
#define GNTCOPY_source_gref     (1u << 0)
#define GNTCOPY_dest_gref       (1u << 1)
#define GNTST_okay              0
#define GNTST_general_error     (-1)
#define GNTST_bad_domain        (-2)
#define GNTST_bad_gntref        (-3)
#define GNTST_permission_denied (-8)
#define GNTST_bad_page          (-9)
#define GNTST_bad_copy_arg      (-10)

typedef uint32_t grant_ref_t;
struct grant_entry_v1 {
    uint16_t flags;
    uint16_t domid;
    uint32_t frame;
};
struct gnttab_setup_table {
    uint16_t dom;
    uint32_t nr_frames;
    int16_t status;
    ureg *frame_list;
};
struct gnttab_query_size {
    uint16_t dom;
    uint32_t nr_frames;
    uint32_t max_nr_frames;
    int16_t status;
};
struct gnttab_set_version {
    uint32_t version;
};
struct gnttab_get_version {
    uint16_t dom;
    uint16_t pad;
    uint32_t version;
};
struct gnttab_copy_ptr {
    union {
        grant_ref_t ref;
        ureg gmfn;
    } u;
    uint16_t domid;
    uint16_t offset;
};
struct gnttab_copy {
    struct gnttab_copy_ptr source, dest;
    uint16_t len;
    uint16_t flags;
    int16_t status;
};

/* ---- shared_info / vcpu_info (xen.h, arch-x86) ---- */
#define XG_LONG_BITS (8 * sizeof(ureg))
struct vcpu_time_info {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad1[2];
};
struct vcpu_info {
    uint8_t evtchn_upcall_pending;
    uint8_t evtchn_upcall_mask;
    ureg evtchn_pending_sel;
    ureg cr2;
#ifdef __x86_64__
    ureg pad;
#else
    ureg pad[5];
#endif
    struct vcpu_time_info time;
};
struct shared_info {
    struct vcpu_info vcpu_info[32];
    ureg evtchn_pending[XG_LONG_BITS];
    ureg evtchn_mask[XG_LONG_BITS];
    uint32_t wc_version;
    uint32_t wc_sec;
    uint32_t wc_nsec;
};

/* ---- hvm_start_info (arch-x86/hvm/start_info.h) ---- */
#define XEN_HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};
struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};

/* ---- io/console.h ---- */
struct xencons_interface {
    char in[1024];
    char out[2048];
    uint32_t in_cons, in_prod;
    uint32_t out_cons, out_prod;
};

/* ---- the guest's own pieces ---- */
#define XG_VEC_CALLBACK 0xf3 /* HVM_PARAM_CALLBACK_IRQ vector */
#define XG_VEC_UPCALL   0xe0 /* HVMOP_set_evtchn_upcall_vector */
#define XG_MAX_PORTS    1024

/* Saved by the interrupt stubs (xg_start.S), lowest address first. */
struct xg_frame {
#ifdef __x86_64__
    ureg r11, r10, r9, r8, di, si, dx, cx, ax;
#else
    ureg dx, cx, ax;
#endif
    ureg vec, err, ip, cs, flags;
};

extern uint8_t hypercall_page[4096];
extern struct shared_info *xg_shinfo;
extern struct vcpu_info *xg_vi;
extern uint32_t xg_domid, xg_peer;
extern uint64_t xg_tsc_khz;
extern const struct hvm_start_info *xg_si;

/* Hypercalls through the page (xg_lib.c). */
long xg_hcall(unsigned nr, ureg a1, ureg a2, ureg a3, ureg a4, ureg a5);
#define HC1(nr, a)       xg_hcall((nr), (ureg)(a), 0, 0, 0, 0)
#define HC2(nr, a, b)    xg_hcall((nr), (ureg)(a), (ureg)(b), 0, 0, 0)
#define HC3(nr, a, b, c) xg_hcall((nr), (ureg)(a), (ureg)(b), (ureg)(c), 0, 0)
/* The same hypercall through a raw VMCALL/VMMCALL (not the page). */
long xg_hcall_raw(unsigned nr, ureg a1, ureg a2, ureg a3);

/* Output and the check counters. */
void xg_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void xg_write(const char *s, size_t n);
extern unsigned xg_checks, xg_failures;
void xg_check(bool ok, int line, const char *what, long long got, long long want, bool values);
#define CHECK(c) xg_check(!!(c), __LINE__, #c, 0, 0, false)
#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long xg_a_ = (long long)(a), xg_b_ = (long long)(b);                                  \
        xg_check(xg_a_ == xg_b_, __LINE__, #a " == " #b, xg_a_, xg_b_, true);                      \
    } while (0)
__attribute__((noreturn)) void xg_shutdown(unsigned reason);

/* Small library. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t xg_strlen(const char *s);
bool xg_all(const void *p, uint8_t byte, size_t n);
const char *xg_arg(const char *key, char *buf, size_t cap); /* from the command line */
uint32_t xg_arg_u32(const char *key, uint32_t dflt);

/* CPU. */
static inline uint64_t xg_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline void xg_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}
static inline void xg_sti(void)
{
    __asm__ volatile("sti" ::: "memory");
}
static inline void xg_cli(void)
{
    __asm__ volatile("cli" ::: "memory");
}
static inline void xg_barrier(void)
{
    __asm__ volatile("" ::: "memory");
}
/* Returns true if the WRMSR raised #GP (the trap handler skips it). */
bool xg_wrmsr_faults(uint32_t msr, uint64_t v);
uint64_t xg_rdmsr(uint32_t msr);

/* Set-up steps (xg_lib.c). */
uint32_t xg_cpuid_base(void);
/* Start-up shared by every guest's xg_main: start_info, hypercall page,
   IDT, the magic check, xg_domid from the command line. */
void xg_boot(const struct hvm_start_info *si);
void xg_install_hypercall_page(void);
void xg_idt_init(void);
void xg_map_shared_info(void);
/* Make hypercall @p nr (no arguments) from ring 3; returns RAX. */
long xg_user_hypercall(unsigned nr);

/* Time: nanoseconds of Xen system time from the pvclock. */
uint64_t xg_now(void);
void xg_spin_ns(uint64_t ns);

/* Events (2-level ABI). */
extern volatile unsigned xg_upcalls;             /* upcall interrupts taken */
extern volatile uint8_t xg_last_vector;          /* vector of the last one */
extern volatile unsigned xg_fired[XG_MAX_PORTS]; /* events seen per port by the handler */
bool xg_test_bit(const volatile ureg *a, unsigned n);
void xg_set_bit(volatile ureg *a, unsigned n);
void xg_clear_bit(volatile ureg *a, unsigned n);
long xg_evtchn_op(unsigned cmd, void *arg);
long xg_send(evtchn_port_t port);
long xg_close(evtchn_port_t port);
long xg_alloc_unbound(uint16_t remote, evtchn_port_t *port);
long xg_bind_ipi(uint32_t vcpu, evtchn_port_t *port);
long xg_bind_virq(uint32_t virq, uint32_t vcpu, evtchn_port_t *port);
long xg_set_param(uint32_t index, uint64_t value);
long xg_get_param(uint32_t index, uint64_t *value);
long xg_sched(unsigned cmd, void *arg);
/* set_timer_op: a 64-bit time, in one register or two on i386. */
long xg_set_timer(uint64_t t);
/* The timer VIRQ bound on vCPU 0, events delivered by the callback
   vector, interrupts on: what a test blocking on a timer needs. */
evtchn_port_t xg_timer_events(void);
long xg_poll(evtchn_port_t *ports, unsigned n, uint64_t timeout);
/* Wait (SCHEDOP_poll) until @p port is pending, then clear it; false on timeout. */
bool xg_wait_port(evtchn_port_t port, uint64_t timeout_ns);

/* Test groups (xg_tests.c, xg_split.c). */
void xg_test_abi(void);
void xg_test_version(void);
void xg_test_console(void);
void xg_test_sched(void);
void xg_test_timer(void);
void xg_test_memory(void);
void xg_test_hvm(void);
void xg_test_evtchn(void);
void xg_test_upcall(void);
void xg_test_grant(void);
void xg_test_vcpu(void);
void xg_test_runstate(void);
void xg_test_timearea(void);
void xg_test_pvcons(void);
void xg_test_smp(void);
void xg_run_front(void);
void xg_run_back(void);

#endif /* XG_H */

/*
 * Private state of the Xen PV layer and the helpers its files share.
 *
 * Locking: every field marked [L] is protected by *xvm->lock, which is the
 * hub's lock for VMs in a hub (so that operations touching two domains,
 * like an interdomain send, need one lock) or the VM's own lock otherwise.
 * Hypercall handlers copy their arguments in and out of guest memory
 * without the lock and take it only around the state they change.
 */
#ifndef HV_XEN_INTERNAL_H
#define HV_XEN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/xen.h>

#include "core/assist.h"
#include "core/cpu.h"
#include "core/fast.h"
#include "core/guest_mem.h"
#include "core/host.h"
#include "core/objects.h"
#include "core/pv.h"
#include "core/util.h"
#include "emu/emu.h"
#include "xen/abi.h"
#include "xen/layout.h"

/* Event-channel ports become valid in buckets, as in Xen: a port beyond the
   last bucket ever used is invalid (-EINVAL), a free one inside is closed. */
#define XEN_EVTCHN_BUCKET 64u
/* Host ports 1..XEN_HOST_PORTS-1 (0 is never a port). */
#define XEN_HOST_PORTS       64u
#define XEN_MAX_GRANT_FRAMES 64u
#define XEN_INVALID_GFN      UINT64_MAX

enum xen_port_state {
    XEN_PORT_FREE = 0,
    XEN_PORT_RESERVED,    /* port 0 */
    XEN_PORT_UNBOUND,     /* waiting for remote_dom to bind */
    XEN_PORT_INTERDOMAIN, /* connected to remote_dom:remote_port (domain 0: a host port) */
    XEN_PORT_VIRQ,
    XEN_PORT_IPI,
};

struct xen_port {
    uint8_t state; /* enum xen_port_state */
    uint8_t virq;
    uint16_t remote_dom;
    uint32_t notify_vcpu;
    uint32_t remote_port;
    uint32_t pad; /* a power-of-two size: a port's page and slot are shifts */
};
HV_STATIC_ASSERT(sizeof(struct xen_port) == 16, "struct xen_port");

/* Ports are stored in pages, allocated as the valid range grows. */
#define XEN_PORTS_PER_PAGE (HV_PAGE_SIZE / sizeof(struct xen_port))
#define XEN_PORT_PAGES_MAX (XEN_EVTCHN_2L_PORTS_64 / XEN_PORTS_PER_PAGE)
HV_STATIC_ASSERT(XEN_PORTS_PER_PAGE % XEN_EVTCHN_BUCKET == 0, "buckets fill pages");

struct xen_host_port {
    uint8_t state; /* XEN_PORT_FREE, _UNBOUND (guest may bind to it), _INTERDOMAIN */
    bool pending;  /* the guest signalled it */
    uint32_t guest_port;
};

struct xen_host_map {
    bool used;
    bool readonly;
    uint32_t ref;
    uint64_t gpa, hpa;
};

/* Why a vCPU is not running (struct hv_xen_vcpu::block). */
enum xen_block {
    XEN_RUNNING = 0,
    XEN_BLOCKED, /* SCHEDOP_block */
    XEN_POLLING, /* SCHEDOP_poll */
    XEN_HALTED,  /* HLT with nothing to deliver */
};

struct hv_xen_vcpu {
    uint32_t id;
    /* Bring-up [L]: VCPUOP_initialise gave it a context (Xen's
       is_initialised), and it is down (Xen's _VPF_down: hv_vcpu_run
       returns HV_HLT_DOWN at once). vCPU 0 starts initialised and up, the
       others uninitialised and down. init_busy: an initialise is applying
       the context outside the lock. */
    bool initialised;
    bool down;
    bool init_busy;
    /* [L] Brought up by VCPUOP_up or hv_xen_vcpu_set_up(): at its next run
       its local APIC (hv/lapic.h), if waiting for a SIPI, stops waiting:
       the Xen context runs. A SIPI or an INIT since then clears it. */
    bool leave_sipi_wait;
    /* vcpu_info location [L]: registered (gpa) or slot `id` of shared_info. */
    bool vi_registered;
    uint64_t vi_gpa;
    uint8_t vi_dummy[64]; /* vcpu_info of a vCPU >= 32 before registration */
    /* Event delivery [L]. */
    uint8_t upcall_vector; /* HVMOP_set_evtchn_upcall_vector; 0: none */
    bool upcall_assert;    /* edge to deliver through upcall_vector */
    uint8_t queued_vector; /* vector this layer put in vcpu->queued_irq; 0: none */
    uint32_t virq_port[XEN_NR_VIRQS];
    /* Timers in guest system time (ns); 0: off [L]. */
    uint64_t singleshot;
    uint64_t periodic_period, periodic_next;
    uint64_t poll_deadline;
    /* Blocking [L]. */
    uint8_t block;     /* enum xen_block */
    int32_t poll_port; /* XEN_POLLING: the single polled port, or -1 for several */
    /* pvclock: published at the current vcpu_info location [L]. */
    bool time_valid;
    /* Runstate (runstate.c) [L]: the state (XEN_RUNSTATE_*, read without
       the lock by the run gate) and the area's layout (i386 if rs_compat);
       the rest below. */
    uint8_t rs_state;
    bool rs_compat;
    uint64_t time_stamp_tsc; /* host TSC at the last update */
    /* Host TSC before which the vCPU stays settled (hooks.c xen_idle): no
       block or poll to end, no timer armed, its pvclock current. Set by
       the pre-entry pass, zeroed by whatever unsettles the vCPU
       (xen_unsettle) [L]; read without the lock. 0: the pass must run. */
    uint64_t settled_until;
    /* Runstate [L]: the area's guest-virtual address (0: none), the guest
       system time the state began, the time spent in each state. */
    uint64_t rs_area;
    uint64_t rs_entry;
    uint64_t rs_time[4];
    /* Runstate [L]: an event woke the vCPU out of blocked at host TSC
       rs_wake_tsc; it is runnable from then, made exact in guest time at
       its next transition or query (xen_runstate_settle). */
    bool rs_woken;
    uint64_t rs_wake_tsc;
    /* pvclock [L]: the secondary vcpu_time_info area's guest-virtual
       address (VCPUOP_register_vcpu_time_memory_area), 0: none. */
    uint64_t ti_area;
};

struct hv_xen_hub {
    struct hv_ctx *ctx;
    struct hv_lock lock; /* the [L] lock of every member */
    struct hv_xen_vm *first;
    uint32_t count;
};

struct hv_xen_vm {
    struct hv_vm *vm;
    struct hv_xen_hub *hub;
    struct hv_xen_vm *hub_next; /* [hub lock] */
    struct hv_lock own_lock;
    struct hv_lock *lock;
    uint16_t domid;
    uint32_t flags;
    bool vmx; /* hypercall stubs use VMCALL (else VMMCALL) */
    uint16_t ver_major, ver_minor;
    char extraversion[16];
    uint8_t handle[16];
    hv_xen_wake_fn wake;
    hv_xen_notify_fn notify;
    void *opaque;

    /* Shared state the guest sees [L]. */
    bool compat; /* 32-bit shared_info layout (latched as Xen does) */
    void *shinfo;
    uint64_t shinfo_hpa;
    uint64_t shinfo_gfn; /* where the guest mapped it, or XEN_INVALID_GFN */

    /* Grant table v1 [L]. */
    uint32_t gnt_max;
    uint32_t gnt_nr;
    void *gnt_page[XEN_MAX_GRANT_FRAMES];
    uint64_t gnt_hpa[XEN_MAX_GRANT_FRAMES];
    uint64_t gnt_gfn[XEN_MAX_GRANT_FRAMES];
    /* HV_XEN_GRANT_MAPS_MAX host mappings, allocated by the first
       hv_xen_grant_map() (set once by compare-and-swap). */
    struct xen_host_map *maps;

    /* Event channels [L]. Storage for every valid port: port_pages pages
       (the first from enable), and a spare page xen_evtchn_reserve() sets
       aside, outside the lock, for the next growth. */
    struct xen_port *port_page[XEN_PORT_PAGES_MAX];
    uint32_t port_pages;
    struct xen_port *port_spare;
    uint32_t max_ports;   /* configured limit */
    uint32_t valid_ports; /* ports below this are valid (bucket granularity) */
    struct xen_host_port host_ports[XEN_HOST_PORTS];

    /* HVM parameters and shutdown code [L]. */
    uint64_t params[HVM_NR_PARAMS];
    uint8_t shutdown_code;

    /* console_io [L]: one page each, allocated on first use (the pointer
       is set once, by compare-and-swap, and read without the lock). */
    char *con_out;
    uint32_t con_out_head, con_out_len;
    uint64_t con_dropped;
    char *con_in;
    uint32_t con_in_head, con_in_len;
    /* PV console ring [L]. */
    bool pvcons;
    uint64_t pvcons_gpa;
    uint32_t pvcons_host_port;

    /* Memory map for XENMEM_memory_map [L]. */
    struct hv_pvh_memmap memmap[HV_PVH_MAX_MEMMAP];
    uint32_t memmap_count;
    bool memmap_explicit;

    /* Time (fixed after enable). */
    bool has_clock;
    uint32_t tsc_khz;
    uint32_t tsc_mul;
    int8_t tsc_shift;
    uint64_t resync_tsc;   /* host TSC ticks between pvclock refreshes (1 s) */
    uint64_t time_base_ns; /* host ns at guest system time 0 */
    /* HV_XEN_F_TSC_STABLE in effect: guest system time is the TSC scaled
       from tsc_base (host TSC at guest time 0), one line for every vCPU. */
    bool tsc_stable;
    uint64_t tsc_base;
    /* The guest TSC offset the first pvclock update saw [L]: a vCPU whose
       offset differs gets no XEN_PVCLOCK_TSC_STABLE_BIT. */
    bool tsc_ref_valid;
    uint64_t tsc_ref_offset;

    uint32_t npolling;   /* vCPUs in SCHEDOP_poll [L]; none: sends skip the poller scan */
    bool rs_update_flag; /* VMASST_TYPE_runstate_update_flag enabled [L] */

    /* Serializes changes of the guest-physical map (add_to_physmap, table
       growth): they may allocate, so they cannot run under the [L] lock. */
    uint32_t physmap_busy;

    uint32_t nvcpus;
    struct hv_xen_vcpu vcpus[]; /* one per possible vCPU id */
};

/* ---- object access ---- */

static inline struct hv_xen_vm *xen_of(struct hv_vm *vm)
{
    return vm->xen;
}

/*
 * The entry check of a host API call on @p vm, in the order every such call
 * reports it: HV_ERR_INVALID_ARG for a NULL @p vm or when @p args_ok (the
 * caller's check of its other arguments) is false, HV_ERR_STATE when Xen is
 * not enabled on the VM; else HV_OK with *@p x its Xen state.
 */
static inline hv_status_t xen_host_entry(struct hv_vm *vm, bool args_ok, struct hv_xen_vm **x)
{
    if (!vm || !args_ok)
        return HV_ERR_INVALID_ARG;
    *x = vm->xen;
    return *x ? HV_OK : HV_ERR_STATE;
}

/* The per-vCPU state of @p vcpu (always present when the VM has Xen on). */
static inline struct hv_xen_vcpu *xen_vcpu(struct hv_xen_vm *x, struct hv_vcpu *vcpu)
{
    return &x->vcpus[vcpu->id];
}

/* The same, remembered in vcpu->xen (set by hv_xen_enable for the vCPUs
   that exist, by the first entry for later ones, cleared by disable). */
static inline struct hv_xen_vcpu *xen_vcpu_cached(struct hv_xen_vm *x, struct hv_vcpu *vcpu)
{
    struct hv_xen_vcpu *xv = vcpu->xen;
    if (__builtin_expect(!xv, 0))
        xv = vcpu->xen = xen_vcpu(x, vcpu);
    return xv;
}

/* vCPU object with id @p id, or NULL if none was created. */
static inline struct hv_vcpu *xen_vcpu_obj(struct hv_xen_vm *x, uint32_t id)
{
    if (id >= x->nvcpus)
        return NULL;
    return __atomic_load_n(&x->vm->vcpus[id], __ATOMIC_ACQUIRE);
}

static inline const struct hv_host *xen_host(const struct hv_xen_vm *x)
{
    return &x->vm->ctx->host;
}

static inline uint64_t xen_lock(struct hv_xen_vm *x)
{
    return hv_lock_acquire(xen_host(x), x->lock);
}

static inline void xen_unlock(struct hv_xen_vm *x, uint64_t token)
{
    hv_lock_release(xen_host(x), x->lock, token);
}

/* Port @p port, below x->valid_ports [L]. */
static inline struct xen_port *xen_port(struct hv_xen_vm *x, uint32_t port)
{
    return &x->port_page[port / XEN_PORTS_PER_PAGE][port % XEN_PORTS_PER_PAGE];
}

/* The vCPU may have something for the pre-entry pass to do now (a timer
   armed, a block, its pvclock moved): it is not idle until that pass has
   run (struct hv_xen_vcpu::settled_until) [L]. */
static inline void xen_unsettle(struct hv_xen_vcpu *xv)
{
    __atomic_store_n(&xv->settled_until, 0, __ATOMIC_RELAXED);
}

/* Change why the vCPU is not running, counting pollers [L]. */
static inline void xen_set_block(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, uint8_t block)
{
    x->npolling += (block == XEN_POLLING) - (xv->block == XEN_POLLING);
    __atomic_store_n(&xv->block, block, __ATOMIC_RELAXED);
    if (block != XEN_RUNNING)
        xen_unsettle(xv);
}

/* Another domain of the hub (lock held), or NULL. */
struct hv_xen_vm *xen_find_domain(struct hv_xen_vm *self, uint32_t domid);

/* Xen's answer to a guest acting on domain @p domid, not itself, which
   needs privilege no guest has: -EPERM if the domain exists (the host or
   a domain of the hub), else -ESRCH. The first with the lock held, the
   second takes it. */
long xen_other_domain_error(struct hv_xen_vm *x, uint32_t domid);
long xen_other_domain_error_locking(struct hv_xen_vm *x, uint32_t domid);

/* The domain a hypercall names: DOMID_SELF or our own id. */
static inline bool xen_is_self(const struct hv_xen_vm *x, uint32_t domid)
{
    return domid == XEN_DOMID_SELF || domid == x->domid;
}

/* ---- a hypercall in progress (hypercall.c) ---- */

struct xen_call {
    struct hv_vcpu *vcpu;
    struct hv_xen_vm *x;
    struct hv_xen_vcpu *xv;
    struct hv_exit *exit;
    bool compat;     /* the caller is not in 64-bit mode: i386 layouts */
    uint64_t arg[6]; /* in the caller's order, zero-extended for 32-bit */
    /* Set by a handler: */
    bool exit_to_host; /* return `exit` to the embedder (RIP advanced) */
    bool restart;      /* re-execute the hypercall (continuation): RIP kept */
    /* The caller's registers at entry: mode, CPL and the paging state of
       its guest-virtual buffers (gva.c); the backend's fast path's, or
       fr_read. */
    const struct hv_fetch_regs *fr;
    struct hv_fetch_regs fr_read; /* fr when the call read them itself */
    /* The walker's form of fr, built on the first walk (gva.c). */
    bool regs_loaded;
    struct hv_emu_regs regs;
};

/* Copy between hypervisor and guest-virtual memory: 0 or -XEN_EFAULT. */
int xen_copy_from_guest(struct xen_call *c, uint64_t gva, void *buf, size_t len);
int xen_copy_to_guest(struct xen_call *c, uint64_t gva, const void *buf, size_t len);
/* Host pointers to the writable guest-virtual range [@p gva, +@p len) (len
   at most a page): p[0] for its first *@p n0 bytes, p[1] for the rest,
   which lies in the next page; false if any byte does not translate to
   writable RAM. */
struct xen_span {
    uint8_t *p[2];
    size_t n0;
};
bool xen_gva_span(struct xen_call *c, uint64_t gva, size_t len, struct xen_span *s);
/* Store @p len bytes of @p src at offset @p off of the span @p opaque (a
   struct xen_span): guest memory that may change under us, so byte
   stores, each exactly once (an xen_put_fn). */
typedef void (*xen_put_fn)(void *opaque, size_t off, const uint8_t *src, size_t len);
void xen_span_put(void *opaque, size_t off, const uint8_t *src, size_t len);
/* The argument of VCPUOP_register_runstate_memory_area or _vcpu_time_
   memory_area for @p xv (vcpu.h: a union of a guest handle and a uint64_t,
   of which an i386 caller passes the 4-byte handle): -ENOENT for a vCPU
   never created, -EFAULT if unreadable, else 0 with the area's address in
   *@p gva. */
long xen_area_arg(struct xen_call *c, struct hv_xen_vcpu *xv, uint64_t *gva);
/* Set up @p c for guest-virtual accesses as @p vcpu's kernel (CPL 0) with
   its current paging, outside a hypercall (the vCPU's own thread). */
void xen_call_from_vcpu(struct xen_call *c, struct hv_vcpu *vcpu);

/*
 * A structure whose i386 (compat) layout differs from the native one
 * (layout.h): its two sizes and the members a handler uses, where each
 * stands and how wide it is in either layout. Members are unsigned and
 * never narrower natively (checked when the layout is built), so widening
 * is zero extension.
 */
struct xen_compat_field {
    uint8_t off64, size64, off32, size32;
};
#define XEN_COMPAT_FIELDS_MAX 8
#define XEN_COMPAT_SIZE_MAX   24 /* struct xen_gnttab_copy_32, the largest */
struct xen_compat_layout {
    uint8_t size64, size32, nfields;
    struct xen_compat_field f[XEN_COMPAT_FIELDS_MAX];
};
/* 0, or a compile error (negative array size) when @p ok is false. */
#define XEN_COMPAT_CHECK(ok) (0 * sizeof(char[(ok) ? 1 : -1]))
#define XEN_COMPAT_FIELD(s, m)                                                                     \
    {                                                                                              \
        offsetof(struct s##_64, m), sizeof(((struct s##_64 *)0)->m), offsetof(struct s##_32, m),   \
            sizeof(((struct s##_32 *)0)->m) + XEN_COMPAT_CHECK(sizeof(((struct s##_32 *)0)->m) <=  \
                                                               sizeof(((struct s##_64 *)0)->m))    \
    }
/* The layout of struct @p s_64 / @p s_32 with the members listed after it. */
#define XEN_COMPAT_LAYOUT(s, ...)                                                                  \
    {                                                                                              \
        sizeof(struct s##_64),                                                                     \
            sizeof(struct s##_32) +                                                                \
                XEN_COMPAT_CHECK(sizeof(struct s##_32) <= XEN_COMPAT_SIZE_MAX),                    \
            sizeof((struct xen_compat_field[]){__VA_ARGS__}) / sizeof(struct xen_compat_field),    \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

/* sizeof struct @p s, and offsetof its member @p m, in @p c's caller's layout. */
#define XEN_COMPAT_SIZEOF(c, s) ((c)->compat ? sizeof(struct s##_32) : sizeof(struct s##_64))
#define XEN_COMPAT_OFFSETOF(c, s, m)                                                               \
    ((c)->compat ? offsetof(struct s##_32, m) : offsetof(struct s##_64, m))

/*
 * Copy such a structure from/to the guest in the caller's layout, @p native
 * being its native form: a 64-bit caller's bytes as they are; an i386
 * caller's structure read (or written) whole, in one copy of its own size,
 * and converted member by member. On the way in, native bytes of no listed
 * member are zero for an i386 caller; on the way out, compat bytes of no
 * listed member are written as zero. 0 or -XEN_EFAULT.
 */
int xen_copy_in(struct xen_call *c, uint64_t gva, void *native, const struct xen_compat_layout *l);
int xen_copy_out(struct xen_call *c, uint64_t gva, const void *native,
                 const struct xen_compat_layout *l);

/* XENVER_version's answer: major << 16 | minor. */
static inline long xen_version_value(const struct hv_xen_vm *x)
{
    return ((long)x->ver_major << 16) | x->ver_minor;
}

/* Sub-op handlers: return the value for RAX (negative Xen errno on error). */
long xen_do_xen_version(struct xen_call *c);
long xen_do_console_io(struct xen_call *c);
long xen_do_sched_op(struct xen_call *c);
long xen_do_set_timer_op(struct xen_call *c);
long xen_do_memory_op(struct xen_call *c);
long xen_do_hvm_op(struct xen_call *c);
long xen_do_vcpu_op(struct xen_call *c);
/* VCPUOP_initialise / up / down (vcpu_up.c) on vCPU @p xv. */
long xen_vcpu_initialise(struct xen_call *c, struct hv_xen_vcpu *xv);
long xen_vcpu_up(struct xen_call *c, struct hv_xen_vcpu *xv);
long xen_vcpu_down(struct xen_call *c, struct hv_xen_vcpu *xv);
long xen_do_event_channel_op(struct xen_call *c);
/* EVTCHNOP_close, _send, _unmask or _bind_vcpu (@p cmd) with its argument
   at c->arg[1]. */
long xen_evtchn_port_op(struct xen_call *c, uint32_t cmd);
/* RAX as a call's result leaves it: sign-extended for 64-bit callers
   (@p lm), EAX for i386. */
static inline void xen_set_result(struct hv_vcpu *vcpu, bool lm, long ret)
{
    vcpu->gpr[HV_GPR_RAX] = lm ? (uint64_t)(int64_t)ret : (uint32_t)ret;
}
/*
 * EVTCHNOP_send or _unmask (@p cmd) of a ring-0 caller from the hypercall
 * fast path (registers @p fr, 64-bit mode if @p lm; interrupts off), its
 * port read at guest-virtual @p port_gva (gva.h xen_memo_get_u32): under the lock,
 * and the upcall it asserts for the caller injected or queued
 * (xen_upcall_now). The result, 0 or a negative Xen errno, goes to RAX;
 * returns HV_PV_DONE. *@p events set when the delivery must run (not for
 * a bad pointer, -EFAULT).
 */
enum hv_pv_result xen_evtchn_fast(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr, bool lm,
                                  uint32_t cmd, uint64_t port_gva, bool *events);
long xen_do_grant_table_op(struct xen_call *c);

/* ---- shared_info / vcpu_info (shinfo.h), lock held ---- */

/* 2-level ports of the current layout (4096 or 1024). */
static inline uint32_t xen_2l_ports(const struct hv_xen_vm *x)
{
    return x->compat ? XEN_EVTCHN_2L_PORTS_32 : XEN_EVTCHN_2L_PORTS_64;
}

/* Port and vcpu_info bits: xen_port_test_and_set_pending, _test_pending,
   _clear_pending, _test_masked, _test_and_clear_mask, xen_vi_*. */
#include "xen/shinfo.h"
/* Host pointer to the vCPU's vcpu_info (64 bytes, one page), or NULL. */
static inline uint8_t *xen_vcpu_info(struct hv_xen_vm *x, struct hv_xen_vcpu *xv)
{
    if (xv->vi_registered) {
        /* Registration checked the page; translate again in case the
           guest remapped it (then events to it are lost, not misplaced).
           A counted walk: the caller may be another domain's vCPU (an
           interdomain send) or the embedder's thread. */
        return hv_gpa_ptr_foreign(x->vm, xv->vi_gpa, HV_MEM_READ | HV_MEM_WRITE);
    }
    if (xv->id < XEN_LEGACY_MAX_VCPUS)
        return (uint8_t *)x->shinfo + xv->id * sizeof(struct xen_vcpu_info_64);
    return xv->vi_dummy;
}

/* ---- events (evtchn.c), lock held ---- */

/* Xen's 2-level set_pending for port @p port notifying vCPU @p vcpu_id. */
void xen_evtchn_set_pending(struct hv_xen_vm *x, uint32_t vcpu_id, uint32_t port);
/* Mark the vCPU's upcall pending (vcpu_mark_events_pending). */
void xen_mark_events_pending(struct hv_xen_vm *x, struct hv_xen_vcpu *xv);
/* Deliver a per-vCPU VIRQ (VIRQ_TIMER) if bound. */
void xen_send_vcpu_virq(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, uint32_t virq);
/* The vCPU may not be running: tell the embedder (wake callback) or kick its CPU. */
void xen_wake(struct hv_xen_vm *x, struct hv_xen_vcpu *xv);
/* Close every port (disable). */
void xen_evtchn_close_all(struct hv_xen_vm *x);
/* Before taking the lock to allocate a port: set a page aside if that
   allocation will open a bucket beyond the port pages (lock not held: it
   allocates). */
void xen_evtchn_reserve(struct hv_xen_vm *x);
/* Allocate the lowest free port: the port, or a negative Xen errno
   (-ENOSPC, or -ENOMEM when a page was needed and none was set aside). */
long xen_evtchn_alloc_port(struct hv_xen_vm *x);
/* Free the port pages (disable). */
void xen_evtchn_fini(struct hv_xen_vm *x);
/* Close @p port as EVTCHNOP_close does: 0 or -XEN_EINVAL. */
long xen_evtchn_close_port(struct hv_xen_vm *x, uint32_t port);
/* The lowest free host port number (evtchn_host.c), or 0 if none [L]. */
uint32_t xen_free_host_port(struct hv_xen_vm *x);
/* Forget the upcall vector the core has injected (it has left the vCPU's
   queued_irq); false while it still waits there. [L] */
static inline bool xen_settle_delivered(struct hv_xen_vcpu *xv, const struct hv_event *q)
{
    if (q->type != HV_EVENT_NONE && q->vector == xv->queued_vector)
        return false;
    xv->queued_vector = 0;
    return true;
}
/* Put upcall vector @p vec into the vCPU's queued interrupt [L]. */
static inline void xen_queue_upcall(struct hv_xen_vcpu *xv, struct hv_event *q, uint8_t vec)
{
    *q = (struct hv_event){.type = HV_EVENT_EXTINT, .vector = vec};
    xv->queued_vector = vec;
}
/*
 * After a fast-path send or unmask by the vCPU's own thread (@p vcpu, the
 * caller), whose event delivery runs next: the per-vCPU upcall vector the
 * call asserted goes in at once, as the pre-entry pass would put it in
 * before the next entry, if nothing waits in the vCPU's queued interrupt
 * (else the pass does it later): injected straight away when the core
 * allows it (core/fast.h hv_fast_inject_irq), else queued for the
 * delivery. Only the queueing step of the pass is done here: whatever
 * else the pass has to do (a block to end, timers, the pvclock) keeps
 * xen_idle() false, so the pass still runs before the entry and finds
 * this edge handled; timers that fire then set their bits under an
 * upcall_pending already 1, which asserts no second edge, as when the
 * pass ran them before queueing. Returns whether the delivery must run:
 * false only when the upcall was injected. [L]
 */
static inline bool xen_upcall_now(struct hv_xen_vcpu *xv, struct hv_vcpu *vcpu)
{
    if (!xv->upcall_assert || xv->upcall_vector < 32)
        return true;
    struct hv_event *q = &vcpu->queued_irq;
    if (xv->queued_vector && !xen_settle_delivered(xv, q))
        return true; /* the last upcall still waits: this edge stays asserted */
    if (q->type != HV_EVENT_NONE)
        return true; /* the embedder's interrupt first, as in the pass */
    xv->upcall_assert = false;
    if (hv_fast_inject_irq(vcpu, xv->upcall_vector))
        return false;
    xen_queue_upcall(xv, q, xv->upcall_vector);
    return true;
}
/* Does the vCPU have an upcall to take (Xen's local_events_need_delivery)?
   Called by the vCPU's own thread. [L] */
bool xen_events_need_delivery(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, struct hv_vcpu *vcpu,
                              uint64_t rflags);

/* ---- timers, blocking (sched.c) ---- */

/* Guest system time now (ns since the time base); 0 without a clock. */
uint64_t xen_now(const struct hv_xen_vm *x);
/* Fire the vCPU's expired timers (lock held). */
void xen_run_timers(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, uint64_t now);
/* Earliest timer deadline of the vCPU in guest time, 0 if none (lock held). */
uint64_t xen_next_deadline(const struct hv_xen_vcpu *xv);
/* Wake pollers of @p port (lock held). */
void xen_check_pollers(struct hv_xen_vm *x, uint32_t port);

/* ---- runstate (runstate.c) ---- */

/* The vCPU enters runstate @p state at guest time @p now; a down vCPU
   stays offline [L]. */
void xen_runstate_set(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, uint8_t state, uint64_t now);
/* Write the vCPU's runstate area, if it has one, through @p c's paging;
   an address that does not translate skips this update [L]. */
void xen_runstate_publish(struct xen_call *c, struct hv_xen_vm *x, struct hv_xen_vcpu *xv);
/* The calling vCPU (c->xv) enters @p state: both of the above [L]. */
static inline void xen_runstate_change(struct xen_call *c, uint8_t state, uint64_t now)
{
    xen_runstate_set(c->x, c->xv, state, now);
    xen_runstate_publish(c, c->x, c->xv);
}
/* [L] A down vCPU comes up, runnable from @p now (VCPUOP_up, a SIPI with
   the library's local APIC); the caller calls the wake callback after the
   lock. @p leave_sipi_wait: its APIC, if it waits for a SIPI, stops
   waiting at its next run (VCPUOP_up's context runs, not a SIPI's); set
   before `down` clears, which the run gate reads without the lock. */
static inline void xen_vcpu_come_up(struct hv_xen_vm *x, struct hv_xen_vcpu *xv,
                                    bool leave_sipi_wait, uint64_t now)
{
    __atomic_store_n(&xv->leave_sipi_wait, leave_sipi_wait, __ATOMIC_RELAXED);
    __atomic_store_n(&xv->down, false, __ATOMIC_RELEASE);
    xen_set_block(x, xv, XEN_RUNNING);
    xv->poll_deadline = 0;
    xen_runstate_set(x, xv, XEN_RUNSTATE_runnable, now);
}
/* The run gate's slow path: the vCPU, not running, runs from now. */
void xen_runstate_run(struct hv_vcpu *vcpu, struct hv_xen_vm *x, struct hv_xen_vcpu *xv);
/* VCPUOP_register_runstate_memory_area and VCPUOP_get_runstate_info on @p xv. */
long xen_vcpu_register_runstate(struct xen_call *c, struct hv_xen_vcpu *xv);
long xen_vcpu_get_runstate(struct xen_call *c, struct hv_xen_vcpu *xv);
long xen_do_vm_assist(struct xen_call *c);
/* The vCPU's runstate_info in the native or i386 layout, with the time
   since the state began added to its state's total when @p now is not 0;
   returns its size [L]. */
size_t xen_runstate_encode(const struct hv_xen_vcpu *xv, bool compat, uint64_t now,
                           uint8_t buf[sizeof(struct xen_vcpu_runstate_info_64)]);
/* Write the encoded runstate @p img (@p len bytes) with @p put (offset,
   bytes), following the update-flag protocol when @p flag is set: bit 63
   of state_entry_time first, then the whole structure, then the bit
   cleared, with a write barrier between the steps. */
void xen_runstate_store(const uint8_t *img, size_t len, bool flag, xen_put_fn put, void *opaque);
/* A wake the vCPU has pending (rs_woken) becomes its runnable state from
   the wake's guest time, at most @p now, at least the blocked state's
   entry [L]. */
void xen_runstate_settle(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, uint64_t now);
/* An event woke the blocked vCPU: runnable from this TSC on [L]. */
static inline void xen_runstate_wake(struct hv_xen_vcpu *xv)
{
    if (xv->rs_state == XEN_RUNSTATE_blocked && !xv->rs_woken) {
        xv->rs_wake_tsc = hv_rdtsc();
        xv->rs_woken = true;
    }
}

/* ---- time (time.c) ---- */

/* Set up the TSC scale (enable): tsc_khz given or measured. */
void xen_time_init(struct hv_xen_vm *x, uint32_t tsc_khz);
/* Publish vcpu_time_info for the vCPU if stale (lock held), in its
   vcpu_info and its registered area; @p now is xen_now() and @p tsc the
   host TSC read right after it, both before the lock. */
void xen_time_update(struct hv_xen_vm *x, struct hv_xen_vcpu *xv, struct hv_vcpu *vcpu,
                     uint64_t now, uint64_t tsc, bool force);
/* Host TSC ticks @p delta in ns at the pvclock's scale, as the guest
   computes it (0 without a scale). */
uint64_t xen_tsc_to_ns(const struct hv_xen_vm *x, uint64_t delta);
/* VCPUOP_register_vcpu_time_memory_area on @p xv. */
long xen_vcpu_register_time_area(struct xen_call *c, struct hv_xen_vcpu *xv);

/* Is the vCPU's published pvclock current (nothing for xen_time_update to
   do)? Read without the lock by the pre-entry fast path. */
static inline bool xen_time_fresh(const struct hv_xen_vm *x, const struct hv_xen_vcpu *xv)
{
    if (!x->has_clock || !x->tsc_khz)
        return true;
    return __atomic_load_n(&xv->time_valid, __ATOMIC_RELAXED) &&
           hv_rdtsc() - __atomic_load_n(&xv->time_stamp_tsc, __ATOMIC_RELAXED) < x->resync_tsc;
}

/* ---- grants (grant.c) ---- */

/* Grow the grant table to @p frames frames: 0 or a negative Xen errno
   (physmap_busy held, [L] not held: it allocates). */
long xen_gnttab_grow(struct hv_xen_vm *x, uint32_t frames);
/* Free frames and drop host maps (disable). */
void xen_gnttab_fini(struct hv_xen_vm *x);

/* ---- memory (memory.c) ---- */

/* Derive the memory map from the VM's mappings below 4 GiB. */
void xen_memmap_derive(struct hv_vm *vm, struct hv_pvh_memmap *map, uint32_t *count);
/* Map a library page (shared_info, grant frame) at the guest's gfn,
   replacing what was there and removing its previous mapping. */
long xen_map_special(struct hv_xen_vm *x, uint64_t hpa, uint64_t *cur_gfn, uint64_t gfn);
/* Take a library page out of the guest-physical space at gfn, before it
   is freed: waits out a SLAT call of the embedder's in progress
   (HV_ERR_BUSY) instead of leaving the page mapped. */
void xen_unmap_special(struct hv_vm *vm, uint64_t gfn);

/* ---- console (console.c) ---- */

/* Free the console buffers (disable). */
void xen_console_fini(struct hv_xen_vm *x);

/* ---- the PV hooks (enable.c) ---- */

/* Latch the shared_info layout from the caller's mode (hypercall page, CALLBACK_IRQ). */
void xen_latch_shinfo_size(struct hv_xen_vm *x, struct hv_vcpu *vcpu);

#endif /* HV_XEN_INTERNAL_H */

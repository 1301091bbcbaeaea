/**
 * @file xen.h
 * @brief The Xen-compatible paravirtual interface: hypercalls, event
 *        channels, grant tables, PV console, and the host side of them.
 *
 * hv_xen_enable() turns a VM into a Xen HVM/PVH domain as far as the guest
 * can tell: CPUID leaves 0x40000000.. say "XenVMMXenVMM", the hypercall
 * page MSR works, and VMCALL/VMMCALL from ring 0 are Xen hypercalls with
 * Xen's numbers, structure layouts (64-bit and 32-bit guests) and error
 * values. The library finishes every hypercall itself except the few that
 * need the embedder, which hv_vcpu_run() reports:
 * - SCHEDOP_shutdown as ::HV_EXIT_GUEST_SHUTDOWN (the reason, or the code
 *   latched by SCHEDOP_shutdown_code);
 * - SCHEDOP_block, SCHEDOP_poll and SCHEDOP_yield as ::HV_EXIT_HLT with
 *   hv_exit::hlt saying which and until when the vCPU may sleep.
 *
 * The embedder is the privileged domain, domain 0: it owns the guest
 * memory, can read the guest's console, bind and signal event channels to
 * a guest and map pages a guest granted to domain 0. VMs that share a
 * struct hv_xen_hub can also reach each other (interdomain event channels,
 * GNTTABOP_copy between their grant tables).
 *
 * Threading: hypercalls run on the vCPU's thread inside hv_vcpu_run(). The
 * host functions here may be called from any thread, including while
 * vCPUs of the VM run on other CPUs, but not from interrupt handlers
 * (they take the hub's spinlock with interrupts disabled, like the
 * hypercalls they race with). Not implemented (the guest gets -ENOSYS):
 * FIFO event channels (EVTCHNOP_init_control fails with -EOPNOTSUPP, as on
 * a Xen built without them, so guests fall back to the 2-level ABI), grant
 * table v2, GNTTABOP_map_grant_ref, VCPUOP_register_runstate_phys_area,
 * VCPUOP_register_vcpu_time_phys_area, PIRQs.
 *
 * Runstate (VCPUOP_register_runstate_memory_area, VCPUOP_get_runstate_info,
 * and vm_assist with VMASST_TYPE_runstate_update_flag, the one vm_assist
 * type an HVM guest may use: any other is -EINVAL). The library does not
 * see the embedder's scheduler, so a vCPU's state follows what it sees:
 * running from the start of hv_vcpu_run() on, including the time the
 * embedder spends on an exit before the next run (none of it is steal
 * time); blocked from SCHEDOP_block, SCHEDOP_poll or an HLT with nothing
 * to deliver (each an ::HV_EXIT_HLT) until an event wakes it (the
 * hv_xen_config::wake callback), or else (a timer, the embedder's own
 * choice) to the next hv_vcpu_run(); runnable from that wake, SCHEDOP_yield
 * or VCPUOP_up (hv_xen_vcpu_set_up()) to the next hv_vcpu_run(), so the
 * time your scheduler takes to run a woken vCPU is its steal time; offline
 * while down. The wake is stamped with the TSC and placed in guest time at
 * the vCPU's next transition or VCPUOP_get_runstate_info (never before the
 * block began); a woken vCPU's area shows it runnable only if another
 * write reaches the area before it runs. Times are guest system time (the
 * pvclock's; 0 at hv_xen_enable(), where vCPU 0 starts runnable and the
 * others offline; without hv_host_ops::time_ns every time is 0). A vCPU may
 * register the area of any vCPU of its domain, as in Xen (an id beyond
 * hv_vm_config::max_vcpus, or of a vCPU never created, is -ENOENT for both
 * calls); the area is a guest-virtual address in the caller's layout
 * (64-bit or i386), written at once through the caller's page tables, then
 * at each transition of its vCPU that the vCPU's own thread takes (its run,
 * block, poll, HLT, yield, VCPUOP_down of itself) through that vCPU's page
 * tables, as a supervisor access; a state another vCPU or the embedder sets
 * (up, down) reaches the area at the vCPU's next transition. An address
 * that does not translate to writable RAM is accepted (as Xen does for HVM
 * guests) and skips that update; the next one writes the whole structure. A
 * null address ends the updates. VCPUOP_get_runstate_info adds the time
 * spent in the current state so far, as Xen's does; the area holds the
 * times as of the last transition. With the update flag on, every write
 * sets XEN_RUNSTATE_UPDATE (bit 63 of state_entry_time) first and clears it
 * last.
 *
 * Time: each vCPU's vcpu_time_info (the pvclock) is kept in its vcpu_info
 * and refreshed at least every second before it enters the guest.
 * VCPUOP_register_vcpu_time_memory_area gives a second copy at a
 * guest-virtual address (32 bytes, one layout for both widths; an i386
 * caller's pointer is the low half of the argument's union): any vCPU may
 * register it for any vCPU of its domain, as in Xen (-ENOENT as for the
 * runstate area, -EFAULT only for the argument itself); it is written
 * with the same values and version protocol as the primary, through the
 * page tables of the vCPU it belongs to, before that vCPU next enters the
 * guest (the caller's own: before the call returns to it), then at every
 * refresh. An address that does not translate to writable RAM is
 * accepted and skips that update, the next one writes the whole
 * structure; a null address ends the updates. XEN_PVCLOCK_TSC_STABLE_BIT
 * is set only with ::HV_XEN_F_TSC_STABLE (see there).
 *
 * Secondary vCPUs: create every vCPU the guest may use (hv_vcpu_create())
 * before it runs and run each with hv_vcpu_run() on any host CPU. vCPU 0
 * starts up; the others start down, as in Xen, until the guest gives them
 * a context (VCPUOP_initialise with a struct vcpu_hvm_context, 32- or
 * 64-bit mode, applied with hv_vcpu_set_state()) and brings them up
 * (VCPUOP_up). While a vCPU is down, hv_vcpu_run() returns at once with
 * ::HV_EXIT_HLT and hv_exit::hlt.source ::HV_HLT_DOWN, and
 * hv_xen_vcpu_status() reports it down (and blocked). VCPUOP_up calls
 * hv_xen_config::wake for it; VCPUOP_down of a vCPU running elsewhere
 * kicks it (its hv_vcpu_run() returns ::HV_EXIT_KICK, the next one
 * ::HV_HLT_DOWN); a vCPU taking itself down gets ::HV_HLT_DOWN at once and
 * resumes after the call when brought up again. The last vCPU going down
 * powers the domain off (::HV_EXIT_GUEST_SHUTDOWN), as in Xen. An embedder
 * that starts a vCPU itself (as a toolstack does) uses hv_xen_vcpu_set_up().
 *
 * A domain that also has the library's local APIC (hv_lapic_enable(), see
 * hv/lapic.h) can start its vCPUs the native way too, as an HVM guest
 * does on Xen (Linux's cpu_up on PVH): a SIPI that the guest sends to a
 * down vCPU whose APIC waits for one (after an INIT, or from creation
 * with ::HV_LAPIC_APS_WAIT_SIPI) brings it up and calls
 * hv_xen_config::wake for it; its next hv_vcpu_run() starts it in real
 * mode at the SIPI's vector. A vCPU that VCPUOP_down stopped does not wait
 * for a SIPI: one leaves it down. An INIT (level assert) to a vCPU that is
 * up takes it down and uninitialised, as Xen's vLAPIC resets it; a SIPI
 * starts it again. VCPUOP_up and hv_xen_vcpu_set_up() still start a vCPU
 * at its Xen context, its APIC leaving any wait for a SIPI.
 *
 * Destroying a vCPU of a domain (hv_vcpu_destroy()): do it while no other
 * vCPU of the domain runs (their VCPUOP_initialise, _up and _down reach
 * it), and not during your own event calls on the domain (the
 * hv_xen_evtchn_* and console calls). Events from other domains of the
 * hub need no care: the destroy waits for any of theirs that found the
 * vCPU to finish with it.
 */
#ifndef HV_XEN_H
#define HV_XEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hv/image.h>
#include <hv/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hv_ctx;
struct hv_vm;
struct hv_vcpu;

/** Domain id of the embedder (the privileged domain). */
#define HV_XEN_DOMID_HOST 0u
/** Largest domain id a VM may have (Xen reserves 0x7ff0 and above). */
#define HV_XEN_DOMID_MAX 0x7fefu

/**
 * @brief A set of Xen domains that can reach each other (opaque).
 *
 * VMs enabled with the same hub see each other's domain ids: event
 * channels can connect them and GNTTABOP_copy can use their grants. The
 * hub's lock serializes the event-channel and grant state of all its VMs.
 */
struct hv_xen_hub;

/**
 * @brief Create an empty hub.
 * @param ctx The context whose VMs will join it.
 * @param[out] out The hub.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_NO_MEMORY.
 */
hv_status_t hv_xen_hub_create(struct hv_ctx *ctx, struct hv_xen_hub **out);

/**
 * @brief Free a hub.
 * @param hub The hub (no VM may still use it).
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_BUSY while VMs use it.
 */
hv_status_t hv_xen_hub_destroy(struct hv_xen_hub *hub);

/** @name hv_xen_config::flags
 * @{ */
/**
 * CONSOLEIO_write/read fail with -EPERM, as for an unprivileged Xen
 * domain that was not given console rights. Without this flag the guest's
 * console_io output goes to hv_xen_console_read().
 */
#define HV_XEN_F_NO_CONSOLE_IO 0x1u
/**
 * The embedder vouches that the host TSC is invariant (constant rate in
 * every P-, C- and T-state) and synchronised across every host CPU that
 * runs the VM's vCPUs, and that every vCPU has the same TSC offset (the
 * default: hv_vcpu_set_state() leaves it alone). Needs a clock
 * (hv_host_ops::time_ns) for the time base. Guest system time is then the
 * TSC alone, scaled at hv_xen_config::tsc_khz from its value at
 * hv_xen_enable(), one line for all vCPUs, and their pvclocks carry
 * XEN_PVCLOCK_TSC_STABLE_BIT (monotonic across vCPUs), which lets Linux
 * read the clock in its vDSO. A vCPU whose TSC offset later differs from
 * the one the domain's first pvclock update saw (the guest wrote its TSC)
 * loses the bit. Timer deadlines reported in host time
 * (hv_exit::hlt, hv_xen_vcpu_status()) are then converted at the TSC rate:
 * give an exact @c tsc_khz, as the measured one drifts from the host
 * clock. Without this flag the bit is never set.
 */
#define HV_XEN_F_TSC_STABLE 0x2u
/** @} */

/**
 * @brief Called when a blocked or halted vCPU has become runnable (an
 *        event arrived for it). Any context; must not sleep and must not
 *        call into libhv. The embedder then calls hv_vcpu_run() again.
 */
typedef void (*hv_xen_wake_fn)(void *opaque, struct hv_vcpu *vcpu);

/**
 * @brief Called when the guest signals an event channel whose other end is
 *        a host port (see hv_xen_evtchn_bind()). Same context rules as
 *        ::hv_xen_wake_fn; the pending bit is also readable with
 *        hv_xen_evtchn_pending().
 */
typedef void (*hv_xen_notify_fn)(void *opaque, struct hv_vm *vm, uint32_t host_port);

/** Options of hv_xen_enable(); a zeroed struct gives the defaults. */
struct hv_xen_config {
    /** sizeof(struct hv_xen_config); 0 means the current size. */
    uint32_t size;
    /** HV_XEN_F_* flags. */
    uint32_t flags;
    /** Domain id (1..::HV_XEN_DOMID_MAX, unique in the hub); 0 picks the lowest free one. */
    uint32_t domid;
    /** Event channel ports (2..4096); 0 means 1024. Xen's default for a guest. */
    uint32_t max_evtchn_ports;
    /** Grant table frames the guest may set up (1..64); 0 means 32. */
    uint32_t max_grant_frames;
    /** Xen version the guest sees (XENVER_version, CPUID); 0.0 means 4.19. */
    uint16_t version_major;
    uint16_t version_minor; /**< See @c version_major. */
    /** XENVER_extraversion (NUL-terminated, up to 15 characters); "" means ".0". */
    char extraversion[16];
    /** XENVER_guest_handle: the domain's handle (UUID). */
    uint8_t handle[16];
    /**
     * Guest TSC frequency in kHz, for the pvclock (vcpu_time_info) and
     * CPUID leaf 0x40000003. 0: measured against hv_host_ops::time_ns for
     * about 1 ms during hv_xen_enable(). Without a host clock there is no
     * pvclock and Xen timers fail with -ENOSYS.
     */
    uint32_t tsc_khz;
    /**
     * Memory map XENMEM_memory_map returns (copied); NULL derives it from the
     * VM's mappings. The guest may replace it with XENMEM_set_memory_map on
     * itself, as Xen allows (up to ::HV_PVH_MAX_MEMMAP entries).
     */
    const struct hv_pvh_memmap *memmap;
    /** Entries in @c memmap (at most ::HV_PVH_MAX_MEMMAP). */
    uint32_t memmap_count;
    /** The hub to join, or NULL for a VM that only talks to the host. */
    struct hv_xen_hub *hub;
    /** Wake-up callback, or NULL (poll hv_xen_vcpu_status() instead). */
    hv_xen_wake_fn wake;
    /** Host-port notification callback, or NULL. */
    hv_xen_notify_fn notify;
    /** Passed to @c wake and @c notify. */
    void *opaque;
};

/**
 * @brief Make @p vm a Xen domain (sets its PV hooks).
 *
 * Allocates the shared_info page, one grant-table frame, the first page
 * of event-channel ports and the per-vCPU state for every vCPU the VM may
 * have; the rest (more ports, the console_io buffers, the table of host
 * grant mappings) is allocated on first use, and a failure there is the
 * guest's -ENOMEM or the host call's ::HV_ERR_NO_MEMORY. Call it before
 * the guest runs; vCPUs may be created before or after. hv_vm_destroy() disables it too;
 * hv_xen_disable() does it earlier.
 * @param vm The VM.
 * @param config Options, or NULL for the defaults.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL, bad config); ::HV_ERR_EXISTS
 *         (already enabled, or the domain id is taken in the hub);
 *         ::HV_ERR_LIMIT (no free domain id); ::HV_ERR_NO_MEMORY.
 */
hv_status_t hv_xen_enable(struct hv_vm *vm, const struct hv_xen_config *config);

/**
 * @brief Undo hv_xen_enable(): close every event channel (peers in the hub
 *        see their ends unbound), drop host grant mappings, unmap and free
 *        the shared_info and grant-table pages, leave the hub.
 * @param vm The VM.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE (not enabled);
 *         ::HV_ERR_BUSY while a vCPU of the VM runs.
 */
hv_status_t hv_xen_disable(struct hv_vm *vm);

/**
 * @brief The domain id of a Xen-enabled VM.
 * @param vm The VM.
 * @param[out] domid Its domain id.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE (not enabled).
 */
hv_status_t hv_xen_domid(struct hv_vm *vm, uint32_t *domid);

/**
 * @brief Set an HVM parameter as the toolstack does (any index below 39,
 *        e.g. HVM_PARAM_STORE_PFN = 1, CONSOLE_PFN = 17).
 *
 * The guest itself may only set the ones Xen lets a guest set.
 * @param vm The VM.
 * @param index HVM_PARAM_* index.
 * @param value The new value.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_RANGE (index);
 *         ::HV_ERR_STATE (not enabled).
 */
hv_status_t hv_xen_set_param(struct hv_vm *vm, uint32_t index, uint64_t value);

/**
 * @brief Read an HVM parameter.
 * @param vm The VM.
 * @param index HVM_PARAM_* index.
 * @param[out] value The value.
 * @return As hv_xen_set_param().
 */
hv_status_t hv_xen_get_param(struct hv_vm *vm, uint32_t index, uint64_t *value);

/* ---- console_io ---------------------------------------------------------- */

/** Bytes of console_io output kept for the embedder (older bytes are dropped). */
#define HV_XEN_CONSOLE_BUFFER 4096u

/**
 * @brief Take the bytes the guest wrote with CONSOLEIO_write.
 *
 * As Xen does for an unprivileged guest, only printable characters, tab
 * and newline are kept.
 * @param vm The VM.
 * @param[out] buf Destination.
 * @param cap Its size.
 * @param[out] len Bytes stored (0 when nothing is buffered).
 * @param[out] dropped If not NULL: bytes lost because the buffer was full.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE (not enabled).
 */
hv_status_t hv_xen_console_read(struct hv_vm *vm, char *buf, size_t cap, size_t *len,
                                uint64_t *dropped);

/**
 * @brief Queue input for the guest's CONSOLEIO_read.
 * The queue's page is allocated by the first call with @p len > 0 (the
 * output buffer's by the guest's first CONSOLEIO_write, which fails with
 * -ENOMEM when that allocation does).
 * @param[out] accepted Bytes queued (the queue holds ::HV_XEN_CONSOLE_BUFFER).
 * @param vm The VM.
 * @param buf The input bytes.
 * @param len Their number.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE; ::HV_ERR_NO_MEMORY.
 */
hv_status_t hv_xen_console_input(struct hv_vm *vm, const char *buf, size_t len, size_t *accepted);

/* ---- event channels, host side ------------------------------------------- */

/**
 * @brief Allocate a port in the guest, unbound and accepting a binding from
 *        the host (what a toolstack does for xenstore and the console).
 * @param[out] guest_port The new port.
 * @param vm The VM.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE; ::HV_ERR_LIMIT (no free port);
 *         ::HV_ERR_NO_MEMORY (the port needed a new page of the port table,
 *         which is allocated as ports are used).
 */
hv_status_t hv_xen_evtchn_alloc_unbound(struct hv_vm *vm, uint32_t *guest_port);

/**
 * @brief Bind a host port to a guest port that is unbound and accepts the
 *        host (from hv_xen_evtchn_alloc_unbound() or from the guest's own
 *        EVTCHNOP_alloc_unbound with remote_dom 0). Both ends become
 *        interdomain, and the guest port is set pending as Xen does.
 * @param[out] host_port Host port number (1..63) for the calls below.
 * @param vm The VM.
 * @param guest_port The guest's unbound port.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE; ::HV_ERR_NOT_FOUND
 *         (no such port, or it does not accept the host); ::HV_ERR_LIMIT.
 */
hv_status_t hv_xen_evtchn_bind(struct hv_vm *vm, uint32_t guest_port, uint32_t *host_port);

/**
 * @brief Create a host port that waits, unbound, for the guest to connect
 *        with EVTCHNOP_bind_interdomain(remote_dom 0, remote_port *host_port).
 * @param vm The VM.
 * @param[out] host_port The new host port.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE; ::HV_ERR_LIMIT.
 */
hv_status_t hv_xen_evtchn_host_unbound(struct hv_vm *vm, uint32_t *host_port);

/**
 * @brief Signal the guest end of a bound host port (EVTCHNOP_send from dom0).
 * @param vm The VM.
 * @param host_port A host port.
 * @return ::HV_OK (also when the host port is unbound: the event is
 *         dropped, as Xen does); ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE;
 *         ::HV_ERR_NOT_FOUND (no such host port).
 */
hv_status_t hv_xen_evtchn_notify(struct hv_vm *vm, uint32_t host_port);

/**
 * @brief Test and clear whether the guest signalled a host port.
 * @param[out] pending true if the guest sent an event since the last call.
 * @param[out] guest_port If not NULL: the guest port it is bound to (0 if unbound).
 * @param vm The VM.
 * @param host_port A host port.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE; ::HV_ERR_NOT_FOUND.
 */
hv_status_t hv_xen_evtchn_pending(struct hv_vm *vm, uint32_t host_port, bool *pending,
                                  uint32_t *guest_port);

/**
 * @brief Close a host port; its guest end becomes unbound (waiting for the host).
 * @param vm The VM.
 * @param host_port The host port to close.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE; ::HV_ERR_NOT_FOUND.
 */
hv_status_t hv_xen_evtchn_close(struct hv_vm *vm, uint32_t host_port);

/* ---- grants, host side --------------------------------------------------- */

/** @name hv_xen_grant_map() flags
 * @{ */
#define HV_XEN_GRANT_READONLY 0x1u /**< Map for reading only (GTF_reading only). */
/** @} */

/** A guest page the host mapped through a grant. */
struct hv_xen_grant_mapping {
    uint32_t handle; /**< Pass to hv_xen_grant_unmap(). */
    uint32_t ref;    /**< The grant reference. */
    uint64_t gpa;    /**< Guest-physical address of the granted page. */
    uint64_t hpa;    /**< Its host-physical address. */
    void *hva;       /**< Host pointer to the page (hv_host_ops::phys_to_virt). */
};

/** Host grant mappings a VM may have at once. */
#define HV_XEN_GRANT_MAPS_MAX 64u

/**
 * @brief Map a page the guest granted to domain 0, checking the grant as
 *        Xen does (GTF_permit_access, domid 0, GTF_readonly against a
 *        writable request, the frame being RAM the guest may access) and
 *        setting GTF_reading (and GTF_writing) in the entry until unmapped.
 *
 * The page stays the guest's: if the guest later unmaps it from its own
 * physical address space, or maps shared_info or a grant-table frame over
 * it, the pointer still refers to the same host page, which the embedder
 * owns anyway. A grant of the frame where the guest mapped shared_info or
 * a grant-table frame (pages libhv owns and frees in hv_xen_disable()) is
 * refused with ::HV_ERR_GUEST_FAULT (Xen's GNTST_bad_page), so that no
 * mapping can outlive its page.
 * @param vm The VM.
 * @param ref Grant reference in the guest's table.
 * @param flags HV_XEN_GRANT_* flags.
 * @param[out] out The mapping.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE; ::HV_ERR_NOT_FOUND
 *         (reference outside the table); ::HV_ERR_GUEST_FAULT (entry does not
 *         grant this access to domain 0, or its frame is not accessible RAM);
 *         ::HV_ERR_LIMIT (::HV_XEN_GRANT_MAPS_MAX reached); ::HV_ERR_NO_MEMORY
 *         (the first call allocates the VM's table of host mappings).
 */
hv_status_t hv_xen_grant_map(struct hv_vm *vm, uint32_t ref, uint32_t flags,
                             struct hv_xen_grant_mapping *out);

/**
 * @brief Undo hv_xen_grant_map(): drops GTF_writing/GTF_reading when no
 *        other mapping of the entry needs them.
 * @param vm The VM.
 * @param handle hv_xen_grant_mapping::handle of the mapping.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE; ::HV_ERR_NOT_FOUND.
 */
hv_status_t hv_xen_grant_unmap(struct hv_vm *vm, uint32_t handle);

/* ---- PV console ring ----------------------------------------------------- */

/**
 * @brief Set up the guest's PV console: a struct xencons_interface ring in
 *        the guest RAM page at @p ring_gpa (zeroed here) and an event
 *        channel, published as HVM_PARAM_CONSOLE_PFN and
 *        HVM_PARAM_CONSOLE_EVTCHN (what a Xen toolstack does).
 * @param[out] guest_port If not NULL: the guest's console port.
 * @param vm The VM.
 * @param ring_gpa Guest-physical address of the ring page, 4 KiB aligned.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE; ::HV_ERR_ALIGNMENT;
 *         ::HV_ERR_GUEST_FAULT (not writable RAM); ::HV_ERR_EXISTS (already set up);
 *         ::HV_ERR_LIMIT; ::HV_ERR_NO_MEMORY (as hv_xen_evtchn_alloc_unbound()).
 */
hv_status_t hv_xen_pvcons_attach(struct hv_vm *vm, uint64_t ring_gpa, uint32_t *guest_port);

/**
 * @brief Read what the guest wrote to the console ring (out[]), advancing
 *        out_cons, and notify the guest when something was consumed.
 *
 * Ring indices come from guest memory and are checked: a producer more
 * than a ring ahead of the consumer is treated as a corrupt ring (nothing
 * is read, ::HV_ERR_GUEST_FAULT).
 * @param vm The VM.
 * @param[out] buf Destination.
 * @param cap Its size.
 * @param[out] len Bytes read.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE (no console attached);
 *         ::HV_ERR_GUEST_FAULT.
 */
hv_status_t hv_xen_pvcons_read(struct hv_vm *vm, char *buf, size_t cap, size_t *len);

/**
 * @brief Deliver console input: append to in[] as far as it has room,
 *        advance in_prod, notify the guest.
 * @param vm The VM.
 * @param buf The input bytes.
 * @param len Their number.
 * @param[out] written Bytes appended to the ring.
 * @return As hv_xen_pvcons_read().
 */
hv_status_t hv_xen_pvcons_write(struct hv_vm *vm, const char *buf, size_t len, size_t *written);

/* ---- vCPU scheduling ----------------------------------------------------- */

/** What hv_xen_vcpu_status() reports. */
struct hv_xen_vcpu_status {
    /** The vCPU is blocked in SCHEDOP_block/poll or halted, and nothing woke it yet. */
    bool blocked;
    /** An event is pending for it (it would take an upcall, or its poll is satisfied). */
    bool event_pending;
    /** Host time (hv_host_ops::time_ns) of its earliest Xen timer; 0 if none. */
    uint64_t deadline_ns;
    /** The vCPU is down (see the file comment): @c blocked is set too, and
     *  only VCPUOP_up, a SIPI (with the library's local APIC; both call
     *  the wake callback) or hv_xen_vcpu_set_up() brings it up. */
    bool down;
    /** Guest-virtual address of its vcpu_time_info area
     *  (VCPUOP_register_vcpu_time_memory_area); 0 if none. */
    uint64_t time_area;
};

/**
 * @brief Scheduling state of a vCPU, for an embedder deciding when to run
 *        it again after ::HV_EXIT_HLT. Timers that expired by now are fired
 *        first (setting their events pending).
 * @param vcpu The vCPU.
 * @param[out] status Its scheduling state.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE (Xen not enabled).
 */
hv_status_t hv_xen_vcpu_status(struct hv_vcpu *vcpu, struct hv_xen_vcpu_status *status);

/**
 * @brief Bring a vCPU up or down from the host, as a Xen toolstack does
 *        (XEN_DOMCTL_setvcpucontext, then unpausing it).
 *
 * Up: the vCPU counts as initialised with whatever state the embedder gave
 * it (hv_vcpu_set_state()) and runs at the next hv_vcpu_run(); the guest's
 * VCPUOP_initialise on it then fails with -EEXIST. Down: as VCPUOP_down
 * from another vCPU (a running one is kicked), except that the domain is
 * not powered off when no vCPU is left up.
 * @param vcpu The vCPU.
 * @param up true to bring it up, false to take it down.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_STATE (Xen not enabled).
 */
hv_status_t hv_xen_vcpu_set_up(struct hv_vcpu *vcpu, bool up);

#ifdef __cplusplus
}
#endif

#endif /* HV_XEN_H */

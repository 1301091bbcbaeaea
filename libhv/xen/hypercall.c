/*
 * Hypercall entry: the VMCALL/VMMCALL hook. Decodes Xen's calling
 * convention for the caller's mode, refuses callers outside ring 0 as Xen
 * does for HVM guests, dispatches, and writes the result to RAX.
 *
 * Modes follow Xen's hvm_guest_x86_mode(): 64-bit code passes RAX = number
 * and RDI RSI RDX R10 R8 R9; 32-bit and 16-bit protected mode and real
 * mode pass EAX and EBX ECX EDX ESI EDI EBP, and their structures use the
 * i386 layouts. Virtual-8086 mode and CPL > 0 get -EPERM; unknown numbers
 * -ENOSYS.
 *
 * The registers the mode, the privilege check and the guest-virtual copies
 * (gva.c) depend on are read once, at entry, with the backend's
 * get_fetch_regs (one read of the control block) where it has one.
 */
#include "backend.h"
#include "core/pv.h"
#include "xen/internal.h"

#define XEN_RFLAGS_VM HV_BIT(17)
#define XEN_CR0_PE    HV_BIT(0)

enum call_mode {
    MODE_REAL,
    MODE_V86,
    MODE_16,
    MODE_32,
    MODE_64,
};

/* How a number may run from the backend's exit fast path
   (hv_pv_ops::hypercall_fast) through run_call(). Zero, the default of
   every entry of the table, is the safe answer: the full path only. The
   hook's hottest calls, XENVER_version and EVTCHNOP_send/unmask, it
   recognises itself before the table. */
enum fast_class {
    FAST_NO = 0,
    FAST_QUIET, /* registers and guest memory only: no event can fall due */
};

struct hc_entry {
    long (*fn)(struct xen_call *c);
    uint8_t fast; /* enum fast_class */
};

/* Every number the layer implements, in one table: dispatch() and the fast
   path's whitelist cannot disagree. A number without a handler is -ENOSYS. */
static const struct hc_entry hcalls[] = {
    [XEN_HC_MEMORY_OP] = {xen_do_memory_op, FAST_NO},
    [XEN_HC_SET_TIMER_OP] = {xen_do_set_timer_op, FAST_NO},
    [XEN_HC_XEN_VERSION] = {xen_do_xen_version, FAST_QUIET},
    [XEN_HC_CONSOLE_IO] = {xen_do_console_io, FAST_NO},
    [XEN_HC_GRANT_TABLE_OP] = {xen_do_grant_table_op, FAST_NO},
    [XEN_HC_VM_ASSIST] = {xen_do_vm_assist, FAST_NO},
    [XEN_HC_VCPU_OP] = {xen_do_vcpu_op, FAST_NO},
    [XEN_HC_SCHED_OP] = {xen_do_sched_op, FAST_NO},
    [XEN_HC_EVENT_CHANNEL_OP] = {xen_do_event_channel_op, FAST_NO}, /* send, unmask: above */
    [XEN_HC_HVM_OP] = {xen_do_hvm_op, FAST_NO},
};
#define NR_HCALLS (sizeof(hcalls) / sizeof(hcalls[0]))

/* The table entry of @p nr, or NULL for a number Xen (as built here) does not have. */
static const struct hc_entry *hcall(uint64_t nr)
{
    if (nr >= NR_HCALLS || !hcalls[nr].fn)
        return NULL;
    return &hcalls[nr];
}

/* The registers of the call (struct xen_call::fr), from the backend. */
static inline __attribute__((always_inline)) void load_fetch_regs(struct hv_vcpu *vcpu,
                                                                  struct hv_fetch_regs *fr)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    if (be->get_fetch_regs) {
        be->get_fetch_regs(vcpu, fr);
        return;
    }
    struct hv_vcpu_state st;
    be->get_state(vcpu, HV_STATE_CR | HV_STATE_SEG, &st);
    fr->rip = be->get_rip(vcpu);
    fr->rflags = be->get_rflags(vcpu);
    fr->cr0 = st.cr0;
    fr->cr3 = st.cr3;
    fr->cr4 = st.cr4;
    fr->efer = st.efer;
    fr->cs_base = st.seg[HV_SEG_CS].base;
    fr->cs_limit = st.seg[HV_SEG_CS].limit;
    fr->cs_attr = (uint16_t)st.seg[HV_SEG_CS].attr;
    fr->cpl = (uint8_t)be->get_cpl(vcpu);
}

void xen_call_from_vcpu(struct xen_call *c, struct hv_vcpu *vcpu)
{
    load_fetch_regs(vcpu, &c->fr_read);
    c->fr_read.cpl = 0; /* the hypervisor's own access, as a supervisor one */
    c->fr = &c->fr_read;
    c->vcpu = vcpu;
    c->x = xen_of(vcpu->vm);
    c->xv = xen_vcpu_cached(c->x, vcpu);
    c->exit = NULL;
    c->compat = !((c->fr->efer & HV_EMU_EFER_LMA) && (c->fr->cs_attr & HV_SEG_L));
    c->exit_to_host = false;
    c->restart = false;
    c->regs_loaded = false;
}

/* hvm_guest_x86_mode(): 64-bit code is EFER.LMA with CS.L (SDM Vol. 3A
   5.2.1); else CR0.PE, RFLAGS.VM and CS.D tell the rest. */
static inline __attribute__((always_inline)) enum call_mode
call_mode(const struct hv_fetch_regs *fr)
{
    if ((fr->efer & HV_EMU_EFER_LMA) && (fr->cs_attr & HV_SEG_L))
        return MODE_64;
    if (!(fr->cr0 & XEN_CR0_PE))
        return MODE_REAL;
    if (fr->rflags & XEN_RFLAGS_VM)
        return MODE_V86;
    return (fr->cs_attr & HV_SEG_DB) ? MODE_32 : MODE_16;
}

/* One call in the caller's mode (both hooks below); c->fr is loaded. */
static enum hv_pv_result run_call(struct xen_call *c, struct hv_vcpu *vcpu, struct hv_exit *exit,
                                  enum call_mode mode)
{
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    uint64_t *g = vcpu->gpr;

    if (mode == MODE_V86 || c->fr->cpl != 0) {
        xen_set_result(vcpu, mode == MODE_64, -XEN_EPERM);
        return HV_PV_DONE;
    }

    c->vcpu = vcpu;
    c->x = x;
    c->xv = xen_vcpu_cached(x, vcpu);
    c->exit = exit;
    c->compat = mode != MODE_64;
    c->exit_to_host = false;
    c->restart = false;
    c->regs_loaded = false;
    uint64_t nr;
    if (!c->compat) {
        c->arg[0] = g[HV_GPR_RDI];
        c->arg[1] = g[HV_GPR_RSI];
        c->arg[2] = g[HV_GPR_RDX];
        c->arg[3] = g[HV_GPR_R10];
        c->arg[4] = g[HV_GPR_R8];
        c->arg[5] = g[HV_GPR_R9];
        nr = g[HV_GPR_RAX];
    } else {
        c->arg[0] = (uint32_t)g[HV_GPR_RBX];
        c->arg[1] = (uint32_t)g[HV_GPR_RCX];
        c->arg[2] = (uint32_t)g[HV_GPR_RDX];
        c->arg[3] = (uint32_t)g[HV_GPR_RSI];
        c->arg[4] = (uint32_t)g[HV_GPR_RDI];
        c->arg[5] = (uint32_t)g[HV_GPR_RBP];
        nr = (uint32_t)g[HV_GPR_RAX];
    }

    const struct hc_entry *e = hcall(nr);
    long ret = e ? e->fn(c) : -XEN_ENOSYS;
    if (c->restart) {
        static const uint8_t order64[6] = {HV_GPR_RDI, HV_GPR_RSI, HV_GPR_RDX,
                                           HV_GPR_R10, HV_GPR_R8,  HV_GPR_R9};
        static const uint8_t order32[6] = {HV_GPR_RBX, HV_GPR_RCX, HV_GPR_RDX,
                                           HV_GPR_RSI, HV_GPR_RDI, HV_GPR_RBP};
        /* Continuation: the handler advanced its arguments; the guest
           executes the call again from where it stopped (RIP unchanged,
           nothing queued for the fault path). */
        for (int i = 0; i < 6; i++) {
            if (c->compat)
                g[order32[i]] = (g[order32[i]] & ~0xffffffffull) | (uint32_t)c->arg[i];
            else
                g[order64[i]] = c->arg[i];
        }
        return HV_PV_FAULT;
    }
    xen_set_result(vcpu, !c->compat, ret);
    return c->exit_to_host ? HV_PV_EXIT : HV_PV_DONE;
}

/* The hv_pv_ops::hypercall hook. */
enum hv_pv_result xen_hypercall(struct hv_vcpu *vcpu, struct hv_exit *exit)
{
    struct xen_call c;
    load_fetch_regs(vcpu, &c.fr_read);
    c.fr = &c.fr_read;
    return run_call(&c, vcpu, exit, call_mode(c.fr));
}

/* A call of the table's fast class from the fast hook: run_call() in a
   frame of its own, which the hook's other answers do without. */
static __attribute__((noinline)) enum hv_pv_result
quiet_call(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr, enum call_mode mode, bool *events)
{
    struct hv_exit unused; /* these calls never report to the embedder */
    struct xen_call c;
    c.fr = fr;
    enum hv_pv_result r = run_call(&c, vcpu, &unused, mode);
    if (r == HV_PV_FAULT)
        *events = true; /* the exception queued */
    return r;
}

/*
 * The hv_pv_ops::hypercall_fast hook: the calls a guest makes in its hot
 * paths and that finish in the library without the embedder:
 * EVTCHNOP_send/unmask (the domain's state under its lock, whose
 * callbacks, wake, notify and kick_cpu, run with interrupts off there
 * already), xen_version (the table's fast class: registers and guest
 * memory only), numbers Xen does not have (-ENOSYS) and any call from
 * outside ring 0 (-EPERM). Everything else takes the full path.
 */
enum hv_pv_result xen_hypercall_fast(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr,
                                     bool *events)
{
    const uint64_t *g = vcpu->gpr;
    enum call_mode mode = call_mode(fr);
    bool lm = mode == MODE_64;
    uint64_t nr = lm ? g[HV_GPR_RAX] : (uint32_t)g[HV_GPR_RAX];
    uint32_t cmd = (uint32_t)(lm ? g[HV_GPR_RDI] : g[HV_GPR_RBX]); /* int cmd */
    *events = false;

    /* Answers from the registers alone, without the call's set-up, as
       run_call() and the handler give them: -EPERM for a caller outside
       ring 0 or in virtual-8086 mode (whatever the number), XENVER_version,
       which reads no argument, and (after the port operations) -ENOSYS
       for a number Xen does not have. */
    if (mode == MODE_V86 || fr->cpl != 0) {
        xen_set_result(vcpu, lm, -XEN_EPERM);
        return HV_PV_DONE;
    }
    if (nr == XEN_HC_XEN_VERSION && cmd == XENVER_VERSION) {
        xen_set_result(vcpu, lm, xen_version_value(xen_of(vcpu->vm)));
        return HV_PV_DONE;
    }
    if (nr == XEN_HC_EVENT_CHANNEL_OP && (cmd == EVTCHNOP_send || cmd == EVTCHNOP_unmask)) {
        /* The port operation straight away (a tail call: this frame
           holds nothing it needs). An upcall may be asserted (or queued)
           now. */
        uint64_t port = lm ? g[HV_GPR_RSI] : (uint32_t)g[HV_GPR_RCX];
        return xen_evtchn_fast(vcpu, fr, lm, cmd, port, events);
    }
    const struct hc_entry *e = hcall(nr);
    if (!e) {
        xen_set_result(vcpu, lm, -XEN_ENOSYS);
        return HV_PV_DONE;
    }
    if (e->fast != FAST_QUIET)
        return HV_PV_UNHANDLED;
    return quiet_call(vcpu, fr, mode, events);
}

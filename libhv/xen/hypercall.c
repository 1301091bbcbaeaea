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

static enum call_mode call_mode(struct hv_vcpu *vcpu)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    if (be->long_mode(vcpu))
        return MODE_64;
    struct hv_vcpu_state st;
    be->get_state(vcpu, HV_STATE_CR | HV_STATE_SEG, &st);
    if (!(st.cr0 & XEN_CR0_PE))
        return MODE_REAL;
    if (be->get_rflags(vcpu) & XEN_RFLAGS_VM)
        return MODE_V86;
    return (st.seg[HV_SEG_CS].attr & HV_SEG_DB) ? MODE_32 : MODE_16;
}

static long dispatch(struct xen_call *c, uint64_t nr)
{
    switch (nr) {
    case XEN_HC_MEMORY_OP:
        return xen_do_memory_op(c);
    case XEN_HC_SET_TIMER_OP:
        return xen_do_set_timer_op(c);
    case XEN_HC_XEN_VERSION:
        return xen_do_xen_version(c);
    case XEN_HC_CONSOLE_IO:
        return xen_do_console_io(c);
    case XEN_HC_GRANT_TABLE_OP:
        return xen_do_grant_table_op(c);
    case XEN_HC_VCPU_OP:
        return xen_do_vcpu_op(c);
    case XEN_HC_SCHED_OP:
        return xen_do_sched_op(c);
    case XEN_HC_EVENT_CHANNEL_OP:
        return xen_do_event_channel_op(c);
    case XEN_HC_HVM_OP:
        return xen_do_hvm_op(c);
    default:
        return -XEN_ENOSYS;
    }
}

/* One call in the caller's mode (both hooks below). */
static enum hv_pv_result run_call(struct hv_vcpu *vcpu, struct hv_exit *exit, enum call_mode mode)
{
    struct hv_xen_vm *x = xen_of(vcpu->vm);
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    uint64_t *g = vcpu->gpr;

    xen_vcpu_cached(x, vcpu);
    if (mode == MODE_V86 || be->get_cpl(vcpu) != 0) {
        g[HV_GPR_RAX] = mode == MODE_64 ? (uint64_t)(int64_t)-XEN_EPERM : (uint32_t)-XEN_EPERM;
        return HV_PV_DONE;
    }

    struct xen_call c;
    c.vcpu = vcpu;
    c.x = x;
    c.xv = vcpu->xen;
    c.exit = exit;
    c.compat = mode != MODE_64;
    c.exit_to_host = false;
    c.restart = false;
    c.regs_loaded = false;
    c.paging = false;
    uint64_t nr;
    if (!c.compat) {
        c.arg[0] = g[HV_GPR_RDI];
        c.arg[1] = g[HV_GPR_RSI];
        c.arg[2] = g[HV_GPR_RDX];
        c.arg[3] = g[HV_GPR_R10];
        c.arg[4] = g[HV_GPR_R8];
        c.arg[5] = g[HV_GPR_R9];
        nr = g[HV_GPR_RAX];
    } else {
        c.arg[0] = (uint32_t)g[HV_GPR_RBX];
        c.arg[1] = (uint32_t)g[HV_GPR_RCX];
        c.arg[2] = (uint32_t)g[HV_GPR_RDX];
        c.arg[3] = (uint32_t)g[HV_GPR_RSI];
        c.arg[4] = (uint32_t)g[HV_GPR_RDI];
        c.arg[5] = (uint32_t)g[HV_GPR_RBP];
        nr = (uint32_t)g[HV_GPR_RAX];
    }

    long ret = dispatch(&c, nr);
    if (c.restart) {
        static const uint8_t order64[6] = {HV_GPR_RDI, HV_GPR_RSI, HV_GPR_RDX,
                                           HV_GPR_R10, HV_GPR_R8,  HV_GPR_R9};
        static const uint8_t order32[6] = {HV_GPR_RBX, HV_GPR_RCX, HV_GPR_RDX,
                                           HV_GPR_RSI, HV_GPR_RDI, HV_GPR_RBP};
        /* Continuation: the handler advanced its arguments; the guest
           executes the call again from where it stopped (RIP unchanged,
           nothing queued for the fault path). */
        for (int i = 0; i < 6; i++) {
            if (c.compat)
                g[order32[i]] = (g[order32[i]] & ~0xffffffffull) | (uint32_t)c.arg[i];
            else
                g[order64[i]] = c.arg[i];
        }
        return HV_PV_FAULT;
    }
    g[HV_GPR_RAX] = c.compat ? (uint32_t)ret : (uint64_t)(int64_t)ret;
    return c.exit_to_host ? HV_PV_EXIT : HV_PV_DONE;
}

/* The hv_pv_ops::hypercall hook. */
enum hv_pv_result xen_hypercall(struct hv_vcpu *vcpu, struct hv_exit *exit)
{
    return run_call(vcpu, exit, call_mode(vcpu));
}

/*
 * The hv_pv_ops::hypercall_fast hook: the calls a guest makes in its hot
 * paths and that finish in the library without the embedder: xen_version
 * (registers and guest memory only), EVTCHNOP_send/unmask (the domain's
 * state under its lock, whose callbacks, wake, notify and kick_cpu, run
 * with interrupts off there already) and numbers Xen does not have
 * (-ENOSYS). Everything else takes the full path; the list here must
 * name every number dispatch() knows.
 */
enum hv_pv_result xen_hypercall_fast(struct hv_vcpu *vcpu, bool *events)
{
    const uint64_t *g = vcpu->gpr;
    enum call_mode mode = call_mode(vcpu);
    bool lm = mode == MODE_64;
    uint64_t nr = lm ? g[HV_GPR_RAX] : (uint32_t)g[HV_GPR_RAX];
    uint32_t cmd = (uint32_t)(lm ? g[HV_GPR_RDI] : g[HV_GPR_RBX]);

    switch (nr) {
    case XEN_HC_XEN_VERSION:
        *events = false;
        break;
    case XEN_HC_MEMORY_OP:
    case XEN_HC_SET_TIMER_OP:
    case XEN_HC_CONSOLE_IO:
    case XEN_HC_GRANT_TABLE_OP:
    case XEN_HC_VCPU_OP:
    case XEN_HC_SCHED_OP:
    case XEN_HC_HVM_OP:
        return HV_PV_UNHANDLED;
    case XEN_HC_EVENT_CHANNEL_OP:
        if (cmd != EVTCHNOP_send && cmd != EVTCHNOP_unmask)
            return HV_PV_UNHANDLED;
        *events = true; /* an upcall may be asserted now */
        break;
    default:
        *events = false; /* -ENOSYS (dispatch) */
        break;
    }
    struct hv_exit unused; /* these calls never report to the embedder */
    enum hv_pv_result r = run_call(vcpu, &unused, mode);
    if (r == HV_PV_FAULT)
        *events = true; /* the exception queued */
    return r;
}

/*
 * Instruction assist: connects the emulator (libhv/emu) to a vCPU.
 *
 * Accesses to regions with a handler complete inside the library. An
 * access the embedder must complete (a region without handler, or port
 * I/O of INS/OUTS) aborts the emulation, is logged in vcpu->alog and
 * returned as an exit; the next hv_vcpu_run() records the embedder's
 * result and emulates the instruction again from the start, replaying the
 * logged accesses in order instead of repeating them: the embedder's and
 * a handler access of the same iteration that came before it. Such
 * retries run one REP iteration per step, and completed iterations are
 * written back before every exit, so the log stays bounded and no side
 * effect is repeated.
 */
#include <hv/assist.h>
#include "backend.h"
#include "core/assist.h"
#include "core/fast.h"
#include "core/guest_mem.h"
#include "core/objects.h"
#include "core/pio.h"
#include "core/policy.h"
#include "core/util.h"
#include "core/walk_memo.h"
#include "emu/emu.h"
#include "emu/walk.h"

/* Per-step context handed to the emulator callbacks. */
struct assist_call {
    struct hv_vcpu *vcpu;
    struct hv_assist_vm *av;
    const struct hv_emu_regs *regs; /* the step's registers (REP progress) */
    unsigned replay;                /* next alog entry to replay */
    /* The last handler access this step made for real, and RCX at that
       moment: RCX changes only when a REP iteration completes, so an equal
       RCX at an embedder exit means "same iteration" (must be replayed). */
    bool have_last_handler;
    uint64_t last_handler_rcx;
    struct hv_assist_access last_handler;
    bool need_embedder; /* a new access was logged: exit */
    bool unclaimed;     /* an access hit non-RAM outside every region */
    bool handler_failed;
    uint64_t fail_gpa;
};

static struct mmio_region *find_region(struct hv_assist_vm *av, uint64_t gpa)
{
    if (!av)
        return NULL;
    for (uint32_t i = 0; i < av->count; i++) {
        struct mmio_region *r = &av->regions[i];
        if (hv_mmio_region_holds(r, gpa))
            return r;
    }
    return NULL;
}

/* find_region, or the per-vCPU region. */
static struct mmio_region *find_region_any(struct hv_assist_vm *av, uint64_t gpa)
{
    struct mmio_region *r = find_region(av, gpa);
    if (!r && av && hv_mmio_region_holds(&av->vcpu_region, gpa))
        r = &av->vcpu_region;
    return r;
}

/* The opaque a region's handler gets. */
static void *handler_arg(const struct hv_assist_vm *av, const struct mmio_region *r,
                         struct hv_vcpu *vcpu)
{
    return r == &av->vcpu_region ? (void *)vcpu : r->opaque;
}

const struct mmio_region *hv_assist_region_scan(struct hv_vcpu *vcpu, uint64_t gpa)
{
    struct hv_assist_vm *av = vcpu->vm->assist;
    struct mmio_region *r = find_region(av, gpa);
    if (r)
        vcpu->mmio_hint = (uint32_t)(r - av->regions);
    else if (av->vcpu_fast && hv_mmio_region_holds(&av->vcpu_region, gpa))
        r = &av->vcpu_region;
    return r;
}

const struct mmio_region *hv_assist_region(struct hv_vcpu *vcpu, uint64_t gpa)
{
    const struct mmio_region *r = hv_fast_mmio_region(vcpu, gpa);
    if (__builtin_expect(r != NULL, 1))
        return r;
    /* A miss (every region tried): the per-vCPU one, which the lookup
       finds only when it has a fast-path handler. */
    const struct hv_assist_vm *av = vcpu->vm->assist;
    return av && hv_mmio_region_holds(&av->vcpu_region, gpa) ? &av->vcpu_region : NULL;
}

static hv_status_t register_region(struct hv_vm *vm, uint64_t gpa, uint64_t len,
                                   hv_mmio_handler handler, void *opaque, bool per_vcpu,
                                   hv_mmio_handler fast)
{
    if (!vm)
        return HV_ERR_INVALID_ARG;
    if (!hv_range_valid(gpa, len))
        return HV_ERR_RANGE;
    const struct hv_host *host = &vm->ctx->host;
    struct hv_assist_vm *fresh = NULL;
    if (!vm->assist) {
        fresh = hv_host_obj_alloc(host, sizeof(*fresh));
        if (!fresh)
            return HV_ERR_NO_MEMORY;
    }
    hv_status_t st = HV_OK;
    uint64_t t = hv_lock_acquire(host, &vm->lock);
    if (!hv_vm_hold_runs(vm)) { /* its exit paths may be reading the regions */
        hv_lock_release(host, &vm->lock, t);
        hv_host_obj_free(host, fresh, sizeof(*fresh));
        return HV_ERR_BUSY;
    }
    if (!vm->assist) {
        vm->assist = fresh;
        fresh = NULL;
    }
    struct hv_assist_vm *av = vm->assist;
    for (uint32_t i = 0; i <= av->count && st == HV_OK; i++) {
        const struct mmio_region *r = i < av->count ? &av->regions[i] : &av->vcpu_region;
        if (r->len && gpa <= r->gpa + (r->len - 1) && r->gpa <= gpa + (len - 1))
            st = HV_ERR_EXISTS;
    }
    if (st == HV_OK && (per_vcpu ? av->vcpu_region.len != 0 : av->count == HV_MMIO_REGIONS_MAX))
        st = HV_ERR_LIMIT;
    if (st == HV_OK) {
        struct mmio_region *r = per_vcpu ? &av->vcpu_region : &av->regions[av->count++];
        r->gpa = gpa;
        r->len = len;
        r->handler = handler;
        r->opaque = opaque;
        if (per_vcpu)
            av->vcpu_fast = fast;
    }
    hv_vm_release_runs(vm);
    hv_lock_release(host, &vm->lock, t);
    hv_host_obj_free(host, fresh, sizeof(*fresh));
    return st;
}

hv_status_t hv_vm_mmio_register(struct hv_vm *vm, uint64_t gpa, uint64_t len,
                                hv_mmio_handler handler, void *opaque)
{
    return register_region(vm, gpa, len, handler, opaque, false, NULL);
}

hv_status_t hv_assist_register_vcpu(struct hv_vm *vm, uint64_t gpa, uint64_t len,
                                    hv_mmio_handler handler, hv_mmio_handler fast)
{
    return register_region(vm, gpa, len, handler, NULL, true, fast);
}

hv_status_t hv_vm_mmio_unregister(struct hv_vm *vm, uint64_t gpa)
{
    if (!vm)
        return HV_ERR_INVALID_ARG;
    const struct hv_host *host = &vm->ctx->host;
    hv_status_t st = HV_ERR_NOT_FOUND;
    uint64_t t = hv_lock_acquire(host, &vm->lock);
    struct hv_assist_vm *av = vm->assist;
    bool held = hv_vm_hold_runs(vm);
    if (!held) { /* its exit paths may be reading the regions */
        av = NULL;
        st = HV_ERR_BUSY;
    }
    for (uint32_t i = 0; av && i < av->count; i++) {
        if (av->regions[i].gpa == gpa) {
            av->regions[i] = av->regions[--av->count];
            st = HV_OK;
            break;
        }
    }
    if (st != HV_OK && av && av->vcpu_region.len && av->vcpu_region.gpa == gpa) {
        av->vcpu_region.len = 0;
        st = HV_OK;
    }
    if (held)
        hv_vm_release_runs(vm);
    hv_lock_release(host, &vm->lock, t);
    return st;
}

void hv_assist_vm_fini(struct hv_vm *vm)
{
    hv_host_obj_free(&vm->ctx->host, vm->assist, sizeof(struct hv_assist_vm));
    vm->assist = NULL;
}

/* --- emulator callbacks ------------------------------------------------ */

static hv_status_t cb_gpa_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    struct assist_call *c = opaque;
    return hv_gpa_read(c->vcpu->vm, gpa, buf, len);
}

static hv_status_t cb_gpa_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    struct assist_call *c = opaque;
    return hv_gpa_write(c->vcpu->vm, gpa, buf, len);
}

static bool cb_is_ram(void *opaque, uint64_t gpa)
{
    struct assist_call *c = opaque;
    uint64_t hpa;
    return hv_slat_translate(&c->vcpu->vm->slat, gpa, 0, &hpa) == HV_OK;
}

/*
 * An access the embedder completes: replay it from the log if this retry
 * already has its result, else log it and abort the step.
 */
/*
 * During a retry, the next logged access stands for this one: consume it
 * (a read gets the logged value) instead of repeating its side effect.
 */
static bool replay_next(struct assist_call *c, uint64_t addr, unsigned size, bool write, bool pio,
                        uint64_t *value)
{
    struct hv_vcpu *v = c->vcpu;
    if (c->replay >= v->alog_len)
        return false;
    struct hv_assist_access *a = &v->alog[c->replay];
    if (a->done && a->gpa == addr && a->size == size && a->write == write && a->pio == pio) {
        c->replay++;
        if (!write)
            *value = a->value;
        return true;
    }
    /* The guest changed the instruction under us: start over. */
    v->alog_len = 0;
    c->replay = 0;
    return false;
}

static hv_status_t embedder_access(struct assist_call *c, uint64_t addr, unsigned size, bool write,
                                   bool pio, uint64_t *value)
{
    struct hv_vcpu *v = c->vcpu;
    if (replay_next(c, addr, size, write, pio, value))
        return HV_OK;
    if (v->alog_len == HV_ASSIST_LOG) {
        c->handler_failed = true; /* more accesses than any emulated instruction makes */
        c->fail_gpa = addr;
        return HV_ERR_LIMIT;
    }
    struct hv_assist_access *a = &v->alog[v->alog_len++];
    a->gpa = addr;
    a->size = (uint8_t)size;
    a->write = write;
    a->pio = pio;
    a->done = 0;
    a->value = write ? *value : 0;
    c->need_embedder = true;
    return HV_ERR_AGAIN;
}

/*
 * After a handler's access (an MMIO region's or a port range's): a
 * failure ends the step; a success is remembered, in case an embedder
 * access of the same iteration follows and the retry must replay it.
 */
static hv_status_t handler_done(struct assist_call *c, hv_status_t st, uint64_t addr, unsigned size,
                                bool write, bool pio, uint64_t value)
{
    if (st != HV_OK) {
        c->handler_failed = true;
        c->fail_gpa = addr;
        return st;
    }
    struct hv_assist_access *a = &c->last_handler;
    a->gpa = addr;
    a->value = value;
    a->size = (uint8_t)size;
    a->write = write;
    a->pio = pio;
    a->done = 1;
    c->have_last_handler = true;
    c->last_handler_rcx = c->regs->gpr[HV_EMU_RCX];
    return HV_OK;
}

static hv_status_t cb_mmio(void *opaque, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    struct assist_call *c = opaque;
    struct mmio_region *r = find_region_any(c->av, gpa);
    if (!r) {
        c->unclaimed = true;
        c->fail_gpa = gpa;
        return HV_ERR_NOT_FOUND;
    }
    if (!r->handler)
        return embedder_access(c, gpa, size, write, false, value);
    if (replay_next(c, gpa, size, write, false, value))
        return HV_OK;
    hv_status_t st = r->handler(handler_arg(c->av, r, c->vcpu), gpa, size, write, value);
    return handler_done(c, st, gpa, size, write, false, *value);
}

/*
 * An embedder access aborted the step: if a handler access of the same
 * iteration came before it, log it in front so that the retry replays it
 * instead of calling the handler again. (An iteration makes at most one
 * memory access before the one that can go to the embedder.)
 */
static void log_handler_access(struct assist_call *c)
{
    struct hv_vcpu *v = c->vcpu;
    if (!c->have_last_handler || c->last_handler_rcx != c->regs->gpr[HV_EMU_RCX] ||
        v->alog_len == 0 || v->alog_len == HV_ASSIST_LOG)
        return;
    v->alog[v->alog_len] = v->alog[v->alog_len - 1];
    v->alog[v->alog_len - 1] = c->last_handler;
    v->alog_len++;
}

/* An element of INS/OUTS: a port range's handler (core/pio.h), else the
   embedder's exit. */
static hv_status_t cb_pio(void *opaque, uint16_t port, unsigned size, bool write, uint64_t *value)
{
    struct assist_call *c = opaque;
    const struct hv_pio_range *r = hv_pio_find(c->vcpu, port, size);
    if (!r)
        return embedder_access(c, port, size, write, true, value);
    if (replay_next(c, port, size, write, true, value))
        return HV_OK;
    uint32_t v = write ? hv_pio_out_data(*value, size) : 0;
    hv_status_t st = r->handler(r->opaque, port, size, write, &v);
    if (st == HV_OK && !write)
        *value = hv_pio_out_data(v, size); /* the element's bytes only */
    return handler_done(c, st, port, size, write, true, *value);
}

static hv_status_t cb_walk(void *opaque, const struct hv_emu_env *env,
                           const struct hv_emu_regs *regs, uint64_t la, unsigned access,
                           struct hv_walk_result *res)
{
    struct assist_call *c = opaque;
    return hv_walk_memoized(c->vcpu, env, regs, la, access, res);
}

static const struct hv_emu_ops assist_ops = {
    .gpa_read = cb_gpa_read,
    .gpa_write = cb_gpa_write,
    .is_ram = cb_is_ram,
    .mmio = cb_mmio,
    .pio = cb_pio,
    .walk = cb_walk,
};

/* --- state conversion -------------------------------------------------- */

#define ASSIST_STATE (HV_STATE_GPR | HV_STATE_SEG | HV_STATE_CR)

static void to_emu_regs(const struct hv_vcpu_state *st, struct hv_emu_regs *r)
{
    hv_memset(r, 0, sizeof(*r));
    hv_memcpy(r->gpr, st->gpr, sizeof(r->gpr));
    r->rip = st->rip;
    r->rflags = st->rflags;
    r->cr0 = st->cr0;
    r->cr3 = st->cr3;
    r->cr4 = st->cr4;
    r->efer = st->efer;
    /* hv_seg and hv_emu_sreg share the encoding order ES CS SS DS FS GS,
       and the attribute layout (VMCB format); unusable means not present. */
    for (int i = 0; i < HV_EMU_NSEG; i++) {
        r->seg[i].base = st->seg[i].base;
        r->seg[i].limit = st->seg[i].limit;
        r->seg[i].sel = st->seg[i].selector;
        r->seg[i].attr = st->seg[i].attr & 0xfffu;
        if (st->seg[i].attr & HV_SEG_UNUSABLE)
            r->seg[i].attr &= (uint16_t)~HV_SEG_P;
    }
    r->cpl = (st->seg[HV_SEG_SS].attr >> HV_SEG_DPL_SHIFT) & 3;
}

/* The guest's view of the physical address width and 1 GiB pages. */
static void env_init(struct hv_emu_env *env, struct assist_call *call, struct hv_vcpu *vcpu)
{
    hv_memset(env, 0, sizeof(*env));
    env->ops = &assist_ops;
    env->opaque = call;
    hv_vm_paging_view(vcpu->vm, &env->maxphyaddr, &env->gbpages);
}

/* The fetch registers of a state read with HV_STATE_SEG | HV_STATE_CR. */
static void fetch_regs_of(const struct hv_vcpu_state *st, uint64_t rip, struct hv_fetch_regs *fr)
{
    fr->rip = rip;
    fr->rflags = st->rflags;
    fr->cr0 = st->cr0;
    fr->cr3 = st->cr3;
    fr->cr4 = st->cr4;
    fr->efer = st->efer;
    fr->cs_base = st->seg[HV_SEG_CS].base;
    fr->cs_limit = st->seg[HV_SEG_CS].limit;
    fr->cs_attr = (uint16_t)st->seg[HV_SEG_CS].attr;
    fr->cpl = (st->seg[HV_SEG_SS].attr >> HV_SEG_DPL_SHIFT) & 3;
}

size_t hv_assist_fetch_insn(struct hv_vcpu *vcpu, uint8_t *buf, size_t max)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    struct hv_vcpu_state st;
    struct hv_fetch_regs fr;

    if (be->get_fetch_regs) {
        be->get_fetch_regs(vcpu, &fr);
    } else {
        be->get_state(vcpu, HV_STATE_SEG | HV_STATE_CR, &st);
        fetch_regs_of(&st, be->get_rip(vcpu), &fr);
    }
    return hv_fetch_insn(vcpu, &fr, buf, max);
}

static void fill_exit_for_access(struct hv_exit *exit, const struct hv_assist_access *a,
                                 uint64_t rip)
{
    hv_memset(exit, 0, sizeof(*exit));
    exit->rip = rip;
    if (a->pio) {
        exit->reason = HV_EXIT_IO;
        exit->io.port = (uint16_t)a->gpa;
        exit->io.size = a->size;
        exit->io.write = a->write;
        exit->io.data = a->value;
    } else {
        exit->reason = HV_EXIT_MMIO;
        exit->mmio.gpa = a->gpa;
        exit->mmio.size = a->size;
        exit->mmio.write = a->write;
        exit->mmio.data = a->value;
    }
}

void hv_assist_complete(struct hv_vcpu *vcpu, const struct hv_exit *exit)
{
    if (vcpu->alog_len == 0)
        return;
    struct hv_assist_access *a = &vcpu->alog[vcpu->alog_len - 1];
    if (!a->write) {
        uint64_t v = a->pio ? exit->io.data : exit->mmio.data;
        a->value = a->size == 8 ? v : v & ((1ull << (a->size * 8)) - 1);
    }
    a->done = 1;
}

/* Registers the emulator may have changed: GPRs, RIP, RFLAGS. */
static void write_back(struct hv_vcpu *vcpu, struct hv_vcpu_state *st,
                       const struct hv_emu_regs *regs)
{
    hv_memcpy(st->gpr, regs->gpr, sizeof(st->gpr));
    st->rip = regs->rip;
    st->rflags = regs->rflags;
    vcpu->vm->ctx->be->set_state(vcpu, HV_STATE_GPR, st);
}

bool hv_assist_emulate(struct hv_vcpu *vcpu, const struct hv_vexit *vx, struct hv_exit *exit)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    struct hv_vcpu_state st;
    struct hv_emu_regs regs;
    struct hv_emu_result res;
    struct assist_call call = {.vcpu = vcpu, .av = vcpu->vm->assist, .regs = &regs};
    bool retry = vcpu->alog_len != 0;

    be->get_state(vcpu, ASSIST_STATE, &st);
    uint64_t rflags0 = st.rflags; /* TF when the instruction started */
    to_emu_regs(&st, &regs);
    struct hv_emu_env env;
    env_init(&env, &call, vcpu);
    bool pio_exit = vx && vx->kind == HV_VX_IO;
    /* Embedder round trips: one iteration per step (see the file comment). */
    env.rep_budget = (retry || pio_exit) ? 1 : 0;
    /* The CPU checked I/O permission (IOPL, TSS bitmap) before the exit. */
    env.io_checked = pio_exit;
    const uint8_t *pre = NULL;
    size_t pre_len = 0;
    uint8_t fetched[15];
    if (vx && vx->kind == HV_VX_NPF && vx->npf.insn_count) {
        pre = vx->npf.insn;
        pre_len = vx->npf.insn_count;
    } else {
        /* The bytes of the code page through the memoized translation;
           the emulator fetches any beyond the page itself (so a fault
           there is raised only when the instruction really reaches it). */
        struct hv_fetch_regs fr;
        fetch_regs_of(&st, st.rip, &fr);
        uint64_t la = st.rip;
        if (!((st.efer & HV_EMU_EFER_LMA) && (fr.cs_attr & HV_SEG_L)))
            la = (fr.cs_base + (st.rip & 0xffffffffu)) & 0xffffffffu;
        size_t room = HV_PAGE_SIZE - (size_t)(la & (HV_PAGE_SIZE - 1));
        pre_len = hv_fetch_insn(vcpu, &fr, fetched, HV_MIN(sizeof(fetched), room));
        pre = fetched;
    }
    hv_status_t s = hv_emu_step(&env, &regs, pre, pre_len, &res);

    if (s == HV_ERR_AGAIN && call.need_embedder) {
        log_handler_access(&call);
        /* Keep the REP iterations already completed (their handler
           accesses must not be repeated); the retry resumes from here. */
        write_back(vcpu, &st, &regs);
        fill_exit_for_access(exit, &vcpu->alog[vcpu->alog_len - 1], st.rip);
        vcpu->completion = HV_COMPLETE_EMULATION;
        return true;
    }
    vcpu->alog_len = 0;
    if (s != HV_OK || call.handler_failed || call.unclaimed) {
        hv_memset(exit, 0, sizeof(*exit));
        exit->rip = st.rip;
        if (call.unclaimed) {
            /* The instruction reached unmapped memory outside every region. */
            exit->reason = HV_EXIT_SLAT_FAULT;
            exit->slat.gpa = call.fail_gpa;
        } else {
            exit->reason = HV_EXIT_UNHANDLED;
            exit->raw_code = vx ? vx->raw_code : 0;
            exit->raw_info1 = s;
            exit->raw_info2 = call.fail_gpa;
        }
        return true;
    }
    switch (res.outcome) {
    case HV_EMU_DONE:
        /* Completed: a single-step trap if TF was set when it started. */
        write_back(vcpu, &st, &regs);
        hv_step_trap(vcpu, rflags0);
        return false;
    case HV_EMU_RESUME:
        /* Not completed (a REP that goes on): no trap yet. */
        write_back(vcpu, &st, &regs);
        return false;
    case HV_EMU_EXCEPTION:
        /* A REP faulting midway keeps its completed iterations (RIP unchanged). */
        write_back(vcpu, &st, &regs);
        if (vcpu->queued_exc.type == HV_EVENT_NONE) {
            vcpu->queued_exc.type = HV_EVENT_EXCEPTION;
            vcpu->queued_exc.vector = res.vector;
            vcpu->queued_exc.has_error_code = res.has_error_code;
            vcpu->queued_exc.error_code = res.error_code;
            vcpu->queued_exc.cr2 = res.cr2;
        }
        return false;
    case HV_EMU_UNSUPPORTED:
    case HV_EMU_NOT_RAM:
    default:
        hv_memset(exit, 0, sizeof(*exit));
        exit->rip = st.rip;
        /* A string I/O instruction the emulator cannot carry out (e.g. a
           segment it refuses) is reported raw; an MMIO one as the fault. */
        exit->reason = (vx && vx->kind == HV_VX_IO) ? HV_EXIT_UNHANDLED : HV_EXIT_SLAT_FAULT;
        if (vx) {
            exit->raw_code = vx->raw_code;
            exit->raw_info1 = vx->raw_info1;
            exit->raw_info2 = vx->raw_info2;
            if (vx->kind == HV_VX_NPF) {
                exit->slat.gpa = vx->npf.gpa;
                exit->slat.gva = vx->npf.gva;
                exit->slat.access = vx->npf.access;
                exit->slat.gva_valid = vx->npf.gva_valid;
                exit->slat.during_walk = vx->npf.during_walk;
            }
        }
        if (res.outcome == HV_EMU_NOT_RAM) {
            exit->slat.gpa = res.gpa;
            exit->slat.during_walk = 1;
        }
        return true;
    }
}

/* --- the fast path of plain MOV to and from MMIO -------------------------- */

/*
 * Decode `[REX] 8B /r` (load) or `[REX] 89 /r` (store) with a memory
 * operand in 64-bit mode (SDM Vol. 2A 2.1-2.2: ModRM, SIB, displacement,
 * RIP-relative addressing; 64-bit addresses, no segment base without an
 * FS/GS prefix). Anything else (prefixes, other opcodes, register
 * operands, a truncated fetch) returns false.
 */
struct fast_mov {
    bool write;
    uint8_t reg;  /* enum hv_gpr */
    uint8_t size; /* 4 or 8 */
    uint8_t len;
    uint64_t ea;
};

static bool decode_mov(const uint8_t *b, size_t n, const uint64_t *g, uint64_t rip,
                       struct fast_mov *m)
{
    unsigned i = 0, rex = 0, dsize = 0;
    if (n && (b[0] & 0xf0) == 0x40)
        rex = b[i++];
    if (i + 2 > n || (b[i] != 0x8b && b[i] != 0x89))
        return false;
    m->write = b[i++] == 0x89;
    uint8_t modrm = b[i++];
    unsigned mod = modrm >> 6, rm = modrm & 7;
    m->reg = (uint8_t)(((modrm >> 3) & 7) | ((rex & 4) << 1));
    m->size = (rex & 8) ? 8 : 4;
    if (mod == 3)
        return false;
    uint64_t ea = 0;
    bool riprel = false;
    if (rm == 4) {
        if (i >= n)
            return false;
        uint8_t sib = b[i++];
        unsigned idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
        if (idx != 4)
            ea += g[idx] << (sib >> 6);
        if ((sib & 7) == 5 && mod == 0)
            dsize = 4;
        else
            ea += g[(sib & 7) | ((rex & 1) << 3)];
    } else if (rm == 5 && mod == 0) {
        riprel = true;
        dsize = 4;
    } else {
        ea += g[rm | ((rex & 1) << 3)];
    }
    if (mod == 1)
        dsize = 1;
    else if (mod == 2)
        dsize = 4;
    if (i + dsize > n)
        return false;
    if (dsize == 1) {
        ea += (uint64_t)(int64_t)(int8_t)b[i];
    } else if (dsize == 4) {
        uint32_t d = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 |
                     (uint32_t)b[i + 3] << 24;
        ea += (uint64_t)(int64_t)(int32_t)d;
    }
    i += dsize;
    m->len = (uint8_t)i;
    m->ea = riprel ? ea + rip + i : ea;
    return true;
}

/*
 * The data memo (core/insn_fetch.c) checked inline for the fast path's
 * operand: its guest-physical address when the memo still holds for this
 * page and access (the same test hv_walk_memoized() applies first).
 */
static bool data_memo_hit(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr, uint64_t ea,
                          bool write, uint64_t *gpa)
{
    const struct hv_walk_memo *dm = &vcpu->data;
    uint64_t key =
        hv_memo_key(fr->cr0, fr->cr4, fr->efer, fr->cpl, write ? HV_WALK_WRITE : HV_WALK_READ,
                    (fr->rflags & HV_EMU_RFLAGS_AC) != 0);
    if (!hv_memo_valid(dm, vcpu->vm, key, fr->cr3, ea >> 12))
        return false;
    *gpa = dm->gpa_page | (ea & (HV_PAGE_SIZE - 1));
    return true;
}

int hv_assist_fast(struct hv_vcpu *vcpu, const struct hv_vexit *vx, const struct mmio_region *rg,
                   const struct hv_fetch_regs *fr, struct hv_exit *exit, uint64_t *resume)
{
    struct hv_assist_vm *av = vcpu->vm->assist;
    struct fast_mov m;
    uint8_t buf[8]; /* REX, opcode, ModRM, SIB, disp32: at most 8 bytes */
    const uint8_t *b = buf;
    size_t n;

    /* A retry replays logged accesses: the full path's business. */
    if (!av || vcpu->alog_len)
        return HV_FAST_NONE;
    if (!(fr->efer & HV_EMU_EFER_LMA) || !(fr->cs_attr & HV_SEG_L))
        return HV_FAST_NONE;
    if (vx->npf.insn_count) {
        b = vx->npf.insn;
        n = vx->npf.insn_count;
    } else {
        /* Within the code page only: a fetch fault beyond the instruction
           must not be taken (the full path raises it when it is real). */
        size_t room = HV_PAGE_SIZE - (size_t)(fr->rip & (HV_PAGE_SIZE - 1));
        const uint8_t *page = room >= sizeof(buf) ? hv_code_memo(vcpu, fr->cr0, fr->cr3, fr->cr4,
                                                                 fr->efer, fr->cpl, fr->rip >> 12)
                                                  : NULL;
        if (page) {
            /* The memoized code page holds (the common case): the eight
               bytes straight from it, as hv_fetch_insn would copy them. */
            b = page + (fr->rip & (HV_PAGE_SIZE - 1));
            n = sizeof(buf);
        } else {
            n = hv_fetch_insn(vcpu, fr, buf, HV_MIN(sizeof(buf), room));
        }
    }
    if (!decode_mov(b, n, vcpu->gpr, fr->rip, &m))
        return HV_FAST_NONE;
    /* The operand's guest-physical address: the one the CPU faulted on
       when the fault is this MOV's data access: not a fetch or a guest
       page-table access, the same direction, the same offset within the
       page, and the same linear address where VMX reports it (NPF
       EXITINFO2 and the EPT violation's guest-physical address are
       byte-exact, APM Vol. 2 15.25.6, SDM Vol. 3C 28.2.1). The CPU's own
       walk of the guest's tables then granted the access: no second walk.
       Otherwise the memo of the last data walk, or a walk. */
    uint64_t gpa = vx->npf.gpa;
    uint32_t want = m.write ? HV_ACCESS_WRITE : HV_ACCESS_READ;
    bool cpu_gpa = !vx->npf.during_walk && vx->npf.access == want &&
                   ((m.ea ^ gpa) & (HV_PAGE_SIZE - 1)) == 0 &&
                   (!vx->npf.gva_valid || vx->npf.gva == m.ea);
    /* Faults (#GP/#SS non-canonical, #AC, #PF) and page-crossing accesses
       are left to the full path, which raises them exactly. An access the
       CPU made was canonical (a non-canonical one faults before any
       translation, SDM Vol. 1 3.3.7.1). (The non-canonical range starts
       and ends at page boundaries: the last byte of an access within one
       page is canonical with the first.) */
    uint64_t last = m.ea + m.size - 1;
    if ((m.ea >> 12) != (last >> 12) || (!cpu_gpa && !hv_emu_canonical(m.ea, fr->cr4)))
        return HV_FAST_NONE;
    if (fr->cpl == 3 && (fr->cr0 & HV_EMU_CR0_AM) && (fr->rflags & HV_EMU_RFLAGS_AC))
        return HV_FAST_NONE;
    if (!cpu_gpa && !data_memo_hit(vcpu, fr, m.ea, m.write, &gpa)) {
        struct hv_emu_regs r;
        struct assist_call call = {.vcpu = vcpu, .av = av, .regs = &r};
        struct hv_emu_env env = {.ops = &assist_ops, .opaque = &call}; /* the VM's view */
        struct hv_walk_result w;
        r.cr0 = fr->cr0;
        r.cr3 = fr->cr3;
        r.cr4 = fr->cr4;
        r.efer = fr->efer;
        r.rflags = fr->rflags;
        r.cpl = fr->cpl;
        r.pdpte_valid = false;
        r.pkru = 0;
        r.pkrs = 0;
        if (hv_walk_memoized(vcpu, &env, &r, m.ea, m.write ? HV_WALK_WRITE : HV_WALK_READ, &w) !=
                HV_OK ||
            w.outcome != HV_WALK_OK)
            return HV_FAST_NONE; /* a failed walk changed nothing */
        gpa = w.gpa;
    }
    /* The page the CPU faulted on, in a region (rg holds the CPU's gpa):
       else the full path decides. */
    if (!cpu_gpa && ((gpa >> 12) != (vx->npf.gpa >> 12) ||
                     (!hv_mmio_region_holds(rg, gpa) && !(rg = find_region(av, gpa)))))
        return HV_FAST_NONE;

    uint64_t mask = m.size == 8 ? ~0ull : 0xffffffffull;
    uint64_t value = m.write ? vcpu->gpr[m.reg] & mask : 0;
    uint64_t next = fr->rip + m.len;
    if (rg->handler) {
        hv_status_t st = rg->handler(rg->opaque, gpa, m.size, m.write, &value);
        if (st != HV_OK) {
            if (st == HV_ERR_AGAIN && rg->handler == av->vcpu_fast)
                return HV_FAST_NONE; /* declined, nothing changed: the full path's */
            exit->reason = HV_EXIT_UNHANDLED;
            exit->reserved = 0;
            exit->rip = fr->rip;
            exit->raw_code = vx->raw_code;
            exit->raw_info1 = st;
            exit->raw_info2 = gpa;
            return HV_FAST_EXIT;
        }
        if (!m.write)
            vcpu->gpr[m.reg] = value & mask; /* a 32-bit load zero-extends (SDM Vol. 1 3.4.1.1) */
        *resume = next;
        return HV_FAST_DONE;
    }
    /* The embedder completes it; the next hv_vcpu_run() writes the loaded
       value and advances RIP without decoding again. */
    /* The header and the member whole: the record is not cleared first
       (core/run.c), and the full path's fill reports no raw exit. */
    exit->reason = HV_EXIT_MMIO;
    exit->reserved = 0;
    exit->raw_code = 0;
    exit->raw_info1 = 0;
    exit->raw_info2 = 0;
    exit->rip = fr->rip;
    exit->mmio.gpa = gpa;
    /* size, write and the six reserved bytes: one little-endian word. */
    typedef uint64_t __attribute__((may_alias)) word_t;
    _Static_assert(
        offsetof(struct hv_exit, mmio.write) == offsetof(struct hv_exit, mmio.size) + 1 &&
            offsetof(struct hv_exit, mmio.reserved) == offsetof(struct hv_exit, mmio.size) + 2 &&
            sizeof(exit->mmio.reserved) == 6 && offsetof(struct hv_exit, mmio.size) % 8 == 0,
        "mmio size/write/reserved share one word");
    *(word_t *)(void *)&exit->mmio.size = (uint64_t)m.size | (uint64_t)m.write << 8;
    exit->mmio.data = value;
    vcpu->completion = m.write ? HV_COMPLETE_ADVANCE : HV_COMPLETE_MMIO_LOAD;
    vcpu->completion_rip = next;
    vcpu->completion_size = m.size;
    vcpu->completion_reg = m.reg;
    if (fr->rflags & HV_RFLAGS_TF) /* only on the full path: core/run.c note_step */
        vcpu->completion_step = true;
    return HV_FAST_EXIT;
}

bool hv_assist_mmio(struct hv_vcpu *vcpu, const struct hv_vexit *vx, const struct mmio_region *rg,
                    struct hv_exit *exit)
{
    /* The per-vCPU region's handler gets the vCPU: a copy that says so
       (hv_assist_fast calls rg->handler with rg->opaque). */
    const struct hv_assist_vm *av = vcpu->vm->assist;
    struct mmio_region mine;
    if (rg == &av->vcpu_region) {
        mine = *rg;
        mine.opaque = vcpu;
        rg = &mine;
    }
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    if (be->get_fetch_regs) {
        struct hv_fetch_regs fr;
        uint64_t next;
        be->get_fetch_regs(vcpu, &fr);
        int fast = hv_assist_fast(vcpu, vx, rg, &fr, exit, &next);
        if (fast == HV_FAST_EXIT)
            return true;
        if (fast == HV_FAST_DONE) {
            be->set_rip(vcpu, next);
            hv_step_trap(vcpu, fr.rflags);
            return false;
        }
    }
    return hv_assist_emulate(vcpu, vx, exit);
}

int hv_fast_npf(struct hv_vcpu *vcpu, const struct hv_vexit *vx, const struct mmio_region *rg,
                const struct hv_fetch_regs *fr, uint64_t *resume)
{
    /* The MMIO cases of the dispatcher (core/run.c), through the fast path
       above only; whatever it does not finish takes the full path again. */
    if (vx->npf.present)
        return HV_FAST_NONE;
    /* Not spurious: the page was unmapped when last checked, and the SLAT
       has not changed since (its generation moves after every change). A
       change in progress counts as after the fault, which is then an MMIO
       access from before that change. Otherwise walk, and remember. */
    uint64_t page = vx->npf.gpa >> 12;
    uint64_t gen = hv_slat_gen(&vcpu->vm->slat);
    if (page != vcpu->hole_page || gen != vcpu->hole_gen) {
        if (hv_npf_spurious(vcpu, vx))
            return HV_FAST_NONE;
        vcpu->hole_page = page;
        vcpu->hole_gen = gen;
    }
    /* The per-vCPU region through its fast handler, which gets the vCPU;
       what it changed needs the event delivery before the re-entry. */
    const struct hv_assist_vm *av = vcpu->vm->assist;
    struct mmio_region mine;
    bool own = rg == &av->vcpu_region;
    if (own) {
        mine = (struct mmio_region){rg->gpa, rg->len, av->vcpu_fast, vcpu};
        rg = &mine;
    }
    int r = hv_assist_fast(vcpu, vx, rg, fr, vcpu->run_exit, resume);
    if (r == HV_FAST_EXIT)
        vcpu->exit_ready = true;
    return own && r == HV_FAST_DONE ? HV_FAST_DONE_EVENTS : r;
}

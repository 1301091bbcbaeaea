/*
 * String instructions MOVS, STOS, LODS, INS, OUTS with and without REP
 * (SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ" and each instruction).
 *
 * Each element is translated on its own, so strings may cross pages and
 * mix RAM and MMIO. A REP instruction runs at most the iteration budget
 * per call; it then stops with RIP still at the instruction and RCX, RSI
 * and RDI holding the progress, the state an interrupted REP leaves on a
 * real CPU, so the guest resumes it by re-executing it.
 */
#include "emu/internal.h"

#include "core/util.h"

/* Write an address-sized register: 16-bit keeps the upper bits, 32-bit zero-extends. */
static void set_areg(struct emu_ctx *c, unsigned reg, unsigned adsize, uint64_t val)
{
    uint64_t *g = &c->regs->gpr[reg];
    if (adsize == 2)
        *g = (*g & ~0xffffull) | (val & 0xffff);
    else
        *g = val & emu_size_mask(adsize);
}

/* One element; updates rSI/rDI only when it completed. */
static emu_rc string_element(struct emu_ctx *c, const struct emu_insn *d, uint64_t delta)
{
    struct hv_emu_regs *r = c->regs;
    uint64_t amask = emu_size_mask(d->adsize), v = 0;
    bool src = d->kind == K_MOVS || d->kind == K_LODS || d->kind == K_OUTS;
    bool dst = d->kind == K_MOVS || d->kind == K_STOS || d->kind == K_INS;
    uint16_t port = (uint16_t)r->gpr[HV_EMU_RDX];
    struct emu_mem ms, md;
    hv_status_t st = HV_OK;
    emu_rc rc;

    /* Both operands are translated before either is touched. */
    if (src) {
        rc = emu_mem_prepare(c, d->seg, r->gpr[HV_EMU_RSI] & amask, d->opsize, false, &ms);
        if (rc != EMU_OK)
            return rc;
    }
    if (dst) {
        /* The destination is always ES:rDI, whatever the prefixes say. */
        rc = emu_mem_prepare(c, HV_EMU_ES, r->gpr[HV_EMU_RDI] & amask, d->opsize, true, &md);
        if (rc != EMU_OK)
            return rc;
    }

    if (src) {
        rc = emu_mem_read(c, &ms, &v);
        if (rc != EMU_OK)
            return rc;
    } else if (d->kind == K_STOS) {
        v = emu_reg_read(c, HV_EMU_RAX, d->opsize, false);
    } else { /* INS */
        st = c->ops->pio(c->env->opaque, port, d->opsize, false, &v);
        v &= emu_size_mask(d->opsize);
    }
    if (st == HV_OK && d->kind == K_OUTS)
        st = c->ops->pio(c->env->opaque, port, d->opsize, true, &v);
    if (st != HV_OK) {
        c->status = st;
        return EMU_FAIL;
    }
    if (dst) {
        rc = emu_mem_write(c, &md, v);
        if (rc != EMU_OK)
            return rc;
    }
    if (d->kind == K_LODS)
        emu_reg_write(c, HV_EMU_RAX, d->opsize, false, v);

    if (src)
        set_areg(c, HV_EMU_RSI, d->adsize, r->gpr[HV_EMU_RSI] + delta);
    if (dst)
        set_areg(c, HV_EMU_RDI, d->adsize, r->gpr[HV_EMU_RDI] + delta);
    return EMU_OK;
}

/*
 * INS/OUTS outside real mode need CPL <= IOPL, or else the TSS I/O bitmap
 * (SDM Vol. 1 19.5), which this module cannot read: unless the caller
 * vouches that the CPU already checked (an I/O exit), decline.
 */
static bool io_allowed(const struct emu_ctx *c)
{
    const struct hv_emu_regs *r = c->regs;
    unsigned iopl = (unsigned)((r->rflags >> 12) & 3);

    if (!c->ops->pio)
        return false;
    if (c->env->io_checked || !(r->cr0 & HV_EMU_CR0_PE))
        return true;
    return !(r->rflags & HV_EMU_RFLAGS_VM) && r->cpl <= iopl;
}

emu_rc emu_exec_string(struct emu_ctx *c, const struct emu_insn *d)
{
    struct hv_emu_regs *r = c->regs;
    uint64_t amask = emu_size_mask(d->adsize);
    uint64_t delta = (r->rflags & HV_EMU_RFLAGS_DF) ? (uint64_t)0 - d->opsize : d->opsize;
    uint32_t budget = c->env->rep_budget ? c->env->rep_budget : HV_EMU_REP_BUDGET_DEFAULT;
    emu_rc rc;

    if ((d->kind == K_INS || d->kind == K_OUTS) && !io_allowed(c)) {
        c->res->outcome = HV_EMU_UNSUPPORTED;
        return EMU_STOP;
    }
    for (;;) {
        uint64_t count = r->gpr[HV_EMU_RCX] & amask;
        if (d->rep && count == 0)
            break;
        if (c->res->iterations == budget) {
            c->res->outcome = HV_EMU_RESUME;
            return EMU_STOP;
        }
        rc = string_element(c, d, delta);
        if (rc != EMU_OK)
            return rc;
        c->res->iterations++;
        if (!d->rep)
            break;
        set_areg(c, HV_EMU_RCX, d->adsize, count - 1);
    }
    emu_advance_rip(c, d);
    return EMU_OK;
}

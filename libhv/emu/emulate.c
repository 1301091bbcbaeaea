/*
 * hv_emu_step(): mode selection, decode, execute; and the register helpers
 * shared by the instruction files.
 */
#include "emu/internal.h"

#include "core/util.h"

uint64_t emu_size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* Without REX, byte registers 4..7 are AH, CH, DH, BH (SDM Vol. 1 3.4.1.1). */
static bool high_byte(unsigned reg, unsigned size, bool rex)
{
    return size == 1 && !rex && reg >= 4 && reg < 8;
}

uint64_t emu_reg_read(const struct emu_ctx *c, unsigned reg, unsigned size, bool rex)
{
    if (high_byte(reg, size, rex))
        return (c->regs->gpr[reg - 4] >> 8) & 0xff;
    return c->regs->gpr[reg & 15] & emu_size_mask(size);
}

/* 8/16-bit writes merge; 32-bit writes zero-extend (SDM Vol. 1 3.4.1.1). */
void emu_reg_write(struct emu_ctx *c, unsigned reg, unsigned size, bool rex, uint64_t val)
{
    uint64_t *g;

    if (high_byte(reg, size, rex)) {
        g = &c->regs->gpr[reg - 4];
        *g = (*g & ~0xff00ull) | ((val & 0xff) << 8);
        return;
    }
    g = &c->regs->gpr[reg & 15];
    if (size < 4)
        *g = (*g & ~emu_size_mask(size)) | (val & emu_size_mask(size));
    else
        *g = val & emu_size_mask(size);
}

void emu_advance_rip(struct emu_ctx *c, const struct emu_insn *insn)
{
    uint64_t rip = c->regs->rip + insn->len;
    if (!c->long64)
        rip &= c->cs_size == 2 ? 0xffffu : 0xffffffffu;
    c->regs->rip = rip;
}

hv_status_t hv_emu_step(const struct hv_emu_env *env, struct hv_emu_regs *regs,
                        const uint8_t *prefetched, size_t prefetched_len, struct hv_emu_result *res)
{
    const struct hv_emu_ops *ops;
    struct emu_ctx c;
    struct emu_insn d;
    emu_rc rc;

    if (!env || !regs || !res || (!prefetched && prefetched_len))
        return HV_ERR_INVALID_ARG;
    ops = env->ops;
    if (!ops || !ops->gpa_read || !ops->gpa_write || !ops->is_ram || !ops->mmio)
        return HV_ERR_INVALID_ARG;
    if (env->maxphyaddr < 32 || env->maxphyaddr > 52)
        return HV_ERR_INVALID_ARG;
    hv_memset(res, 0, sizeof(*res));
    hv_memset(&c, 0, sizeof(c));
    c.env = env;
    c.ops = ops;
    c.regs = regs;
    c.res = res;
    c.pre = prefetched;
    c.pre_len = prefetched_len;

    /* Operating mode (SDM Vol. 3A 2.2): real, virtual-8086, protected, 64-bit. */
    if (!(regs->cr0 & HV_EMU_CR0_PE) || (regs->rflags & HV_EMU_RFLAGS_VM)) {
        c.realish = true;
        c.cs_size = 2;
    } else if ((regs->efer & HV_EMU_EFER_LMA) && (regs->seg[HV_EMU_CS].attr & HV_EMU_SEG_L)) {
        c.long64 = true;
        c.cs_size = 8;
    } else {
        c.cs_size = (regs->seg[HV_EMU_CS].attr & HV_EMU_SEG_DB) ? 4 : 2;
    }

    rc = emu_decode(&c, &d);
    if (rc == EMU_OK) {
        res->insn_len = d.len;
        rc = emu_exec(&c, &d);
    }
    if (rc == EMU_FAIL)
        return c.status;
    return HV_OK;
}

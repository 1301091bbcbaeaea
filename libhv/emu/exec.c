/*
 * Semantics of the non-string instructions of the subset (SDM Vol. 2:
 * ADD..CMP, TEST, XCHG, MOV, MOVZX, MOVSX/MOVSXD, BT/BTS/BTR/BTC).
 *
 * Every memory operand is translated before any access is made, so a
 * fault leaves both the guest state and the devices untouched; registers
 * and flags are written only after the memory side succeeded.
 */
#include "emu/internal.h"

/* Value of a non-memory operand. */
static uint64_t opnd_value(const struct emu_ctx *c, const struct emu_insn *d, unsigned which,
                           unsigned size)
{
    switch (which) {
    case O_G:
        return emu_reg_read(c, d->reg, size, d->rex);
    case O_E:
        return emu_reg_read(c, d->rm, size, d->rex);
    case O_ACC:
        return emu_reg_read(c, HV_EMU_RAX, size, d->rex);
    default: /* O_IMM */
        return d->imm & emu_size_mask(size);
    }
}

static void opnd_set(struct emu_ctx *c, const struct emu_insn *d, unsigned which, unsigned size,
                     uint64_t val)
{
    unsigned reg = which == O_G ? d->reg : which == O_E ? d->rm : HV_EMU_RAX;
    emu_reg_write(c, reg, size, d->rex, val);
}

/* Read operand @p which; a memory operand is prepared in *m first. */
static emu_rc opnd_read(struct emu_ctx *c, const struct emu_insn *d, unsigned which, unsigned size,
                        bool write, struct emu_mem *m, uint64_t *val)
{
    emu_rc rc;

    if (which != O_E || !d->mem) {
        *val = opnd_value(c, d, which, size);
        return EMU_OK;
    }
    rc = emu_mem_prepare(c, d->seg, d->ea, size, write, m);
    if (rc != EMU_OK)
        return rc;
    return emu_mem_read(c, m, val);
}

static emu_rc exec_alu(struct emu_ctx *c, const struct emu_insn *d)
{
    bool writes = d->alu_op != ALU_CMP && d->alu_op != ALU_TEST;
    uint64_t a, b, r, flags = c->regs->rflags;
    struct emu_mem m;
    emu_rc rc;

    rc = opnd_read(c, d, d->dst, d->opsize, writes, &m, &a);
    if (rc == EMU_OK)
        rc = opnd_read(c, d, d->src, d->opsize, false, &m, &b);
    if (rc != EMU_OK)
        return rc;
    r = emu_alu(d->alu_op, d->opsize, a, b, &flags);
    if (writes) {
        if (d->dst == O_E && d->mem) {
            rc = emu_mem_write(c, &m, r);
            if (rc != EMU_OK)
                return rc;
        } else {
            opnd_set(c, d, d->dst, d->opsize, r);
        }
    }
    c->regs->rflags = flags;
    return EMU_OK;
}

static emu_rc exec_xchg(struct emu_ctx *c, const struct emu_insn *d)
{
    uint64_t g = opnd_value(c, d, O_G, d->opsize), e;
    struct emu_mem m;
    emu_rc rc;

    /* With a memory operand XCHG is a locked read-modify-write. */
    rc = opnd_read(c, d, O_E, d->opsize, true, &m, &e);
    if (rc != EMU_OK)
        return rc;
    if (d->mem) {
        rc = emu_mem_write(c, &m, g);
        if (rc != EMU_OK)
            return rc;
    } else {
        opnd_set(c, d, O_E, d->opsize, g);
    }
    opnd_set(c, d, O_G, d->opsize, e);
    return EMU_OK;
}

static emu_rc exec_mov(struct emu_ctx *c, const struct emu_insn *d)
{
    unsigned ssize = d->kind == K_MOV ? d->opsize : d->src_size;
    uint64_t v;
    struct emu_mem m;
    emu_rc rc;

    if (d->dst == O_E && d->mem) {
        /* Store: the source is a register or an immediate. */
        rc = emu_mem_prepare(c, d->seg, d->ea, d->opsize, true, &m);
        if (rc != EMU_OK)
            return rc;
        return emu_mem_write(c, &m, opnd_value(c, d, d->src, d->opsize));
    }
    rc = opnd_read(c, d, d->src, ssize, false, &m, &v);
    if (rc != EMU_OK)
        return rc;
    if (d->kind == K_MOVSX) {
        unsigned sh = 64 - 8 * ssize;
        v = (uint64_t)((int64_t)(v << sh) >> sh);
    }
    opnd_set(c, d, d->dst, d->opsize, v);
    return EMU_OK;
}

/*
 * BT family (SDM Vol. 2A BT): an immediate offset is taken modulo the
 * operand width; a register offset into memory is signed and selects the
 * operand-sized unit at ea + opsize * floor(offset / width).
 */
static emu_rc exec_bt(struct emu_ctx *c, const struct emu_insn *d)
{
    unsigned bits = 8u * d->opsize, sh = d->opsize == 2 ? 4 : d->opsize == 4 ? 5 : 6;
    bool writes = d->alu_op != 0;
    uint64_t off, ea = d->ea, v, bit;
    struct emu_mem m;
    emu_rc rc;

    if (d->bt_imm) {
        off = d->imm;
    } else {
        off = emu_reg_read(c, d->reg, d->opsize, d->rex);
        if (d->mem) {
            unsigned s = 64 - bits;
            int64_t soff = (int64_t)(off << s) >> s;
            ea = (ea + (uint64_t)((soff >> sh) * (int64_t)d->opsize)) & emu_size_mask(d->adsize);
        }
    }
    bit = 1ull << (off & (bits - 1));
    if (d->mem) {
        rc = emu_mem_prepare(c, d->seg, ea, d->opsize, writes, &m);
        if (rc == EMU_OK)
            rc = emu_mem_read(c, &m, &v);
        if (rc != EMU_OK)
            return rc;
    } else {
        v = emu_reg_read(c, d->rm, d->opsize, d->rex);
    }
    if (writes) {
        uint64_t nv = d->alu_op == 1 ? (v | bit) : d->alu_op == 2 ? (v & ~bit) : (v ^ bit);
        if (d->mem) {
            rc = emu_mem_write(c, &m, nv);
            if (rc != EMU_OK)
                return rc;
        } else {
            emu_reg_write(c, d->rm, d->opsize, d->rex, nv);
        }
    }
    /* CF = the old bit; ZF unchanged; OF/SF/AF/PF undefined: left unchanged. */
    if (v & bit)
        c->regs->rflags |= HV_EMU_RFLAGS_CF;
    else
        c->regs->rflags &= ~HV_EMU_RFLAGS_CF;
    return EMU_OK;
}

emu_rc emu_exec(struct emu_ctx *c, const struct emu_insn *d)
{
    emu_rc rc;

    switch (d->kind) {
    case K_ALU:
        rc = exec_alu(c, d);
        break;
    case K_XCHG:
        rc = exec_xchg(c, d);
        break;
    case K_MOV:
    case K_MOVZX:
    case K_MOVSX:
        rc = exec_mov(c, d);
        break;
    case K_BT:
        rc = exec_bt(c, d);
        break;
    default:
        return emu_exec_string(c, d);
    }
    if (rc == EMU_OK)
        emu_advance_rip(c, d);
    return rc;
}

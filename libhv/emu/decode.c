/*
 * Instruction fetch and decode for the emulated subset. Encoding rules from
 * the Intel SDM Vol. 2A chapter 2 (prefixes 2.1.1, ModRM/SIB 2.1.5, REX
 * 2.2.1, RIP-relative 2.2.1.6) and the opcode map (Vol. 2D appendix A).
 * Anything outside the subset stops with HV_EMU_UNSUPPORTED before more
 * bytes are fetched.
 */
#include "emu/internal.h"
#include "emu/walk.h"

#include "core/util.h"

#define REX_B 0x1u
#define REX_X 0x2u
#define REX_R 0x4u
#define REX_W 0x8u

/*
 * Make instruction byte @p idx available in c->ibuf: from the prefetched
 * bytes, else by fetching the rest of the page (bounded by the 15-byte
 * limit and CS) as an execute access. A byte past 15 is #GP(0) (SDM Vol. 3A
 * 6.15 "#GP ... instruction length exceeds 15 bytes").
 */
static emu_rc fetch_to(struct emu_ctx *c, unsigned idx)
{
    if (idx >= EMU_MAX_INSN)
        return emu_exception(c, HV_EMU_VEC_GP, true, 0);
    if (c->ilen <= idx && idx < c->pre_len) {
        size_t n = HV_MIN(c->pre_len, (size_t)EMU_MAX_INSN);
        hv_memcpy(c->ibuf + c->ilen, c->pre + c->ilen, n - c->ilen);
        c->ilen = (uint8_t)n;
    }
    while (c->ilen <= idx) {
        const struct hv_emu_seg *cs = &c->regs->seg[HV_EMU_CS];
        uint64_t off = c->regs->rip + c->ilen, la, gpa;
        uint64_t room = EMU_MAX_INSN - c->ilen;
        hv_status_t st;
        emu_rc rc;

        if (c->long64) {
            la = off;
            if (!emu_canonical(c, la))
                return emu_exception(c, HV_EMU_VEC_GP, true, 0);
        } else {
            /* CS limit check on the fetched bytes (SDM Vol. 3A 5.3). */
            off &= 0xffffffffu;
            if (off > cs->limit)
                return emu_exception(c, HV_EMU_VEC_GP, true, 0);
            room = HV_MIN(room, (uint64_t)cs->limit - off + 1);
            la = (cs->base + off) & 0xffffffffu;
        }
        room = HV_MIN(room, EMU_PAGE - (la & (EMU_PAGE - 1)));
        if (room == 0) /* cannot happen with the checks above; never loop without progress */
            return emu_exception(c, HV_EMU_VEC_GP, true, 0);
        rc = emu_translate(c, la, HV_WALK_EXEC, &gpa);
        if (rc != EMU_OK)
            return rc;
        st = c->ops->gpa_read(c->env->opaque, gpa, c->ibuf + c->ilen, (size_t)room);
        if (st == HV_ERR_GUEST_FAULT) {
            c->res->outcome = HV_EMU_NOT_RAM;
            c->res->gpa = gpa;
            return EMU_STOP;
        }
        if (st != HV_OK) {
            c->status = st;
            return EMU_FAIL;
        }
        c->ilen = (uint8_t)(c->ilen + room);
    }
    return EMU_OK;
}

/* Little-endian field of @p n bytes at *pos, advancing *pos. */
static emu_rc get(struct emu_ctx *c, unsigned *pos, unsigned n, uint64_t *out)
{
    uint64_t v = 0;
    emu_rc rc;

    if (n == 0) {
        *out = 0;
        return EMU_OK;
    }
    rc = fetch_to(c, *pos + n - 1);
    if (rc != EMU_OK)
        return rc;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)c->ibuf[*pos + i] << (8 * i);
    *pos += n;
    *out = v;
    return EMU_OK;
}

static uint64_t sext(uint64_t v, unsigned bytes)
{
    unsigned sh = 64 - 8 * bytes;
    return (uint64_t)((int64_t)(v << sh) >> sh);
}

static emu_rc unsupported(struct emu_ctx *c)
{
    c->res->outcome = HV_EMU_UNSUPPORTED;
    return EMU_STOP;
}

/*
 * Opcodes of the subset that carry a ModRM byte. Two-byte opcodes outside
 * the subset report none, so they stop before their ModRM is fetched.
 */
static bool has_modrm(uint8_t op, bool twobyte)
{
    if (twobyte) /* BT/BTS/BTR/BTC, group 8, MOVZX, MOVSX */
        return op == 0xa3 || op == 0xab || op == 0xb3 || op == 0xbb || op == 0xba ||
               (op & 0xf6) == 0xb6;
    if (op < 0x40)
        return (op & 7) < 4;
    return op == 0x63 || (op >= 0x80 && op <= 0x8b) || op == 0xc6 || op == 0xc7 || op == 0xf6 ||
           op == 0xf7;
}

/*
 * ModRM memory operand (SDM Vol. 2A tables 2-1..2-3). Sets d->ea (without
 * the RIP-relative base, added once the length is known), d->seg's default
 * and *riprel.
 */
static emu_rc decode_modrm_mem(struct emu_ctx *c, struct emu_insn *d, unsigned *pos, uint8_t modrm,
                               unsigned rex, bool *riprel)
{
    static const uint8_t base16[8] = {HV_EMU_RBX, HV_EMU_RBX, HV_EMU_RBP, HV_EMU_RBP,
                                      HV_EMU_RSI, HV_EMU_RDI, HV_EMU_RBP, HV_EMU_RBX};
    const uint64_t *gpr = c->regs->gpr;
    unsigned mod = modrm >> 6, rm = modrm & 7;
    unsigned disp_len = mod == 1 ? 1 : mod == 2 ? (d->adsize == 2 ? 2 : 4) : 0;
    uint64_t ea = 0, disp = 0;
    bool ss = false;
    emu_rc rc;

    *riprel = false;
    if (d->adsize == 2) {
        if (mod == 0 && rm == 6) {
            disp_len = 2; /* disp16, no base */
        } else {
            ea = gpr[base16[rm]];
            if (rm < 4)
                ea += gpr[(rm & 1) ? HV_EMU_RDI : HV_EMU_RSI];
            ss = rm == 2 || rm == 3 || rm == 6;
        }
    } else if (rm == 4) {
        uint64_t sib;
        unsigned base, index;
        rc = get(c, pos, 1, &sib);
        if (rc != EMU_OK)
            return rc;
        base = (unsigned)(sib & 7);
        index = (unsigned)((sib >> 3) & 7) | ((rex & REX_X) ? 8u : 0u);
        if (index != 4)
            ea = gpr[index] << (sib >> 6);
        if (base == 5 && mod == 0) {
            disp_len = 4; /* disp32, no base */
        } else {
            ea += gpr[base | ((rex & REX_B) ? 8u : 0u)];
            /* rSP/rBP bases default to SS (R12/R13 do not: REX.B set). */
            ss = (base == 4 || base == 5) && !(rex & REX_B);
        }
    } else if (rm == 5 && mod == 0) {
        disp_len = 4; /* disp32: RIP-relative in 64-bit mode, else absolute */
        *riprel = c->long64;
    } else {
        ea = gpr[rm | ((rex & REX_B) ? 8u : 0u)];
        ss = rm == 5 && !(rex & REX_B);
    }
    rc = get(c, pos, disp_len, &disp);
    if (rc != EMU_OK)
        return rc;
    if (disp_len != 2)
        disp = sext(disp, disp_len ? disp_len : 8);
    d->ea = (ea + disp) & emu_size_mask(d->adsize);
    if (ss)
        d->seg = HV_EMU_SS;
    return EMU_OK;
}

/* Operand size of a "v" operand (SDM Vol. 1 3.6, Vol. 2A 2.2.1.2). */
static uint8_t v_size(const struct emu_ctx *c, unsigned rex, bool opsz_prefix)
{
    unsigned def = c->long64 ? 4u : c->cs_size;
    if (c->long64 && (rex & REX_W))
        return 8;
    if (opsz_prefix)
        def = def == 2 ? 4u : 2u;
    return (uint8_t)def;
}

/*
 * Classify the opcode (SDM Vol. 2D A.3 one- and two-byte opcode maps).
 * @p reg is the ModRM reg field (valid when has_modrm). Returns the
 * immediate size code: 0 none, 1 Ib, 2 Iz, 3 moffs; -1 unsupported.
 * *lockable: LOCK is legal with a memory destination (SDM Vol. 2A LOCK);
 * *xrelease: F2/F3 act as HLE hints (ignored) rather than being reserved.
 */
static int classify(const struct emu_ctx *c, struct emu_insn *d, uint8_t op, bool twobyte,
                    unsigned reg, bool *byte, bool *lockable, bool *xhint)
{
    *byte = false;
    *lockable = false;
    *xhint = false;
    if (twobyte) {
        switch (op) {
        case 0xa3: /* BT Ev,Gv */
        case 0xab: /* BTS */
        case 0xb3: /* BTR */
        case 0xbb: /* BTC */
            d->kind = K_BT;
            d->alu_op = (op >> 3) & 3;
            d->dst = O_E;
            d->src = O_G;
            *lockable = *xhint = d->alu_op != 0;
            return 0;
        case 0xba: /* Group 8: BT/BTS/BTR/BTC Ev,Ib; /0-/3 reserved */
            if (reg < 4)
                return -1;
            d->kind = K_BT;
            d->alu_op = (uint8_t)(reg - 4);
            d->bt_imm = true;
            d->dst = O_E;
            d->src = O_IMM;
            *lockable = *xhint = d->alu_op != 0;
            return 1;
        case 0xb6: /* MOVZX Gv,Eb */
        case 0xb7: /* MOVZX Gv,Ew */
        case 0xbe: /* MOVSX Gv,Eb */
        case 0xbf: /* MOVSX Gv,Ew */
            d->kind = (op & 8) ? K_MOVSX : K_MOVZX;
            d->src_size = (op & 1) ? 2 : 1;
            d->dst = O_G;
            d->src = O_E;
            return 0;
        default:
            return -1;
        }
    }
    if (op < 0x40 && (op & 7) < 6) { /* ADD OR ADC SBB AND SUB XOR CMP */
        d->kind = K_ALU;
        d->alu_op = op >> 3;
        *byte = !(op & 1);
        switch (op & 7) {
        case 0:
        case 1:
            d->dst = O_E;
            d->src = O_G;
            *lockable = *xhint = d->alu_op != ALU_CMP;
            return 0;
        case 2:
        case 3:
            d->dst = O_G;
            d->src = O_E;
            return 0;
        default:
            d->dst = O_ACC;
            d->src = O_IMM;
            return (op & 1) ? 2 : 1;
        }
    }
    switch (op) {
    case 0x63: /* MOVSXD Gv,Ed (ARPL outside 64-bit mode) */
        if (!c->long64)
            return -1;
        d->kind = K_MOVSX;
        d->src_size = 4;
        d->dst = O_G;
        d->src = O_E;
        return 0;
    case 0x82: /* alias of 0x80, #UD in 64-bit mode */
        if (c->long64)
            return -2;
        /* fall through */
    case 0x80:
    case 0x81:
    case 0x83:
        d->kind = K_ALU;
        d->alu_op = (uint8_t)reg;
        d->dst = O_E;
        d->src = O_IMM;
        *byte = op != 0x81 && op != 0x83;
        *lockable = *xhint = reg != ALU_CMP;
        return op == 0x81 ? 2 : 1;
    case 0x84:
    case 0x85:
        d->kind = K_ALU;
        d->alu_op = ALU_TEST;
        *byte = op == 0x84;
        d->dst = O_E;
        d->src = O_G;
        return 0;
    case 0x86:
    case 0x87:
        d->kind = K_XCHG;
        *byte = op == 0x86;
        d->dst = O_E;
        d->src = O_G;
        *lockable = *xhint = true;
        return 0;
    case 0x88:
    case 0x89:
    case 0x8a:
    case 0x8b:
        d->kind = K_MOV;
        *byte = !(op & 1);
        d->dst = (op & 2) ? O_G : O_E;
        d->src = (op & 2) ? O_E : O_G;
        *xhint = !(op & 2);
        return 0;
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3:
        d->kind = K_MOV;
        *byte = !(op & 1);
        d->dst = (op & 2) ? O_MOFFS : O_ACC;
        d->src = (op & 2) ? O_ACC : O_MOFFS;
        return 3;
    case 0xa8:
    case 0xa9:
        d->kind = K_ALU;
        d->alu_op = ALU_TEST;
        *byte = op == 0xa8;
        d->dst = O_ACC;
        d->src = O_IMM;
        return op == 0xa8 ? 1 : 2;
    case 0xc6:
    case 0xc7: /* Group 11: only /0 is MOV */
        if (reg != 0)
            return -1;
        d->kind = K_MOV;
        *byte = op == 0xc6;
        d->dst = O_E;
        d->src = O_IMM;
        *xhint = true;
        return op == 0xc6 ? 1 : 2;
    case 0xf6:
    case 0xf7: /* Group 3: only /0 TEST is in the subset */
        if (reg != 0)
            return -1;
        d->kind = K_ALU;
        d->alu_op = ALU_TEST;
        *byte = op == 0xf6;
        d->dst = O_E;
        d->src = O_IMM;
        return op == 0xf6 ? 1 : 2;
    case 0x6c:
    case 0x6d:
        d->kind = K_INS;
        *byte = op == 0x6c;
        return 0;
    case 0x6e:
    case 0x6f:
        d->kind = K_OUTS;
        *byte = op == 0x6e;
        return 0;
    case 0xa4:
    case 0xa5:
        d->kind = K_MOVS;
        *byte = op == 0xa4;
        return 0;
    case 0xaa:
    case 0xab:
        d->kind = K_STOS;
        *byte = op == 0xaa;
        return 0;
    case 0xac:
    case 0xad:
        d->kind = K_LODS;
        *byte = op == 0xac;
        return 0;
    default:
        return -1;
    }
}

emu_rc emu_decode(struct emu_ctx *c, struct emu_insn *d)
{
    unsigned pos = 0, rex = 0, modrm = 0;
    bool opsz = false, adsz = false, twobyte = false, byte, lockable, xhint, riprel = false;
    int seg = -1, imm;
    uint8_t rep = 0;
    uint64_t b;
    emu_rc rc = EMU_OK;

    hv_memset(d, 0, sizeof(*d));
    /* Legacy prefixes in any order; REX counts only right before the opcode. */
    for (;;) {
        rc = get(c, &pos, 1, &b);
        if (rc != EMU_OK)
            return rc;
        if (c->long64 && (b & 0xf0) == 0x40) {
            rex = (unsigned)b;
            continue;
        }
        if (b == 0x66) {
            opsz = true;
        } else if (b == 0x67) {
            adsz = true;
        } else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e) {
            /* Null prefixes in 64-bit mode (SDM Vol. 1 3.3.7.1): not even
               the #SS/#GP choice of an rSP/rBP base changes. */
            if (!c->long64)
                seg = (int)((b >> 3) & 3);
        } else if (b == 0x64 || b == 0x65) {
            seg = (int)(b - 0x64 + HV_EMU_FS);
        } else if (b == 0xf0) {
            d->lock = true;
        } else if (b == 0xf2 || b == 0xf3) {
            rep = (uint8_t)b;
        } else {
            break;
        }
        rex = 0;
    }
    if (b == 0x0f) {
        twobyte = true;
        rc = get(c, &pos, 1, &b);
        if (rc != EMU_OK)
            return rc;
    }
    if (has_modrm((uint8_t)b, twobyte)) {
        uint64_t m;
        rc = get(c, &pos, 1, &m);
        if (rc != EMU_OK)
            return rc;
        modrm = (unsigned)m;
    }

    d->rex = rex != 0;
    d->adsize = c->long64 ? (adsz ? 4 : 8) : (uint8_t)(adsz ? 6 - c->cs_size : c->cs_size);
    d->seg = seg >= 0 ? (uint8_t)seg : HV_EMU_DS;
    imm = classify(c, d, (uint8_t)b, twobyte, (modrm >> 3) & 7, &byte, &lockable, &xhint);
    if (imm == -1)
        return unsupported(c);
    if (imm == -2)
        return emu_exception(c, HV_EMU_VEC_UD, false, 0);
    d->opsize = byte ? 1 : v_size(c, rex, opsz);
    if (d->kind == K_INS || d->kind == K_OUTS)
        d->opsize = (uint8_t)HV_MIN(d->opsize, 4u);
    if (d->kind == K_MOVSX && d->src_size == 4 && d->opsize != 8) {
        /* MOVSXD without REX.W is a plain move of the operand size. */
        d->kind = K_MOV;
    }
    d->reg = (uint8_t)(((modrm >> 3) & 7) | ((rex & REX_R) ? 8u : 0u));

    if (has_modrm((uint8_t)b, twobyte)) {
        if ((modrm >> 6) == 3) {
            d->rm = (uint8_t)((modrm & 7) | ((rex & REX_B) ? 8u : 0u));
        } else {
            d->mem = true;
            rc = decode_modrm_mem(c, d, &pos, (uint8_t)modrm, rex, &riprel);
            if (rc != EMU_OK)
                return rc;
            if (seg >= 0)
                d->seg = (uint8_t)seg; /* an override beats the SS default */
        }
    }

    if (imm == 3) {
        /* moffs: an offset of the address size (SDM Vol. 2B MOV, "moffs"). */
        rc = get(c, &pos, d->adsize, &d->ea);
        d->mem = true;
        if (d->dst == O_MOFFS)
            d->dst = O_E;
        else
            d->src = O_E;
    } else if (imm == 2) {
        rc = get(c, &pos, d->opsize == 2 ? 2 : 4, &d->imm);
        d->imm = sext(d->imm, d->opsize == 2 ? 2 : 4);
    } else if (imm == 1) {
        rc = get(c, &pos, 1, &d->imm);
        d->imm = sext(d->imm, 1);
    }
    if (rc != EMU_OK)
        return rc;
    d->len = (uint8_t)pos;
    if (riprel)
        d->ea = (c->regs->rip + pos + d->ea) & emu_size_mask(d->adsize);

    /* String instructions: F3 is REP; F2 (REPNE) is not defined for them. */
    if (d->kind >= K_MOVS) {
        if (rep == 0xf2)
            return unsupported(c);
        d->rep = rep;
    } else if (rep && !(xhint && d->mem &&
                        (d->lock || d->kind == K_XCHG || (d->kind == K_MOV && rep == 0xf3)))) {
        /* F2/F3 are only XACQUIRE/XRELEASE hints here; elsewhere reserved. */
        return unsupported(c);
    }
    /* LOCK needs a lockable instruction with a memory destination (SDM Vol. 2A LOCK). */
    if (d->lock && !(lockable && d->mem))
        return emu_exception(c, HV_EMU_VEC_UD, false, 0);
    return EMU_OK;
}
